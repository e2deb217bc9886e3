"""recipes/run.sh end to end on synthetic corpora at reduced size, then again: nothing is recomputed."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from helpers.truth import hand_uar
from s3prl_crosscorpus.submission.validate import validate_bundle


ROOT = Path(__file__).resolve().parent.parent
#: 1 utterance per speaker and class, eGeMAPS + coarse grid, the linear head for 8 steps, DNN extended only (5 runs).
REDUCED = ["--synth-per-class", "1", "--steps", "8", "--heads", "linear", "--matched-corpora", "", "--nj", "2"]


def run_study(out: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.run(["bash", str(ROOT / "recipes" / "run.sh"), "--out", str(out), *REDUCED],
                          env=env, capture_output=True, text=True, timeout=1800)


def outputs(out: Path):
    """mtime of every result, cache shard and model: what a re-run must not touch."""
    files = [p for sub in ("results", "cache", "exp") for p in (out / sub).rglob("*") if p.is_file()]
    return {p: p.stat().st_mtime_ns for p in files if p.suffix in (".json", ".npy", ".ckpt", ".skops")}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    first = run_study(out)
    assert first.returncode == 0, first.stderr[-4000:]
    return out, first


@pytest.mark.e2e
def test_every_stage_runs_and_the_bundle_validates(study):
    out, first = study
    table = json.loads((out / "leaderboard.json").read_text())
    assert set(table["rows"]) == {"eGeMAPS-SVM", "TinyRandomHuBERT-Linear"}
    dnn = {(c["condition"], c["test_corpus"]) for c in table["cells"] if c["system"] == "TinyRandomHuBERT-Linear"}
    assert dnn == {("extended", "emodb"), ("extended", "ravdess"), ("extended", "iemocap")}
    assert all(c["complete"] for c in table["cells"])
    assert "eGeMAPS-SVM" in (out / "leaderboard.md").read_text() and (out / "plots").is_dir()
    page = (out / "report.html").read_text()  # stage 4's report: offline page holding the verdicts
    assert "eGeMAPS-SVM: extended − matched on RAVDESS: " in page and "https://" not in page
    check = validate_bundle(out / "bundle.zip", data_dir=out / "data")
    assert check.ok, check.problems
    assert "=== stage 5" in first.stderr and (out / "folds.txt").read_text().strip()
    assert len(list((out / "logs" / "stage3").glob("job.*.log"))) == 5  # one extended run per fold


@pytest.mark.e2e
def test_statistics_pool_the_stored_predictions_and_compare_the_conditions(study):
    out, _ = study
    stats = json.loads((out / "leaderboard.json").read_text())["statistics"]
    pooled = {}
    for path in (out / "results").rglob("fold*.json"):
        result = json.loads(path.read_text())
        key = (result["system"], result["condition"], result["test_corpus"])
        pooled.setdefault(key, []).extend((p["label"], p["prediction"]) for p in result["predictions"])
    cells = {(c["system"], c["condition"], c["test_corpus"]): c for c in stats["cells"] if c["available"]}
    assert set(cells) == set(pooled)
    for key, pairs in pooled.items():
        assert cells[key]["uar"] == pytest.approx(100 * hand_uar(*zip(*pairs)), abs=1e-9), key
        assert cells[key]["n_utterances"] == len(pairs) and cells[key]["ci"][0] <= cells[key]["uar"] <= cells[key]["ci"][1]
    svm = [c for c in stats["comparisons"] if c["a"]["system"] == "eGeMAPS-SVM" and c["available"]]
    assert {c["test_corpus"] for c in svm} == {"emodb", "ravdess", "iemocap"}  # extended - matched, per corpus
    for comparison in svm:
        b, a = (cells[(s["system"], s["condition"], comparison["test_corpus"])] for s in (comparison["b"], comparison["a"]))
        assert comparison["diff"] == pytest.approx(b["uar"] - a["uar"], abs=1e-9)
        assert 0 < comparison["p"] <= comparison["p_holm"] <= 1
    assert "Paired differences (UAR points), B − A" in (out / "leaderboard.md").read_text()


@pytest.mark.e2e
def test_second_run_recomputes_nothing(study):
    out, _ = study
    before = outputs(out)
    again = run_study(out)
    assert again.returncode == 0, again.stderr[-4000:]
    for stage in ("svm", "extract", "dnn"):
        assert f"{stage}: " in again.stdout and "0 to run" in again.stdout.split(f"{stage}: ", 1)[1].splitlines()[0]
    assert "leaderboard newer than every result: kept" in again.stderr
    assert "bundle newer than every result: kept" in again.stderr
    assert outputs(out) == before
