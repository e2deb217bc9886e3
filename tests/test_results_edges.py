"""Results at the edges: one paper-pool rule everywhere, pools named, hand-edited results, compare A A."""
import csv
import io
import json

import numpy as np
import pytest

from helpers.resultgen import write_results
from s3prl_crosscorpus.commands import compare, leaderboard
from s3prl_crosscorpus.results import plots
from s3prl_crosscorpus.results.cells import load_cells
from s3prl_crosscorpus.results.leaderboard import render_csv, render_markdown, summary
from s3prl_crosscorpus.results.paper import comparable, paper_figure, pool_label
from s3prl_crosscorpus.results.significance import render_comparison, table_statistics
from s3prl_crosscorpus.results.stats import StatsConfig

QUICK = StatsConfig(resamples=200)


def two_pool(results_dir, utterances):
    """ComParE-SVM on IEMOCAP: matched, and extended trained on EmoDB+IEMOCAP only (not the paper's pool)."""
    write_results(results_dir, utterances, systems=["ComParE-SVM"], conditions=["matched"], corpora=["iemocap"])
    for path in write_results(results_dir, utterances, systems=["ComParE-SVM"], conditions=["extended"],
                              corpora=["iemocap"]):
        path.write_text(json.dumps(dict(json.loads(path.read_text()), train_corpora=["emodb", "iemocap"])))
    return results_dir


def test_the_pool_rule():
    assert comparable("extended", "iemocap", ["emodb", "ravdess", "iemocap"])
    assert comparable("matched", "emodb", ["emodb"]) and comparable("matched", "emodb", None)
    assert not comparable("extended", "iemocap", ["emodb", "iemocap"])
    assert not comparable("loco", "iemocap", ["emodb", "ravdess"])
    assert paper_figure("ComParE-SVM", "extended", "iemocap", ["emodb", "iemocap"]) is None
    assert paper_figure("ComParE-SVM", "extended", "iemocap", ["iemocap", "emodb", "ravdess"]) == 63.54
    assert pool_label("extended", ["iemocap", "emodb"]) == "trained on emodb+iemocap"
    assert pool_label("extended", ["emodb", "ravdess", "iemocap"]) is None
    assert pool_label("matched", ["emodb"]) is None


def test_paired_differences_show_no_paper_difference_off_the_pool(tmp_path, utterances):
    cells, sha = load_cells(two_pool(tmp_path, utterances))
    stats = table_statistics(cells, QUICK)
    (comparison,) = stats["comparisons"]
    assert comparison["paper_diff"] is None  # the paper's +0.75 is for its three-corpus pool
    assert comparison["b"]["pool"] == "trained on emodb+iemocap"
    table = summary(cells, sha, stats)
    text = render_markdown(table)
    assert "paper B − A" not in text and "+0.75" not in text
    rows = {r["condition"]: r for r in csv.DictReader(io.StringIO(render_csv(table)))}
    assert rows["extended"]["train_corpora"] == "emodb+iemocap" and rows["extended"]["paper_pool"] == "False"
    assert rows["extended"]["diff_uar"] == "" and rows["matched"]["paper_pool"] == "True"
    assert "extended (trained on emodb+iemocap) − matched" in text


def test_paired_differences_keep_the_paper_difference_on_the_pool(tmp_path, utterances):
    """Negative control: on the paper's pool the paper's B − A is shown."""
    write_results(tmp_path, utterances, systems=["ComParE-SVM"], corpora=["iemocap"])
    cells, sha = load_cells(tmp_path)
    (comparison,) = table_statistics(cells, QUICK)["comparisons"]
    assert comparison["paper_diff"] == pytest.approx(63.54 - 62.79)


def diamonds(fig):
    """x positions of the paper's diamonds in a comparison figure."""
    return [x for ax in fig.axes for line in ax.get_lines() if line.get_marker() == "D"
            for x, y in zip(line.get_xdata(), line.get_ydata()) if not np.isnan(y)]


def test_plot_draws_no_paper_diamond_on_another_pool_and_names_it(tmp_path, utterances):
    cells, sha = load_cells(two_pool(tmp_path, utterances))
    fig = plots.comparison_figure(summary(cells, sha))
    assert len(diamonds(fig)) == 1  # matched only
    notes = " ".join(t.get_text() for t in fig.texts)
    assert "ComParE-SVM extended IEMOCAP: trained on emodb+iemocap" in notes


def test_loco_and_extended_cells_name_their_pool(tmp_path, utterances, capsys):
    write_results(tmp_path, utterances, systems=["HuBERT-Linear"], conditions=["matched", "loco"], corpora=["iemocap"])
    cells, sha = load_cells(tmp_path)
    table = summary(cells, sha)
    loco = next(c for c in table["cells"] if c["condition"] == "loco")
    assert loco["pool_label"] == "trained on emodb+ravdess"
    assert "(trained on emodb+ravdess)" in render_markdown(table)
    assert compare.main([str(tmp_path), "HuBERT-Linear/matched", "HuBERT-Linear/loco", "--resamples", "200"]) == 0
    assert "loco (trained on emodb+ravdess) − matched" in capsys.readouterr().out


