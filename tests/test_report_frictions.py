"""Newcomer frictions of issue 24: Holm's family printed (6), each finished study job's UAR and grid-edge warnings
(1), the condition chart's marks and labels (3), provenance in results and bundles."""
import json
from types import SimpleNamespace

import numpy as np
import pytest

from helpers.resultgen import write_results
from s3prl_crosscorpus.commands import compare, leaderboard
from s3prl_crosscorpus.core.folds import fold_file_sha256
from s3prl_crosscorpus.core.io_utils import read_json, write_json
from s3prl_crosscorpus.results import plots
from s3prl_crosscorpus.results.cells import load_cells
from s3prl_crosscorpus.results.finished import job_lines
from s3prl_crosscorpus.results.leaderboard import summary
from s3prl_crosscorpus.results.provenance import provenance, torch_cuda
from s3prl_crosscorpus.results.schema import validate_result
from s3prl_crosscorpus.results.significance import table_statistics
from s3prl_crosscorpus.results.stats import StatsConfig
from s3prl_crosscorpus.study.launch import Job, launch


@pytest.fixture(scope="module")
def results(tmp_path_factory, utterances):
    out = tmp_path_factory.mktemp("friction_results")
    write_results(out, utterances, systems=("ComParE-SVM", "HuBERT-Linear"), conditions=("matched", "extended"),
                  corpora=("emodb", "iemocap"))
    return out


def test_leaderboard_and_compare_name_the_holm_family(results, capsys):
    assert leaderboard.main([str(results), "--stats", "--resamples", "200"]) == 0
    table_text = capsys.readouterr().out
    line = next(l for l in table_text.splitlines() if l.startswith("Holm family"))
    assert line.startswith("Holm family (4 comparison(s)")
    for part in ("ComParE-SVM: extended − matched on EmoDB", "HuBERT-Linear: extended − matched on IEMOCAP"):
        assert part in line
    compare.main([str(results), "HuBERT-Linear/matched", "HuBERT-Linear/extended", "--corpus", "iemocap",
                  "--resamples", "200"])
    one = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("Holm family"))
    assert one.startswith("Holm family (1 comparison(s)") and one.endswith(
        "HuBERT-Linear: extended − matched on IEMOCAP.")


def test_finished_job_lines_give_each_cells_uar_and_its_warnings(results, tmp_path):
    paths = sorted((results / "ComParE-SVM" / "matched" / "emodb").glob("fold*.json"))
    copy = tmp_path / "fold1.json"
    write_json(copy, {**read_json(paths[0]), "warnings": ["chosen gamma on the edge of the coarse grid"]})
    expected = 100 * np.mean([read_json(p)["metrics"]["uar"] for p in paths])
    line, = job_lines("job", 0, [str(p) for p in paths])
    assert line == f"done ComParE-SVM matched -> emodb: UAR {expected:.2f}% (mean of 5 folds)"
    marked, = job_lines("job", 0, [str(copy)])
    assert marked.endswith("(fold 1) ! chosen gamma on the edge of the coarse grid")
    assert job_lines("job", 3, [str(copy)]) == ["failed job (exit 3); its log says why"]


def test_finished_transfer_cells_name_their_training_row(results, tmp_path):
    """Two transfer rows tested on one corpus are two lines, each named by its row (from-<pool>)."""
    base = read_json(sorted((results / "ComParE-SVM" / "matched" / "emodb").glob("fold*.json"))[0])
    rows = {"a.json": ["ravdess"], "b.json": ["ravdess", "iemocap"]}
    for name, train in rows.items():
        write_json(tmp_path / name, {**base, "condition": "transfer", "train_corpora": train})
    lines = job_lines("job", 0, [str(tmp_path / n) for n in rows])
    assert [l.split(":")[0] for l in lines] == ["done ComParE-SVM from-ravdess -> emodb",
                                                 "done ComParE-SVM from-ravdess+iemocap -> emodb"]


def test_launch_reports_each_finished_job_with_its_outputs(tmp_path):
    seen = []
    jobs = [Job("a", "true", ("x.json",)), Job("b", "exit 4")]
    report = launch(jobs, tmp_path / "logs", on_done=lambda job, code: seen.append((job.name, job.outputs, code)))
    assert sorted(seen) == [("a", ("x.json",), 0), ("b", (), 4)] and not report.ok


