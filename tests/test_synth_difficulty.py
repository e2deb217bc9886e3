"""Harder and imbalanced synthetic corpora (issue 16): defaults unchanged, class counts as asked,
emotion strength controls how learnable the labels are, and a forced-degenerate SVM run is flagged."""
import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from helpers.truth import hand_uar
from s3prl_crosscorpus.commands import synth as synth_command
from s3prl_crosscorpus.core.audio import load_audio
from s3prl_crosscorpus.core.corpora import read_emodb, read_iemocap
from s3prl_crosscorpus.core.labels import LABELS
from s3prl_crosscorpus.demo.synth import Difficulty, Voice, rng_for, synth_utterance, synthesize

#: sha256 over every file of a default synthetic tree (sorted relative path, then for a .wav its sample
#: rate and int16 samples, else its bytes), made once before the difficulty options existed, at commit
#: 657048c, with ``synthesize(out, per_class=P, seed=0, corpora=(corpus,))`` and :func:`tree_digest`.
DEFAULT_DIGESTS = {
    ("emodb", 2): "57407f5dcc75438f705db20f515b0812cb2b8a9dd55d23bf6da4dee4552c3956",
    ("ravdess", 1): "42a7f7282aef71a7ae121a7625898e8bc48c50679c85de6826cc604acbfe8c7b",
    ("iemocap", 2): "a1a2906fabbcc7390bd65afb46c892df613be3c723423fa1f9dbea605f9b14a3",
}

CHANCE = 0.25


