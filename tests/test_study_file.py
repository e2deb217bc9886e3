"""The study file: every key checked with one line naming file and key; run.sh's settings; the bundle's record."""
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from s3prl_crosscorpus.commands.study_file import main as study_file
from s3prl_crosscorpus.core.folds import transfer_rows
from s3prl_crosscorpus.core.studyfile import StudyError, cell_problems, expected_cells, load_study
from s3prl_crosscorpus.submission.bundle import BundleError, build_bundle
from s3prl_crosscorpus.submission.validate import validate_bundle
from helpers.resultgen import write_transfer
from test_transfer import POOL

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "recipes" / "study.yaml"
BASE = """corpora:
  emodb: synthetic
  ravdess: synthetic
  iemocap: synthetic
conditions: [matched, transfer]
systems:
  svm: {feature_sets: [GeMAPSv01b], grid: coarse}
"""


def study_at(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return path


def test_the_example_study_loads_with_its_matrix_rows():
    study = load_study(EXAMPLE, grids=["libsvm", "coarse"])
    assert study.synthetic and study.pool == POOL
    assert study.rows == transfer_rows(POOL)
    assert study.svm == {"feature_sets": ["GeMAPSv01b"], "grid": "coarse"}


@pytest.mark.parametrize("extra, key, problem", [
    ("pools: [emodb]\n", "pools", "unknown key"),
    ("systems:\n  svm: {grdi: coarse}\n", "systems.svm.grdi", "unknown key"),
    ("folds: [1, 6]\n", "folds", "distinct folds"),
    ("folds: 3\n", "folds", "must be a list"),
    ("transfer: {rows: [emodb+cremad]}\n", "transfer.rows[0]", "'cremad' is not one of"),
    ("statistics: {resamples: many}\n", "statistics.resamples", "whole number"),
    ("pool: [emodb, emodb]\n", "pool", "twice"),
])
def test_a_bad_key_is_one_error_naming_the_file_and_the_key(tmp_path, extra, key, problem):
    text = BASE.replace("systems:\n  svm: {feature_sets: [GeMAPSv01b], grid: coarse}\n", "") \
        if extra.startswith("systems") else BASE
    path = study_at(tmp_path, text + extra)
    with pytest.raises(StudyError) as err:
        load_study(path)
    message = str(err.value)
    assert message.startswith(f"{path}: {key}: ") and problem in message and "\n" not in message


@pytest.mark.parametrize("text, key", [
    (BASE.replace("conditions: [matched, transfer]", "conditions: [matched, crosswise]"), "conditions"),
    (BASE.replace("  iemocap: synthetic", "  iemocap: /data/IEMOCAP"), "corpora.emodb"),  # mixed
    (BASE.replace("conditions: [matched, transfer]", "conditions: [matched]") + "transfer: {rows: [emodb]}\n",
     "transfer"),
    (BASE.replace("corpora:", "corpora:\n  Bad-Name: synthetic"), "corpora.Bad-Name"),
    ("corpora: {emodb: synthetic}\nconditions: [matched]\n", "systems"),
])
def test_inconsistent_studies_name_the_key(tmp_path, text, key):
    path = study_at(tmp_path, text)
    with pytest.raises(StudyError, match=f"^{path}: {key}: "):
        load_study(path)


def test_a_key_given_twice_and_bad_yaml_name_the_line(tmp_path):
    with pytest.raises(StudyError, match=r"study.yaml: line 8: .*key .conditions. is given twice"):
        load_study(study_at(tmp_path, BASE + "conditions: [matched]\n"))
    with pytest.raises(StudyError, match=r"line \d+: not valid YAML"):
        load_study(study_at(tmp_path, BASE + "folds: [1, 2\n"))


def test_relative_paths_are_under_the_study_file_and_sources_are_kept(tmp_path):
    path = study_at(tmp_path, BASE.replace("  emodb: synthetic\n  ravdess: synthetic\n  iemocap: synthetic\n",
                                           "  emodb: corpora/EmoDB\n  mine: {csv: mine.csv}\n"))
    study = load_study(path)
    assert [(c.name, c.source, c.path) for c in study.corpora] == [
        ("emodb", "root", tmp_path / "corpora" / "EmoDB"), ("mine", "csv", tmp_path / "mine.csv")]


def nul_words(capsys) -> list:
    return capsys.readouterr().out.split("\0")[:-1]


def test_settings_are_run_sh_options_and_a_repeated_flag_is_refused(capsys):
    assert study_file(["settings", str(EXAMPLE), "--", "--stage", "4", "--nj=2"]) == 0
    words = nul_words(capsys)
    settings = dict(zip(words[::2], words[1::2]))
    assert settings["--conditions"] == "matched transfer" and settings["--systems"] == "svm"
    assert settings["--train-pools"] == ""  # the default rows: run.sh makes them, knowing test-only corpora
    assert settings["--feature-sets"] == "GeMAPSv01b" and settings["--stats-resamples"] == "1000"
    assert study_file(["settings", str(EXAMPLE), "--", "--feature-sets=eGeMAPSv02"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {EXAMPLE}: systems.svm.feature_sets: ") and "\n" not in err


def test_prepare_args_name_other_corpora_by_their_source(tmp_path, capsys):
    path = study_at(tmp_path, BASE.replace("  emodb: synthetic\n  ravdess: synthetic\n  iemocap: synthetic\n",
                                           "  emodb: /e\n  cremad: /c\n  mine: {audformat: db}\n"))
    assert study_file(["prepare-args", str(path)]) == 0
    assert nul_words(capsys) == ["--cremad", "/c", "--audformat", f"mine={tmp_path / 'db'}"]


def test_expected_cells_of_a_transfer_study_name_every_matrix_entry():
    cells = expected_cells(load_study(EXAMPLE))["svm"]
    assert ("from-emodb", "ravdess") in cells and ("matched", "emodb") in cells and ("extended", "iemocap") in cells
    assert len(cells) == 3 * 4  # 4 rows x 3 columns, the diagonal matched and the pool row extended


def test_cell_problems_name_missing_and_unasked_cells():
    study = load_study(EXAMPLE)
    found = [("GeMAPS-SVM", "svm", k, c) for k, c in expected_cells(study)["svm"] if k != "from-iemocap"]
    found.append(("GeMAPS-SVM", "svm", "loco", "emodb"))
    problems = cell_problems(study, found, "study.yaml")
    assert "study.yaml: GeMAPS-SVM from-iemocap emodb is asked for but has no results" in problems
    assert "study.yaml: GeMAPS-SVM loco emodb is not part of the study" in problems


@pytest.fixture(scope="module")
def study_results(utterances, tmp_path_factory):
    results = tmp_path_factory.mktemp("study-results")
    write_transfer(results, utterances, transfer_rows(POOL))
    return results


def test_bundle_records_the_study_and_validate_checks_its_cells(study_results, tmp_path):
    bundle = tmp_path / "bundle.zip"
    build_bundle(study_results, bundle, plots=False, study=EXAMPLE)
    assert validate_bundle(bundle).ok
    with zipfile.ZipFile(bundle) as zf:
        assert zf.read("study.yaml") == EXAMPLE.read_bytes()
        members = {name: zf.read(name) for name in zf.namelist()}
    # The same results claimed for a study that asks for loco too: refused by submit, rejected by validate.
    other = study_at(tmp_path, EXAMPLE.read_text().replace("conditions: [matched, transfer]",
                                                           "conditions: [matched, loco, transfer]"))
    with pytest.raises(BundleError, match="loco emodb is asked for but has no results"):
        build_bundle(study_results, tmp_path / "other.zip", plots=False, study=other)
    meta = json.loads(members["bundle.json"])
    members["study.yaml"] = other.read_bytes()
    meta["files"]["study.yaml"] = __import__("hashlib").sha256(members["study.yaml"]).hexdigest()
    members["bundle.json"] = json.dumps(meta).encode()
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(tampered, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    problems = validate_bundle(tampered).problems
    assert any("study.yaml (in the bundle): GeMAPS-SVM loco ravdess is asked for" in p for p in problems)


def run_recipe(*args: str, out: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(["bash", str(ROOT / "recipes" / "run.sh"), "--out", str(out), *args], env=env,
                          capture_output=True, text=True, timeout=1800)


def test_run_sh_refuses_a_flag_the_study_sets_in_one_line(tmp_path):
    done = run_recipe("--study", str(EXAMPLE), "--conditions", "matched", out=tmp_path / "out")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {EXAMPLE}: conditions: the study file sets --conditions; change the file or leave --conditions "
        "out (the bundle records the file as the study that ran)"]


@pytest.mark.e2e
def test_run_sh_study_runs_the_svm_transfer_matrix_with_intervals(tmp_path):
    study = study_at(tmp_path, EXAMPLE.read_text().replace("resamples: 1000", "resamples: 200"))
    out = tmp_path / "out"
    done = run_recipe("--study", str(study), "--synth-per-class", "1", out=out)
    assert done.returncode == 0, done.stderr[-3000:]
    board = (out / "leaderboard.md").read_text()
    assert "Transfer matrix of GeMAPS-SVM" in board
    lines = board.splitlines()
    header = next(line for line in lines if line.startswith("| train \\ test"))
    assert [h.strip() for h in header.strip("|").split("|")] == ["train \\ test", "EmoDB", "RAVDESS", "IEMOCAP"]
    for row in ("EmoDB", "RAVDESS", "IEMOCAP", "EmoDB+RAVDESS+IEMOCAP"):
        line = next(x for x in lines if x.startswith(f"| {row} "))
        assert line.count(" ± ") == 3 and line.count("[") == 3, line  # mean ± spread; pooled UAR [interval]
    assert "200 bootstrap resamples" in board  # the study's statistics settings reached the leaderboard
    assert not (out / "exp").exists()  # systems: svm only
    with zipfile.ZipFile(out / "bundle.zip") as zf:
        assert zf.read("study.yaml") == study.read_bytes()
    assert f"wrote {out / 'bundle.zip'} (" in done.stdout and "; validate: OK" in done.stdout  # submit validates


def test_a_fourth_synthetic_corpus_is_one_line_and_reaches_synth_and_the_pool(tmp_path, capsys):
    path = study_at(tmp_path, EXAMPLE.read_text().replace("  # cremad: synthetic", "  cremad: synthetic"))
    assert study_file(["settings", str(path)]) == 0
    words = nul_words(capsys)
    settings = dict(zip(words[::2], words[1::2]))
    assert settings["--synth-registry"] == "cremad" and settings["--corpora"] == "emodb ravdess iemocap cremad"
    study = load_study(path)
    assert ("cremad",) in study.rows and ("from-cremad", "emodb") in expected_cells(study)["svm"]


def test_dnn_cells_follow_matched_corpora_and_dann_rows_need_two_corpora(tmp_path):
    study = load_study(study_at(tmp_path, BASE + "  dnn: {heads: [linear], variants: [plain, dann]}\n"))
    dnn = expected_cells(study)["dnn"]
    assert {("matched", c) for c in POOL} <= dnn  # the transfer diagonal, beyond matched_corpora (iemocap)
    plain = [("HuBERT-Linear", "dnn", k, c) for k, c in dnn]
    dann = [("HuBERT-Linear[dann]", "dnn", k, c) for k, c in dnn if k == "extended"]  # single-corpus rows: none
    svm = [("GeMAPS-SVM", "svm", k, c) for k, c in expected_cells(study)["svm"]]
    assert cell_problems(study, plain + dann + svm, "s") == []
    assert cell_problems(study, plain + svm, "s") == ["s: asks for 2 DNN system(s) (heads x variants), the results "
                                                      "hold 1: HuBERT-Linear"]


def test_a_study_of_some_folds_skips_the_bundle_with_a_note(tmp_path):
    """A bundle needs all five folds: a run of fewer ends stage 5 with a note (exit 0), not a failed submit."""
    done = run_recipe("--folds", "1 3", "--stage", "5", "--stop-stage", "5", out=tmp_path / "out")
    assert done.returncode == 0, done.stderr[-2000:]
    assert ("note: bundle skipped: a submission needs folds 1-5 of every cell, this study runs fold(s) 1 3"
            in done.stderr)
    assert not (tmp_path / "out" / "bundle.zip").exists()
