"""A warning in a cell of several seeds (``run.sh --seeds '1337 7'``) names the seed of the run it came from, in the
leaderboard's notes and in the report's warning lists; a one-seed cell's warning names only the fold."""
import pytest

from helpers.resultgen import write_results
from s3prl_crosscorpus.core.io_utils import read_json, write_json
from s3prl_crosscorpus.report.context import warning_rows, warning_summary
from s3prl_crosscorpus.results.cells import load_cells
from s3prl_crosscorpus.results.leaderboard import render, summary

DEGENERATE = "degenerate training: best dev UAR 0.250 never rose clearly above chance"


def warn(path, message=DEGENERATE):
    write_json(path, {**read_json(path), "warnings": [message]})


@pytest.fixture(scope="module")
def results(tmp_path_factory, utterances):
    """HuBERT-Linear matched iemocap with seeds 1337 and 7 (fold 2 of seed 7 warned); matched emodb with one."""
    out = tmp_path_factory.mktemp("seed_warnings")
    for k, init_seed in enumerate((1337, 7)):
        write_results(out if k == 0 else out / f"seed{init_seed}", utterances, systems=("HuBERT-Linear",),
                      conditions=("matched",), corpora=("iemocap",), seed=0, init_seed=init_seed)
    write_results(out, utterances, systems=("HuBERT-Linear",), conditions=("matched",), corpora=("emodb",))
    warn(out / "seed7" / "HuBERT-Linear" / "matched" / "iemocap" / "fold2.json")
    warn(out / "HuBERT-Linear" / "matched" / "emodb" / "fold3.json")
    return out


def test_the_leaderboard_note_names_the_seed_of_a_several_seed_cell(results):
    cells, sha = load_cells(results)
    notes = [line for line in render(summary(cells, sha), "md", "uar").splitlines() if line.startswith("! ")]
    # the same message at two places: one line naming both (tests/test_warning_groups.py)
    assert notes == [f"! {DEGENERATE} — HuBERT-Linear matched emodb fold 3; "
                     "HuBERT-Linear matched iemocap fold 2 seed 7"]


def test_the_report_warning_lists_name_the_seed(results):
    cells, _ = load_cells(results)
    rows = warning_rows(cells)
    assert [(r["test_corpus"], r["fold"], r["seed"], r["where"]) for r in rows] == [
        ("emodb", 3, None, "fold 3"), ("iemocap", 2, 7, "fold 2 seed 7")]
    assert {g["test_corpus"]: g["folds"] for g in warning_summary(rows)} == {"emodb": [3], "iemocap": ["2 (seed 7)"]}