# --- hand-edited results: recomputed from the predictions, refused when they differ -------------------------

def hand_edit(path, uar=0.95):
    """As a user would: the stored UAR changed, or a prediction removed, without recomputing."""
    result = json.loads(path.read_text())
    result["metrics"]["uar"] = uar
    path.write_text(json.dumps(result))


@pytest.mark.parametrize("command", ["leaderboard", "plot", "compare", "submit"])
def test_a_hand_edited_metric_is_refused_by_every_reader(tmp_path, utterances, capsys, command):
    from s3prl_crosscorpus.commands import plot, submit

    paths = write_results(tmp_path / "r", utterances, systems=["ComParE-SVM"], corpora=["iemocap"])
    edited = paths[0]
    hand_edit(edited)
    args = {"leaderboard": (leaderboard, []), "plot": (plot, ["--out", str(tmp_path / "p")]),
            "compare": (compare, ["ComParE-SVM/matched", "ComParE-SVM/extended"]),
            "submit": (submit, ["-o", str(tmp_path / "b.zip"), "--no-plots"])}[command]
    assert args[0].main([str(tmp_path / "r"), *args[1]]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {edited}: metrics do not match the predictions") and "uar 0.950000 reported" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "b.zip").exists()


def test_a_removed_prediction_is_refused(tmp_path, utterances):
    from s3prl_crosscorpus.results.schema import ResultError

    (path, *_) = write_results(tmp_path, utterances, systems=["ComParE-SVM"], conditions=["matched"],
                               corpora=["emodb"])
    result = json.loads(path.read_text())
    path.write_text(json.dumps(dict(result, predictions=result["predictions"][1:])))
    with pytest.raises(ResultError, match="sizes.test is .* predictions"):
        load_cells(tmp_path)


def test_unedited_results_still_load(tmp_path, utterances):
    """Negative control: results written by make_result pass the recomputation."""
    write_results(tmp_path, utterances, systems=["ComParE-SVM"], corpora=["emodb"])
    assert len(load_cells(tmp_path)[0]) == 2


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_probabilities_are_refused(tmp_path, utterances, bad):
    from s3prl_crosscorpus.results.schema import ResultError, validate_result

    (path, *_) = write_results(tmp_path, utterances, systems=["ComParE-SVM"], conditions=["matched"],
                               corpora=["emodb"], folds=[1])
    result = json.loads(path.read_text())
    result["predictions"][2]["probabilities"] = [0.25, bad, 0.25, 0.25]
    with pytest.raises(ResultError, match=r"predictions/2/probabilities/1: not a finite number"):
        validate_result(result, str(path))


# --- compare A A, submit leaves no rejected bundle ------------------------------------------------------------

@pytest.mark.parametrize("sides", [["ComParE-SVM", "ComParE-SVM"], ["ComParE-SVM/matched", "ComParE-SVM"],
                                   ["ComParE-SVM/extended", "ComParE-SVM/extended"]])
def test_compare_a_with_itself_is_named(tmp_path, utterances, capsys, sides):
    write_results(tmp_path, utterances, systems=["ComParE-SVM"], corpora=["emodb"])
    assert compare.main([str(tmp_path), *sides]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: A and B are the same") and len(err.strip().splitlines()) == 1


def test_a_rejected_bundle_is_not_left_at_the_out_path(tmp_path, utterances, monkeypatch, capsys):
    from s3prl_crosscorpus.commands import submit
    from s3prl_crosscorpus.submission import bundle

    write_results(tmp_path / "r", utterances, systems=["ComParE-SVM"], conditions=["matched"], corpora=["emodb"])
    out = tmp_path / "b.zip"
    out.write_bytes(b"an older bundle")
    real = bundle.summary_markdown
    # a table row the summary does not hold: the validator sees it (prose notes may be worded otherwise)
    monkeypatch.setattr(bundle, "summary_markdown", lambda table: real(table) + "| planted bug |\n")
    assert submit.main([str(tmp_path / "r"), "-o", str(out), "--no-plots"]) == 1
    assert "was not written to" in capsys.readouterr().err
    assert out.read_bytes() == b"an older bundle"  # kept; the rejected zip is gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.zip", "r"]
    monkeypatch.setattr(bundle, "summary_markdown", real)
    assert submit.main([str(tmp_path / "r"), "-o", str(out), "--no-plots"]) == 0  # negative control
    assert out.read_bytes()[:2] == b"PK"


# --- demo with missing folds, demo on a full disk, extract's exit code ----------------------------------------

def test_demo_report_skips_the_bundle_when_folds_are_missing(tmp_path, utterances, data_dir):
    from s3prl_crosscorpus.demo.run import report

    write_results(tmp_path / "results", utterances, systems=["ComParE-SVM"], corpora=["emodb"], folds=[1])
    done = report(tmp_path / "results", tmp_path, data_dir)
    assert done.bundle is None and "bundle skipped" in done.skipped and "fold(s) 1" in done.skipped
    assert not (tmp_path / "bundle.zip").exists() and done.plots


def fake_demo(monkeypatch, utterances, fail=None):
    """commands.demo with its steps replaced by cheap ones that write results for the requested folds."""
    from s3prl_crosscorpus.commands import demo
    from s3prl_crosscorpus.core import manifest
    from s3prl_crosscorpus.demo import run as demo_run  # the command imports its steps lazily (fast --help)

    def run_svm(data, results, folds, grid, matched=None):
        if fail:
            raise fail
        write_results(results, utterances, systems=["ComParE-SVM"], corpora=["emodb"], folds=folds)

    monkeypatch.setattr(demo_run, "ensure_corpora", lambda out, n, seed, registry=(): ({}, False))
    monkeypatch.setattr(manifest, "prepare", lambda roots, data: None)
    monkeypatch.setattr(manifest, "summary", lambda found: "manifest")
    monkeypatch.setattr(demo_run, "run_svm", run_svm)
    return demo


def test_demo_with_one_fold_ends_with_a_note_not_a_traceback(tmp_path, utterances, monkeypatch, capsys):
    demo = fake_demo(monkeypatch, utterances)
    assert demo.main(["--out", str(tmp_path), "--folds", "1", "--skip-dnn"]) == 0
    out = capsys.readouterr().out
    assert "note: bundle skipped: a submission needs folds 1-5 of every cell" in out


def test_demo_on_a_full_disk_prints_one_line_without_errno(tmp_path, utterances, monkeypatch, capsys):
    import errno
    import os

    victim = tmp_path / "results" / "x.json"
    demo = fake_demo(monkeypatch, utterances, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(victim)))
    assert demo.main(["--out", str(tmp_path), "--skip-dnn"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == f"error: demo stopped: cannot write {victim}: No space left on device"


def test_extract_exits_2_on_bad_input(tmp_path, capsys):
    from s3prl_crosscorpus.commands.extract import main as extract_command

    assert extract_command(["-u", "fbank_no_cmvn", "--data", str(tmp_path / "nowhere"), "--out",
                            str(tmp_path / "cache"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


# --- the SVM's resume check: the manifest's content, not its mtime ---------------------------------------------

def test_svm_results_made_from_another_manifest_are_stale(tmp_path, utterances, data_dir):
    import shutil

    from baseline_svm.run import RunConfig, plan, stale_reason
    from s3prl_crosscorpus.core.manifest import manifest_digest

    data = tmp_path / "data"
    shutil.copytree(data_dir, data, ignore=shutil.ignore_patterns("cache"))
    config = RunConfig(data_dir=data, out=tmp_path / "out", feature_set="ComParE_2016", condition="matched",
                       test_corpus="emodb", folds=(1,), grid="coarse", skip_done=True)
    job = plan(utterances, config)[0]
    (path,) = write_results(tmp_path / "out", utterances, systems=["ComParE-SVM"], conditions=["matched"],
                            corpora=["emodb"], folds=[1])
    result = json.loads(path.read_text())
    result["hyperparameters"].update(grid={"name": "coarse"}, class_weight=None)
    result["config"]["manifest_sha256"] = manifest_digest(data)
    path.write_text(json.dumps(result))
    assert stale_reason(path, config, job) is None  # negative control: the same manifest
    manifest = data / "manifest.jsonl"
    stamp = manifest.stat()
    manifest.write_text(manifest.read_text().replace('"neu"', '"sad"', 1))  # a re-made manifest...
    import os
    os.utime(manifest, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # ...with the old mtime
    assert "re-made since" in stale_reason(path, config, job)


def test_speaker_norm_marks_a_single_utterance_test_speaker():
    """Item checked, already on main: a one-utterance speaker is warned about and the result marked."""
    from baseline_svm.run import small_group_warnings
    from types import SimpleNamespace

    from s3prl_crosscorpus.core.normalise import MIN_GROUP_UTTERANCES

    lone = SimpleNamespace(id="emodb_x", corpus="emodb", speaker="03")
    (warning,) = small_group_warnings(["emodb_x"], {"emodb_x": lone}, {"emodb/03": 1}, "speaker", "test")
    assert "all-zero vector" in warning and f"fewer than {MIN_GROUP_UTTERANCES}" in warning


def test_a_bundle_names_the_pool_and_validates(tmp_path, utterances):
    import zipfile

    from s3prl_crosscorpus.submission.bundle import build_bundle
    from s3prl_crosscorpus.submission.validate import validate_bundle

    meta = build_bundle(two_pool(tmp_path / "r", utterances), tmp_path / "b.zip", plots=False, config=QUICK)
    extended = next(c for c in meta["summary"]["cells"] if c["condition"] == "extended")
    assert extended["pool_label"] == "trained on emodb+iemocap" and extended["diff_uar"] is None
    assert all(c["paper_diff"] is None for c in meta["summary"]["statistics"]["comparisons"])
    with zipfile.ZipFile(tmp_path / "b.zip") as zf:
        assert "trained on emodb+iemocap, not compared" in zf.read("summary.md").decode()
    check = validate_bundle(tmp_path / "b.zip")
    assert check.ok, check.problems