def tree_digest(root: Path) -> str:
    """sha256 over the tree's relative paths, the audio samples of its wavs and the bytes of other files."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        if path.suffix == ".wav":
            data, rate = sf.read(str(path), dtype="int16")
            digest.update(str(rate).encode())
            digest.update(data.tobytes())
        else:
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize("corpus, per_class", sorted(DEFAULT_DIGESTS))
def test_default_corpora_are_unchanged(corpus, per_class, tmp_path):
    roots = synthesize(tmp_path / "default", per_class=per_class, seed=0, corpora=(corpus,))
    assert tree_digest(roots[corpus]) == DEFAULT_DIGESTS[(corpus, per_class)]
    if corpus != "ravdess":  # explicit neutral settings are the default too (RAVDESS: slow, covered above)
        explicit = synthesize(tmp_path / "explicit", per_class=1, seed=0, corpora=(corpus,), emotion_strength=1.0,
                              prosody_noise=1.0, class_counts={label: per_class for label in LABELS})
        assert tree_digest(explicit[corpus]) == DEFAULT_DIGESTS[(corpus, per_class)]


def test_class_counts_give_the_requested_counts_per_speaker(tmp_path):
    """Counted by the corpus readers; labels without a count keep ``per_class``; EmoDB goes above 4."""
    wanted = {"neu": 6, "hap": 3, "ang": 1}  # sad: per_class = 2
    roots = synthesize(tmp_path, per_class=2, seed=0, corpora=("emodb", "iemocap"), class_counts=wanted)
    for read in (read_emodb(roots["emodb"]), read_iemocap(roots["iemocap"])):
        counts = Counter((u.speaker, u.label) for u in read.utterances)
        speakers = {u.speaker for u in read.utterances}
        assert len(speakers) == 10, read.corpus
        for speaker in speakers:
            assert {label: counts[(speaker, label)] for label in LABELS} == {**wanted, "sad": 2}, (read.corpus, speaker)


@pytest.mark.parametrize("counts, corpora, message", [
    ({"neu": 5}, ("emodb", "ravdess"), "neu=5 is above the ravdess limit of 4"),
    ({"hap": 9}, ("ravdess",), "hap=9 is above the ravdess limit of 8"),
    ({"sad": 61}, ("emodb",), "sad=61 is above the emodb limit of 60"),
    ({"fear": 2}, ("emodb",), "unknown label ['fear']"),
    ({"ang": 0}, ("emodb",), "ang=0 must be a whole number >= 1"),
])
def test_impossible_class_counts_are_refused_before_writing(counts, corpora, message, tmp_path):
    with pytest.raises(ValueError) as err:
        synthesize(tmp_path / "out", corpora=corpora, class_counts=counts)
    assert message in str(err.value)
    assert not (tmp_path / "out").exists()


def test_cli_passes_the_options_and_names_bad_text(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(synth_command, "synthesize", lambda *args, **kwargs: calls.append((args, kwargs)) or {})
    assert synth_command.main(["--out", str(tmp_path), "--class-counts", "neu=4,hap=2,ang=1,sad=1",
                               "--emotion-strength", "0.3", "--prosody-noise", "2"]) == 0
    assert calls[0][1] == {"class_counts": {"neu": 4, "hap": 2, "ang": 1, "sad": 1},
                           "emotion_strength": 0.3, "prosody_noise": 2.0}
    for bad, named in (("neu=4,hap=x", "'hap=x'"), ("neu4", "'neu4'"), ("neu=1,neu=2", "'neu' given twice")):
        with pytest.raises(SystemExit) as exit_info:
            synth_command.main(["--out", str(tmp_path), "--class-counts", bad])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert "--class-counts" in err and named in err, (bad, err)
    monkeypatch.undo()  # the real synthesize: its checks reach the parser before anything is written
    for option, value, named in (("--emotion-strength", "1.5", "emotion_strength must be in [0, 1]"),
                                 ("--prosody-noise", "-1", "prosody_noise must be in [0, 4]"),
                                 ("--class-counts", "neu=5", "neu=5 is above the ravdess limit of 4")):
        with pytest.raises(SystemExit) as exit_info:
            synth_command.main(["--out", str(tmp_path / "cli"), option, value])
        assert exit_info.value.code == 2 and named in capsys.readouterr().err
    assert not (tmp_path / "cli").exists()


def simple_features(audio: np.ndarray, rate: int = 16000) -> list:
    """log RMS, mean zero-crossing rate and spectral centroid of the loud frames, duration."""
    frames = audio[: len(audio) // 400 * 400].reshape(-1, 400)
    frame_rms = np.sqrt((frames ** 2).mean(axis=1))
    loud = frames[frame_rms > 0.3 * frame_rms.max()]
    spectrum = np.abs(np.fft.rfft(loud * np.hanning(400), axis=1))
    centroid = (spectrum * np.fft.rfftfreq(400, 1 / rate)).sum(axis=1) / (spectrum.sum(axis=1) + 1e-12)
    zcr = (np.diff(np.sign(loud), axis=1) != 0).mean(axis=1)
    return [np.log(np.sqrt((audio ** 2).mean()) + 1e-9), zcr.mean(), centroid.mean(), len(audio) / rate]


def grouped_cv_uar(root: Path) -> float:
    """UAR of StandardScaler + logistic regression on :func:`simple_features`, 5 speaker-grouped folds."""
    utts = read_emodb(root).utterances
    X = np.array([simple_features(load_audio(u.path)) for u in utts])
    y = np.array([u.label for u in utts])
    predicted = cross_val_predict(make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), X, y,
                                  groups=[u.speaker for u in utts], cv=GroupKFold(5))
    return hand_uar(y, predicted)


def test_emotion_strength_controls_how_learnable_the_labels_are(tmp_path):
    """0: chance (160 utterances: 0.10 is ~3 standard errors); 1: far above; 0.3: in between."""
    found = {strength: grouped_cv_uar(synthesize(tmp_path / str(strength), per_class=4, seed=0, corpora=("emodb",),
                                                 emotion_strength=strength)["emodb"])
             for strength in (0.0, 0.3, 1.0)}
    assert found[0.0] < CHANCE + 0.10, found
    assert found[1.0] > 0.7, found
    assert CHANCE + 0.10 < found[0.3] < found[1.0] - 0.2, found


def test_prosody_noise_widens_the_spread_of_loudness():
    voice = Voice(f0=120.0, gain=1.0)
    spread = {noise: np.std([np.log(np.sqrt(np.mean(
        synth_utterance("neu", voice, 16000, rng_for(k, "noise"), Difficulty(prosody_noise=noise)) ** 2)))
        for k in range(30)]) for noise in (0.5, 2.0)}
    assert spread[2.0] > 2 * spread[0.5], spread


@pytest.mark.e2e
def test_forced_degenerate_svm_run_is_flagged_in_results_and_leaderboard(tmp_path, capsys):
    """EmoDB at emotion strength 0 (labels carry no information) vs the same run at strength 1."""
    from baseline_svm.run import RunConfig, run
    from helpers.results import load_results
    from s3prl_crosscorpus.commands.leaderboard import main as leaderboard
    from s3prl_crosscorpus.core.manifest import prepare

    tables = {}
    for strength in (0.0, 1.0):
        work = tmp_path / f"strength{strength}"
        prepare(synthesize(work / "corpora", per_class=4, seed=0, corpora=("emodb",), emotion_strength=strength),
                work / "data", progress=False)
        run(RunConfig(data_dir=work / "data", out=work / "results", feature_set="eGeMAPSv02", condition="matched",
                      test_corpus="emodb", folds=(1, 2), corpora=("emodb",), grid="coarse", n_jobs=1,
                      cache_dir=work / "cache", save_models=False))
        results = load_results(work / "results")
        assert sorted(r["fold"] for r in results) == [1, 2]
        capsys.readouterr()
        assert leaderboard([str(work / "results")]) == 0
        tables[strength] = (results, capsys.readouterr().out)
    flagged, text = tables[0.0]
    for result in flagged:
        assert any(w.startswith("degenerate training") for w in result["warnings"]), result.get("warnings")
    row = next(line for line in text.splitlines() if line.startswith("| eGeMAPS-SVM"))
    assert " ! " in row
    notes = [line for line in text.splitlines() if line.startswith("! ") and "degenerate training" in line]
    for fold in (1, 2):  # the single-place form, or one message naming both folds
        assert any(line.startswith(f"! eGeMAPS-SVM matched emodb fold {fold}: degenerate training")
                   or line.endswith(" — eGeMAPS-SVM matched emodb folds 1-2") for line in notes), notes
    clean, text = tables[1.0]
    for result in clean:
        assert not result.get("warnings") and result["metrics"]["uar"] > CHANCE + 0.4, result["metrics"]
    assert "!" not in text and "degenerate" not in text
