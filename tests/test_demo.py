"""The demo at a reduced size, and `predict` on its SVM model and DNN checkpoint."""
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from s3prl_crosscorpus.commands.main import main
from s3prl_crosscorpus.core.labels import LABELS
from s3prl_crosscorpus.results.leaderboard import load_cells
from s3prl_crosscorpus.demo.synth import Voice, rng_for, synth_utterance
from s3prl_crosscorpus.submission.validate import validate_bundle


DEMO_ARGS = ["--utterances-per-class", "1", "--steps", "20"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), *DEMO_ARGS]) == 0
    return out


@pytest.mark.e2e
def test_demo_writes_a_valid_bundle_with_both_systems(demo):
    check = validate_bundle(demo / "bundle.zip", data_dir=demo / "data")
    assert check.ok, check.problems
    cells, _ = load_cells(demo / "results")
    assert {c.system for c in cells} == {"eGeMAPS-SVM", "TinyRandomHuBERT-Linear"}
    assert {(c.condition, c.corpus) for c in cells} == {(k, c) for k in ("matched", "extended")
                                                        for c in ("emodb", "ravdess", "iemocap")}
    assert all(c.complete for c in cells)
    assert (demo / "plots" / "uar_by_condition.png").stat().st_size > 10_000
    assert "eGeMAPS-SVM: extended − matched on EmoDB: " in (demo / "report.html").read_text()  # the demo's report
    # The SVM learns the synthetic prosody: every cell clearly above chance (0.25).
    svm = [c for c in cells if c.system == "eGeMAPS-SVM"]
    assert min(np.mean(list(c.percent("uar").values())) for c in svm) > 50


@pytest.mark.e2e
def test_demo_resumes_without_recomputing(demo, capsys):
    before = {p: p.stat().st_mtime_ns for p in (demo / "results").rglob("fold*.json")}
    assert main(["demo", "--out", str(demo), *DEMO_ARGS]) == 0
    printed = capsys.readouterr().out
    assert "reusing" in printed and "20 fold runs already done" in printed
    assert {p: p.stat().st_mtime_ns for p in (demo / "results").rglob("fold*.json")} == before


@pytest.fixture(scope="module")
def audio_files(tmp_path_factory):
    """One angry utterance written as 16 kHz mono, 22.05 kHz mono and 48 kHz stereo."""
    folder = tmp_path_factory.mktemp("new_audio")
    from scipy.signal import resample_poly

    base = synth_utterance("ang", Voice(f0=120.0, gain=1.0), 48000, rng_for("predict"))
    sf.write(str(folder / "a_48k_stereo.wav"), np.stack([base, base], axis=1), 48000)
    sf.write(str(folder / "b_16k.wav"), resample_poly(base, 1, 3).astype(np.float32), 16000)
    sf.write(str(folder / "c_22k.wav"), resample_poly(base, 147, 320).astype(np.float32), 22050)
    return folder


@pytest.mark.e2e
@pytest.mark.parametrize("model", ["results/eGeMAPS-SVM/matched/emodb/fold1.model.skops",
                                   "exp/matched-emodb/fold1/dev-best.ckpt"])
def test_predict_is_consistent_across_rates_and_channels(demo, audio_files, model, capsys):
    assert main(["predict", "--model", str(demo / model), str(audio_files), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [Path(r["path"]).name for r in rows] == ["a_48k_stereo.wav", "b_16k.wav", "c_22k.wav"]
    probs = np.array([[r[c] for c in LABELS] for r in rows])
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-3)
    assert len({r["label"] for r in rows}) == 1  # same audio, same answer at any rate or channel count
    assert np.abs(probs - probs[1]).max() < 0.1


@pytest.mark.e2e
@pytest.mark.parametrize("system,model", [
    ("eGeMAPS-SVM", "results/eGeMAPS-SVM/matched/emodb/fold1.model.skops"),
    ("TinyRandomHuBERT-Linear", "exp/matched-emodb/fold1/dev-best.ckpt")])
def test_predict_reproduces_the_stored_test_predictions(demo, system, model, capsys):
    """The label and every probability column of `predict` equal what the evaluation stored for those files."""
    from s3prl_crosscorpus.core.manifest import load_manifest

    stored = json.loads((demo / "results" / system / "matched" / "emodb" / "fold1.json").read_text())["predictions"]
    paths = {u.id: u.path for u in load_manifest(demo / "data")}
    rows = stored[:4]
    assert main(["predict", "--model", str(demo / model), *[paths[r["id"]] for r in rows], "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [r["path"] for r in found] == [paths[r["id"]] for r in rows]
    assert [r["label"] for r in found] == [r["prediction"] for r in rows]
    np.testing.assert_allclose([[r[c] for c in LABELS] for r in found], [r["probabilities"] for r in rows],
                               atol=1e-4)


@pytest.mark.e2e
def test_predict_formats_and_bad_input(demo, audio_files, tmp_path, capsys):
    model = str(demo / "results/eGeMAPS-SVM/matched/emodb/fold1.model.skops")
    out = tmp_path / "p.csv"
    assert main(["predict", "--model", model, str(audio_files / "b_16k.wav"), "--format", "csv", "-o", str(out)]) == 0
    header, row = out.read_text().splitlines()
    assert header == "path,label,neu,hap,ang,sad" and row.split(",")[1] in LABELS
    assert main(["predict", "--model", model, str(tmp_path / "missing.wav")]) == 2
    assert "missing.wav: no such file" in capsys.readouterr().err
    (tmp_path / "broken.wav").write_bytes(b"not audio")
    sf.write(str(tmp_path / "short.wav"), np.full(100, 0.01, dtype=np.float32), 16000)  # shorter than HuBERT's convs
    ckpt = str(demo / "exp/matched-emodb/fold1/dev-best.ckpt")
    assert main(["predict", "--model", ckpt, str(tmp_path / "short.wav"), str(audio_files / "b_16k.wav")]) == 1
    captured = capsys.readouterr()
    assert "short.wav" in captured.err and "ERROR" in captured.out
    assert main(["predict", "--model", model, str(tmp_path / "broken.wav"), str(audio_files / "b_16k.wav")]) == 1
    captured = capsys.readouterr()
    assert "broken.wav" in captured.err and "ERROR" in captured.out
