"""The leaderboard's warning notes in a study with many cells: each distinct message once with every place it
occurs (folds as ranges), a count by kind first when there are many; a message at one place keeps the single-place
line; the JSON summary keeps every warning per fold; the stage output counts a cell's repeated messages."""
import json

import pytest

from helpers.resultgen import write_results
from s3prl_crosscorpus.core.io_utils import read_json, write_json
from s3prl_crosscorpus.report.context import warning_rows
from s3prl_crosscorpus.results.cells import load_cells
from s3prl_crosscorpus.results.finished import job_lines
from s3prl_crosscorpus.results.leaderboard import render, summary

EDGE = ("chosen C and gamma on the edge of the coarse grid (C=0.03125, gamma=3.05176e-05): "
        "the best value may lie outside it")
OTHER_EDGE = "chosen C on the edge of the coarse grid (C=32): the best value may lie outside it"
DEGENERATE = "degenerate training: the chosen checkpoint predicts only 'neu' on dev"
#: (system, condition, corpus, fold) -> its warnings
WARNED = {("ComParE-SVM", "matched", "emodb", fold): [EDGE] for fold in (1, 2, 3, 5)}
WARNED.update({("ComParE-SVM", "matched", "ravdess", fold): [EDGE] for fold in (3, 5)})
WARNED[("ComParE-SVM", "extended", "emodb", 4)] = [OTHER_EDGE]
WARNED.update({("HuBERT-Linear", "matched", "iemocap", fold): [DEGENERATE] for fold in (2, 4)})


@pytest.fixture(scope="module")
def results(tmp_path_factory, utterances):
    """Both systems, matched and extended, every corpus; the warnings of :data:`WARNED` written into their folds."""
    out = tmp_path_factory.mktemp("warning_groups")
    write_results(out, utterances)
    for (system, condition, corpus, fold), messages in WARNED.items():
        path = out / system / condition / corpus / f"fold{fold}.json"
        write_json(path, {**read_json(path), "warnings": messages})
    return out


def notes(results):
    cells, sha = load_cells(results)
    text = render(summary(cells, sha), "md", "uar")
    return [line for line in text.splitlines() if line.startswith(("! ", "Warnings:"))]


def test_a_repeated_message_is_one_line_naming_each_place_with_fold_ranges(results):
    assert notes(results) == [
        "Warnings: 9 in 4 cell(s): 7 grid edge, 2 degenerate training; each below with its places",
        f"! {EDGE} — ComParE-SVM matched emodb folds 1-3, 5; ComParE-SVM matched ravdess folds 3, 5",
        f"! ComParE-SVM extended emodb fold 4: {OTHER_EDGE}",
        f"! {DEGENERATE} — HuBERT-Linear matched iemocap folds 2, 4",
    ]
    cells, sha = load_cells(results)  # only the rendering groups: the JSON keeps every warning per fold
    table = json.loads(render(summary(cells, sha), "json", "uar"))
    by_cell = {(c["system"], c["condition"], c["test_corpus"]): c["warnings"] for c in table["cells"]}
    assert by_cell[("ComParE-SVM", "matched", "emodb")] == {str(f): [EDGE] for f in (1, 2, 3, 5)}
    assert by_cell[("HuBERT-Linear", "matched", "iemocap")] == {"2": [DEGENERATE], "4": [DEGENERATE]}


def test_a_several_seed_cell_groups_per_seed(tmp_path, utterances):
    for k, init_seed in enumerate((1337, 7)):
        write_results(tmp_path if k == 0 else tmp_path / f"seed{init_seed}", utterances, systems=("HuBERT-Linear",),
                      conditions=("matched",), corpora=("emodb",), seed=0, init_seed=init_seed)
    for fold in (1, 2, 3):
        path = tmp_path / "seed7" / "HuBERT-Linear" / "matched" / "emodb" / f"fold{fold}.json"
        write_json(path, {**read_json(path), "warnings": [DEGENERATE]})
    path = tmp_path / "HuBERT-Linear" / "matched" / "emodb" / "fold5.json"
    write_json(path, {**read_json(path), "warnings": [OTHER_EDGE]})
    assert notes(tmp_path) == [  # the count by kind from 4 warnings on; one place keeps the single-place line
        "Warnings: 4 in 1 cell(s): 1 grid edge, 3 degenerate training; each below with its places",
        f"! {DEGENERATE} — HuBERT-Linear matched emodb folds 1-3 seed 7",
        f"! HuBERT-Linear matched emodb fold 5 seed 1337: {OTHER_EDGE}"]


def test_the_report_classifies_warnings_as_the_leaderboard_does(results):
    cells, _ = load_cells(results)
    kinds = {row["message"]: row["kind"] for row in warning_rows(cells)}
    assert kinds == {EDGE: "grid edge", OTHER_EDGE: "grid edge", DEGENERATE: "degenerate training"}


def test_the_stage_output_gives_each_distinct_message_once_with_its_count(results, tmp_path):
    paths = []
    for source in sorted((results / "ComParE-SVM" / "matched" / "emodb").glob("fold*.json")):
        paths.append(tmp_path / source.name)
        write_json(paths[-1], read_json(source))
    write_json(paths[3], {**read_json(paths[3]), "warnings": [OTHER_EDGE]})  # fold 4
    line, = job_lines("job", 0, [str(p) for p in paths])
    assert line.endswith(f" ! {EDGE} (4 folds); {OTHER_EDGE}"), line


def test_a_bundle_shows_grouped_warnings_and_one_made_before_the_grouping_still_validates(results, tmp_path):
    from helpers.bundles import members_of, repack
    from s3prl_crosscorpus.submission.bundle import build_bundle
    from s3prl_crosscorpus.submission.format import SUMMARY_MD, summary_markdown
    from s3prl_crosscorpus.submission.validate import validate_bundle

    path = tmp_path / "bundle.zip"
    build_bundle(results, path, plots=False)
    assert validate_bundle(path).ok
    text = members_of(path)[SUMMARY_MD].decode()
    assert f"! {DEGENERATE} — HuBERT-Linear matched iemocap folds 2, 4" in text
    old = repack(path, tmp_path, lambda m, meta: m.update(
        {SUMMARY_MD: summary_markdown(meta["summary"], grouped_warnings=False).encode()}))
    old_text = members_of(old)[SUMMARY_MD].decode()
    assert f"! HuBERT-Linear matched iemocap fold 4: {DEGENERATE}" in old_text and old_text != text
    assert validate_bundle(old).ok, validate_bundle(old).problems
    dropped = repack(path, tmp_path, lambda m, meta: m.update(  # negative control: a warning line left out
        {SUMMARY_MD: m[SUMMARY_MD].replace(f"! ComParE-SVM extended emodb fold 4: {OTHER_EDGE}\n".encode(), b"")}))
    assert not validate_bundle(dropped).ok
