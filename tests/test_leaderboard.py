"""Leaderboard aggregation against hand-computed tables, marking of incomplete cells, refusal of mixed fold files."""
import csv
import io
import json
import math
import shutil

import numpy as np
import pytest

from helpers.resultgen import write_results
from s3prl_crosscorpus.commands import leaderboard
from s3prl_crosscorpus.core.folds import fold_file_sha256
from s3prl_crosscorpus.core.io_utils import read_json, write_json
from s3prl_crosscorpus.results.leaderboard import (LeaderboardError, collect_cells, load_cells, render_csv,
                                           render_markdown, summary)
from s3prl_crosscorpus.results.paper import paper_uar

SHA = fold_file_sha256()


def fake(system, condition, corpus, fold, uar, wa=None, family="dnn", sha=SHA, cm=None):
    """The fields aggregation reads, with chosen metric values."""
    cm = cm if cm is not None else [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    return {"system": system, "family": family, "condition": condition, "test_corpus": corpus, "fold": fold,
            "fold_file_sha256": sha, "metrics": {"uar": uar, "wa": uar if wa is None else wa,
                                                 "macro_f1": uar / 2, "confusion_matrix": cm}}


def table_of(results):
    return summary(collect_cells(results), SHA)


def only_cell(table):
    (cell,) = table["cells"]
    return cell


def test_complete_cell_mean_sample_std_paper_and_difference():
    # UARs 60, 62, 64, 66, 68 %: mean 64, deviations -4 -2 0 2 4 -> sample variance 40 / 4 = 10.
    results = [fake("HuBERT-Linear", "matched", "iemocap", k, 0.58 + 0.02 * k) for k in range(1, 6)]
    cell = only_cell(table_of(results))
    assert cell["complete"] and cell["folds"] == [1, 2, 3, 4, 5]
    assert cell["metrics"]["uar"]["mean"] == pytest.approx(64.0)
    assert cell["metrics"]["uar"]["std"] == pytest.approx(math.sqrt(10))
    assert cell["metrics"]["macro_f1"]["mean"] == pytest.approx(32.0)
    assert cell["paper_uar"] == 65.60
    assert cell["diff_uar"] == pytest.approx(-1.60)
    md = render_markdown(table_of(results))
    assert "64.00 ± 3.16 [65.60, -1.60]" in md
    assert "sample standard deviation" in md and "ddof=1" in md


def test_cell_with_three_folds_is_marked_and_not_compared_with_the_paper():
    results = [fake("ComParE-SVM", "matched", "emodb", k, u, family="svm") for k, u in ((1, 0.5), (2, 0.6), (4, 0.7))]
    table = table_of(results)
    cell = only_cell(table)
    assert not cell["complete"]
    assert cell["missing_folds"] == [3, 5]
    assert cell["diff_uar"] is None
    assert cell["metrics"]["uar"]["mean"] == pytest.approx(60.0)  # over the 3 folds present, and said so
    md = render_markdown(table)
    assert "60.00 ± 10.00* (3/5 folds) [82.50]" in md
    assert "ComParE-SVM matched emodb misses fold(s) 3, 5" in md
    row = next(csv.DictReader(io.StringIO(render_csv(table))))
    assert (row["n_folds"], row["complete"], row["missing_folds"], row["fold3"]) == ("3", "False", "3 5", "")
    assert row["diff_uar"] == "" and row["paper_uar"] == "82.5"


def test_single_fold_has_no_spread():
    cell = only_cell(table_of([fake("X-DNN", "loco", "ravdess", 2, 0.5)]))
    assert cell["metrics"]["uar"]["std"] is None
    assert "50.00 ± n/a* (1/5 folds)" in render_markdown(table_of([fake("X-DNN", "loco", "ravdess", 2, 0.5)]))


def test_rows_paper_order_then_unknown_svms_then_others_and_columns_in_corpus_order():
    results = [fake(system, condition, corpus, 1, 0.5, family=family)
               for system, family in (("Zeta-DNN", "dnn"), ("HuBERT-Linear", "dnn"), ("My-SVM", "svm"),
                                      ("ComParE-SVM", "svm"), ("GeMAPS-SVM", "svm"), ("Alpha-DNN", "dnn"))
               for condition, corpus in (("extended", "iemocap"), ("matched", "emodb"))]
    table = table_of(results)
    assert table["rows"] == ["GeMAPS-SVM", "ComParE-SVM", "HuBERT-Linear", "My-SVM", "Alpha-DNN", "Zeta-DNN"]
    # Both conditions of every corpus with results; no loco column when nobody ran loco; no RAVDESS.
    assert [(c["corpus"], c["condition"]) for c in table["columns"]] == [
        ("emodb", "matched"), ("emodb", "extended"), ("iemocap", "matched"), ("iemocap", "extended")]
    header = render_markdown(table).splitlines()[2]
    assert [h.strip() for h in header.strip("|").split("|")] == [
        "System", "EmoDB matched", "EmoDB extended", "IEMOCAP matched", "IEMOCAP extended"]
    loco = table_of(results + [fake("Alpha-DNN", "loco", "emodb", 1, 0.5)])
    assert ("emodb", "loco") in [(c["corpus"], c["condition"]) for c in loco["columns"]]
    assert ("iemocap", "loco") not in [(c["corpus"], c["condition"]) for c in loco["columns"]]
    assert "–" in render_markdown(loco)  # cells nobody ran are shown empty, not dropped


def test_confusion_is_summed_over_folds():
    cms = [np.arange(16).reshape(4, 4) * k for k in (1, 2)]
    (cell,) = collect_cells([fake("S", "matched", "emodb", k + 1, 0.5, cm=cm.tolist()) for k, cm in enumerate(cms)])
    assert cell.confusion().tolist() == (cms[0] + cms[1]).tolist()


def test_paper_numbers_match_the_protocol_table():
    assert paper_uar("ComParE-SVM", "extended", "ravdess") == 67.81
    assert paper_uar("HuBERT-CNNSelfAtt", "extended", "iemocap") == 67.58
    assert paper_uar("GeMAPS-SVM", "matched", "emodb") == 78.21
    assert paper_uar("HuBERT-Linear", "matched", "emodb") is None  # the paper reports the DNNs on IEMOCAP only
    assert paper_uar("ComParE-SVM", "loco", "emodb") is None


@pytest.fixture(scope="module")
def perfect_then_neutral(tmp_path_factory, utterances):
    """Folds 1-4 predicted perfectly (UAR 100), fold 5 all 'neu' (UAR 25): mean 85, sample std sqrt(1125)."""
    out = tmp_path_factory.mktemp("lb_results")
    write_results(out, utterances, systems=("HuBERT-Linear",), conditions=("matched",), corpora=("iemocap",),
                  predictor=lambda system, fold, labels, rng: list(labels) if fold < 5 else ["neu"] * len(labels))
    return out


def test_leaderboard_command_on_result_files(perfect_then_neutral, capsys):
    assert leaderboard.main([str(perfect_then_neutral)]) == 0
    md = capsys.readouterr().out
    assert f"85.00 ± {math.sqrt(1125):.2f} [65.60, +19.40]" in md
    assert leaderboard.main([str(perfect_then_neutral), "--format", "json"]) == 0
    (cell,) = json.loads(capsys.readouterr().out)["cells"]
    assert cell["metrics"]["uar"]["per_fold"] == {"1": 100.0, "2": 100.0, "3": 100.0, "4": 100.0, "5": 25.0}
    # The synthetic IEMOCAP test sets are balanced, so WA of the all-'neu' fold is 25 % too.
    assert cell["metrics"]["wa"]["per_fold"]["5"] == pytest.approx(25.0)
    assert leaderboard.main([str(perfect_then_neutral), "--format", "csv", "--metric", "wa"]) == 0
    row = next(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert (row["metric"], float(row["mean"]), row["paper_uar"]) == ("wa", 85.0, "")


def copy_results(src, tmp_path):
    dst = tmp_path / "results"
    shutil.copytree(src, dst)
    return dst


def test_results_from_different_fold_files_are_refused(perfect_then_neutral, tmp_path, capsys):
    results = copy_results(perfect_then_neutral, tmp_path)
    other = results / "HuBERT-Linear" / "matched" / "iemocap" / "fold2.json"
    write_json(other, dict(read_json(other), fold_file_sha256="0" * 64))
    with pytest.raises(LeaderboardError) as err:
        load_cells(results)
    message = str(err.value)
    assert "2 different fold files" in message and "fold2.json" in message and "fold1.json" in message
    assert leaderboard.main([str(results)]) == 2
    assert "cannot be compared" in capsys.readouterr().err


def test_two_files_for_the_same_fold_are_refused(perfect_then_neutral, tmp_path):
    results = copy_results(perfect_then_neutral, tmp_path)
    shutil.copy(results / "HuBERT-Linear" / "matched" / "iemocap" / "fold3.json", results / "fold3.json")
    with pytest.raises(LeaderboardError, match="both HuBERT-Linear matched iemocap fold 3"):
        load_cells(results)


def test_results_from_another_fold_file_than_the_installed_one_are_shown_with_a_warning(
        perfect_then_neutral, tmp_path, capsys):
    results = copy_results(perfect_then_neutral, tmp_path)
    for path in results.rglob("fold*.json"):
        write_json(path, dict(read_json(path), fold_file_sha256="1" * 64))
    assert leaderboard.main([str(results), "-o", str(tmp_path / "table.md")]) == 0
    assert "not the installed" in capsys.readouterr().err
    assert "Fold file sha256 " + "1" * 64 in (tmp_path / "table.md").read_text()


def test_an_invalid_result_file_is_named(perfect_then_neutral, tmp_path, capsys):
    results = copy_results(perfect_then_neutral, tmp_path)
    (results / "HuBERT-Linear" / "matched" / "iemocap" / "fold4.json").write_text("{not json")
    assert leaderboard.main([str(results)]) == 2
    assert "fold4.json: not valid JSON" in capsys.readouterr().err


def test_a_seed_missing_folds_is_named_per_seed(tmp_path, utterances):
    """Seed 0 has every fold, seed 1 only folds 1-3: the cell is incomplete, and it is seed 1 that misses 4 and 5."""
    write_results(tmp_path / "seed0", utterances, systems=["HuBERT-Linear"], conditions=["matched"],
                  corpora=["iemocap"], seed=0)
    write_results(tmp_path / "seed1", utterances, systems=["HuBERT-Linear"], conditions=["matched"],
                  corpora=["iemocap"], folds=[1, 2, 3], seed=1)
    table = summary(*load_cells(tmp_path))
    (cell,) = table["cells"]
    assert cell["seed_missing_folds"] == {"0": [], "1": [4, 5]} and not cell["complete"]
    assert "HuBERT-Linear matched iemocap seed 1 misses fold(s) 4, 5." in render_markdown(table)
