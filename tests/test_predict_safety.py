"""Issue 20: model files that load without running code (skops), old pickles only on request; long files."""
import json
import pickle
import tracemalloc
from pathlib import Path

import joblib
import numpy as np
import pytest
import soundfile as sf

from baseline_svm.cli import main as svm_main
from baseline_svm.model import TRUSTED_TYPES, ModelError, labels_and_probabilities, load_model
from s3prl_crosscorpus.commands.main import main
from s3prl_crosscorpus.commands import predict as predict_command
from s3prl_crosscorpus.core.labels import LABELS
from s3prl_crosscorpus.demo.synth import Voice, rng_for, synth_utterance
from helpers.predict import fitted_estimator, write_model
from helpers.svm import functionals_like


class Marker:
    """Unpickling this runs ``Path(path).touch()``: what a crafted model file could do instead."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


@pytest.fixture(scope="module")
def wavs(tmp_path_factory):
    """Three short 16 kHz utterances."""
    folder = tmp_path_factory.mktemp("wavs")
    for k, emotion in enumerate(("ang", "sad", "hap")):
        sf.write(str(folder / f"u{k}.wav"), synth_utterance(emotion, Voice(150.0 + 30 * k, 1.0), 16000,
                                                            rng_for("safety", k)), 16000)
    return folder


def rows_of(capsys) -> list:
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("dump", [pickle.dump, joblib.dump])
def test_crafted_pickle_model_is_refused_without_running_it(tmp_path, wavs, capsys, dump):
    marker = tmp_path / "ran"
    model = tmp_path / "fold1.model.joblib"
    with open(model, "wb") as handle:
        dump({"format": ["baseline-svm-model", 2], "estimator": Marker(str(marker))}, handle)
    assert main(["predict", "--model", str(model), str(wavs)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {model} is a pickle file, which can run code when loaded; re-save it")
    assert "--trust-pickle if you made it" in err and len(err.splitlines()) == 1
    assert not marker.exists()
    # The same bytes under a skops name are still not unpickled.
    model.rename(tmp_path / "fold1.model.skops")
    with pytest.raises(ModelError, match="neither a skops file nor a pickle|is a pickle file"):
        load_model(tmp_path / "fold1.model.skops")
    assert not marker.exists()


def test_skops_file_refuses_types_outside_the_trusted_list(tmp_path):
    import skops.io as sio

    path = tmp_path / "fold1.model.skops"
    sio.dump({"format": ["baseline-svm-model", 2], "estimator": Marker(str(tmp_path / "ran"))}, path)
    with pytest.raises(ModelError, match="trusted"):
        load_model(path)
    assert not (tmp_path / "ran").exists()


def test_skops_model_round_trips_to_identical_probabilities(tmp_path, wavs, capsys):
    import skops.io as sio

    estimator = fitted_estimator(seed=3)
    path = write_model(tmp_path / "fold1.model.skops", seed=3)
    assert set(sio.get_untrusted_types(file=path)) <= set(TRUSTED_TYPES)
    loaded = load_model(path)["estimator"]
    X, _ = functionals_like(40, 62, seed=9, signal=1.5)
    assert np.ptp(estimator.predict_proba(X), axis=0).max() > 0.3  # rows with different answers
    np.testing.assert_array_equal(loaded.predict_proba(X), estimator.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))


def test_old_joblib_model_predicts_as_before_with_trust_pickle(tmp_path, wavs, capsys):
    """A format-2 joblib file (what baseline-svm run wrote before) still works when the user vouches for it."""
    estimator = fitted_estimator(seed=4)
    old = tmp_path / "fold1.model.joblib"
    joblib.dump({"feature_set": "GeMAPSv01b", "labels": list(LABELS), "normalisation": "global",
                 "fold_file_sha256": "0" * 64, "hyperparameters": {}, "format": ["baseline-svm-model", 2],
                 "estimator": estimator}, old, compress=3)
    assert main(["predict", "--model", str(old), str(wavs), "--format", "json", "--trust-pickle"]) == 0
    before = rows_of(capsys)
    from baseline_svm.features import extract

    X = extract([r["path"] for r in before], "GeMAPSv01b", progress=False, n_jobs=1).matrix([r["path"] for r in before])
    labels, proba = labels_and_probabilities(estimator, X)
    assert [r["label"] for r in before] == labels
    np.testing.assert_allclose([[r[c] for c in LABELS] for r in before], np.round(proba, 4), atol=1e-9)
    # resave-model converts it; the skops file gives the same rows without --trust-pickle
    assert svm_main(["resave-model", str(old)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'fold1.model.skops'}"
    assert main(["predict", "--model", str(tmp_path / "fold1.model.skops"), str(wavs), "--format", "json"]) == 0
    assert rows_of(capsys) == before


def test_long_file_is_refused_from_its_header_without_reading_it(tmp_path, wavs, capsys, monkeypatch):
    model = write_model(tmp_path / "fold1.model.skops")
    long = tmp_path / "long.wav"
    with sf.SoundFile(str(long), "w", 16000, 1, subtype="PCM_16") as handle:
        for _ in range(70):  # 70 s written one second at a time
            handle.write(np.zeros(16000, dtype=np.int16))
    read = []
    real_read = sf.read
    monkeypatch.setattr(sf, "read", lambda file, *a, **k: (read.append(str(file)), real_read(file, *a, **k))[1])
    tracemalloc.start()
    code = main(["predict", "--model", str(model), str(long), str(wavs / "u0.wav"), "--format", "json"])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert code == 1
    out = capsys.readouterr()
    assert f"skipped {long}: 70.0 s long, above the 60 s limit of predict" in out.err
    assert "--max-seconds" in out.err
    rows = json.loads(out.out)
    assert rows[0]["label"] is None and rows[1]["label"] in LABELS
    assert str(long) not in read and peak < 4 * 70 * 16000  # never decoded (float32 samples alone: 4.5 MB)
    assert main(["predict", "--model", str(model), str(long), "--max-seconds", "80", "--format", "json"]) == 0
    assert rows_of(capsys)[0]["label"] in LABELS


def test_every_predict_option_has_help():
    parser = predict_command.build_parser()
    assert all(action.help for action in parser._actions)