def test_svm_results_carry_a_grid_edge_warning():
    from baseline_svm.run import grid_edge_warnings

    fake = SimpleNamespace(on_edge=lambda: ["gamma"], best_params_={"C": 4.0, "gamma": 2.0 ** -15})
    warning, = grid_edge_warnings(fake, SimpleNamespace(grid="coarse"))
    assert warning.startswith("chosen gamma on the edge of the coarse grid (gamma=3.05176e-05)")
    assert grid_edge_warnings(SimpleNamespace(on_edge=lambda: []), SimpleNamespace(grid="coarse")) == []


def chart(results, mutate=None, stats=True):
    cells, sha = load_cells(results)
    table = summary(cells, sha, table_statistics(cells, StatsConfig(resamples=100)) if stats else None)
    if mutate:
        mutate(table)
    return plots.comparison_figure(table), table


def test_chart_footnote_names_only_the_marks_it_draws(results):
    fig, _ = chart(results)
    note = fig.get_supxlabel()
    assert "hatched" not in note and "×" not in note and "!" not in note and "dotted: chance level" in note
    assert "pooled UAR, 95% speaker CI" in fig.axes[0].get_ylabel()
    assert "speaker CI" not in chart(results, stats=False)[0].axes[0].get_ylabel()


def test_chart_marks_warned_and_missing_cells_and_does_not_clip_at_100(results):
    def mutate(table):
        table["cells"][0]["warnings"] = {"2": ["degenerate training"]}
        table["cells"][0]["metrics"]["uar"].update(mean=97.0, std=9.0)
        table["cells"].pop()  # the last cell: no result

    fig, table = chart(results, mutate, stats=False)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "!" in texts and "×" in texts
    assert fig.axes[0].get_ylim()[1] >= 106.0
    note = fig.get_supxlabel()
    assert "!: a result of the cell carries a warning" in note and "×: no result" in note


def test_chart_tick_labels_of_long_names_are_wrapped():
    assert plots.wrap_name("TinyRandomHuBERT-Linear[aug=speed+noise-x2]") == \
        "TinyRandomHuBERT-\nLinear\n[aug=speed+\nnoise-x2]"
    assert plots.wrap_name("ComParE-SVM") == "ComParE-SVM"


def test_results_and_bundles_record_provenance(results):
    result = read_json(next(results.rglob("fold1.json")))
    record = result["provenance"]
    assert record["package_version"] and record["python"] and "cpu" in record and "command" in record
    assert set(record["libraries"]) >= {"torch", "s3prl", "transformers", "scikit-learn", "opensmile"}
    old = {k: v for k, v in result.items() if k != "provenance"}
    validate_result(old)  # results made before provenance was recorded stay valid
    assert provenance(["s3prl-crosscorpus", "report", "a b"])["command"] == "s3prl-crosscorpus report 'a b'"
    assert provenance(["/x/s3prl_crosscorpus/__main__.py", "submit"])["command"] == "s3prl-crosscorpus submit"


def test_torch_cuda_is_read_without_importing_torch(monkeypatch, tmp_path):
    import sys

    package = tmp_path / "torch"
    package.mkdir()
    (package / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    (package / "version.py").write_text("__version__ = '2.5.0+cu121'\ncuda: Optional[str] = '12.1'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert torch_cuda() == "12.1"


def test_bundle_records_provenance_and_validate_shows_it(results, tmp_path, capsys):
    from s3prl_crosscorpus.commands import validate
    from s3prl_crosscorpus.submission.bundle import build_bundle

    meta = build_bundle(results, tmp_path / "bundle.zip", plots=False, config=StatsConfig(resamples=100))
    assert meta["provenance"]["package_version"] and "command" in meta["provenance"]
    assert validate.main([str(tmp_path / "bundle.zip")]) == 0
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("provenance: ")]
    assert lines[0].startswith("provenance: packed by: package: s3prl-crosscorpus")
    n_results = len(list(results.rglob("fold*.json")))
    assert any(l.startswith(f"provenance: results: {n_results} made by s3prl-crosscorpus") for l in lines)


def test_git_commit_only_of_the_packages_own_checkout(tmp_path):
    import subprocess

    from s3prl_crosscorpus.results.provenance import PACKAGE_ROOT, git_commit

    outer = tmp_path / "project"
    package = outer / "venv" / "site-packages" / "s3prl_crosscorpus"
    package.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(outer)], check=True)
    subprocess.run(["git", "-C", str(outer), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
                    "--allow-empty", "-m", "x"], check=True)
    assert git_commit(package) is None  # a virtualenv inside someone else's repository
    mine = git_commit(PACKAGE_ROOT)
    assert mine is None or len(mine.split("+")[0]) == 40
