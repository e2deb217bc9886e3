"""Issue 20: corpus/speaker-normalised models predict per stated speaker group, never per call; small groups marked."""
import json
from pathlib import Path

import numpy as np
import pytest

from baseline_svm.run import RunConfig, run
from s3prl_crosscorpus.commands.main import main
from s3prl_crosscorpus.core.labels import LABELS
from helpers.predict import write_model

ACTORS = ("Actor_01", "Actor_02", "Actor_03")


@pytest.fixture(scope="module")
def speaker_model(tmp_path_factory):
    return write_model(tmp_path_factory.mktemp("model") / "fold1.model.skops", norm="speaker", seed=1)


@pytest.fixture(scope="module")
def actors(synth_roots):
    """actor -> folder of its synthetic RAVDESS files."""
    return {a: synth_roots["ravdess"] / a for a in ACTORS}


def predicted(capsys, *argv) -> dict:
    assert main(["predict", *argv, "--format", "json"]) == 0, capsys.readouterr().err
    return {r["path"]: r for r in json.loads(capsys.readouterr().out)}


def probs(rows: dict, folder: Path) -> np.ndarray:
    return np.array([[r[c] for c in LABELS] for p, r in sorted(rows.items()) if Path(p).parent == folder])


@pytest.mark.parametrize("norm", ["speaker", "corpus"])
def test_transductive_model_without_grouping_is_refused(tmp_path, actors, capsys, norm):
    model = write_model(tmp_path / "fold1.model.skops", norm=norm)
    assert main(["predict", "--model", str(model), str(actors["Actor_01"])]) == 2
    out = capsys.readouterr()
    (line,) = out.err.strip().splitlines()
    assert line.startswith(f"error: {model}: this model z-normalises features per {norm}")
    assert "--speaker-of REGEX|CSV, --speaker-per-folder or --same-speaker" in line
    assert "at least 10 files per speaker" in line and not out.out


def test_prediction_depends_only_on_its_speakers_files(speaker_model, actors, capsys):
    model, a1, a2, a3 = str(speaker_model), *map(str, actors.values())
    regex = ["--speaker-of", r"(Actor_\d+)"]
    with_2 = predicted(capsys, "--model", model, *regex, a1, a2)
    with_3 = predicted(capsys, "--model", model, *regex, a1, a3)
    alone = predicted(capsys, "--model", model, "--speaker-per-folder", a1)
    first = probs(with_2, actors["Actor_01"])
    assert len(first) == len(list(actors["Actor_01"].glob("*.wav"))) > 2 and np.isfinite(first).all()
    np.testing.assert_array_equal(first, probs(with_3, actors["Actor_01"]))
    np.testing.assert_array_equal(first, probs(alone, actors["Actor_01"]))
    assert {r["speaker"] for r in with_2.values()} == {"Actor_01", "Actor_02"}
    # The control: normalising two actors together (what predict did before) changes Actor_01's answers.
    together = predicted(capsys, "--model", model, "--same-speaker", a1, a2)
    assert np.abs(probs(together, actors["Actor_01"]) - first).max() > 0.01


def test_speaker_table_and_bad_groupings(speaker_model, actors, tmp_path, capsys):
    files = sorted(actors["Actor_01"].glob("*.wav"))
    table = tmp_path / "speakers.csv"
    table.write_text("path,speaker\n" + "".join(f"{f},spk{k % 2}\n" for k, f in enumerate(files)))
    rows = predicted(capsys, "--model", str(speaker_model), "--speaker-of", str(table), str(actors["Actor_01"]))
    assert [r["speaker"] for r in rows.values()] == [f"spk{k % 2}" for k in range(len(files))]
    cases = [(["--speaker-of", "Actor_\\d+"], "needs exactly one group"),
             (["--speaker-of", "(Actor_99)"], f"{files[0]}: --speaker-of '(Actor_99)' does not match its path"),
             (["--speaker-of", "(["], "not a regular expression")]
    table.write_text("path,speaker\n" + f"{files[0]},a\n")
    cases.append((["--speaker-of", str(table)], f"{table}: no speaker for {files[1]} and {len(files) - 2} more file(s)"))
    for argv, message in cases:
        assert main(["predict", "--model", str(speaker_model), *argv, str(actors["Actor_01"])]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line.startswith("error: ") and message in line, line


def test_small_and_single_file_groups_are_marked_or_skipped(speaker_model, actors, tmp_path, capsys):
    files = sorted(actors["Actor_01"].glob("*.wav"))
    table = tmp_path / "speakers.csv"
    table.write_text("path,speaker\n" + "".join(f"{f},{'alone' if k == 0 else 'rest'}\n" for k, f in enumerate(files)))
    code = main(["predict", "--model", str(speaker_model), "--speaker-of", str(table), str(actors["Actor_01"]),
                 "--format", "json"])
    out = capsys.readouterr()
    assert code == 1  # one file was not predicted
    rows = json.loads(out.out)
    assert rows[0]["label"] is None and all(r["label"] in LABELS for r in rows[1:])
    assert f"skipped {files[0]}: the only readable file of speaker 'alone'" in out.err and "all-zero" in out.err
    assert all("fewer than the 10 needed" in r["warning"] for r in rows[1:])
    assert out.err.count("WARNING: speaker 'rest' has") == 1 and len(files) - 1 < 10
    assert main(["predict", "--model", str(speaker_model), "--speaker-of", str(table), str(actors["Actor_01"])]) == 1
    table_text = capsys.readouterr().out
    assert "ERROR" in table_text and table_text.count("!") == len(files)  # marked labels + the footnote


@pytest.mark.e2e
def test_speaker_norm_run_marks_a_single_utterance_test_speaker(data_dir, utterances, tmp_path, capsys):
    """A test speaker with one utterance is an all-zero vector after speaker normalisation: warned and marked."""
    emodb = [u for u in utterances if u.corpus == "emodb"]
    config = RunConfig(data_dir=data_dir, out=tmp_path, feature_set="GeMAPSv01b", condition="matched",
                       test_corpus="emodb", folds=(1,), grid="coarse", n_jobs=1, cache_dir=tmp_path / "cache",
                       norm="speaker", save_models=False)
    report = run(config, utts=emodb)
    result = json.loads(report.written[0].read_text())
    test_speakers = sorted({u.speaker for u in emodb if u.id in {p["id"] for p in result["predictions"]}})
    lone = next(u for u in emodb if u.speaker == test_speakers[0])
    fewer = [u for u in emodb if u.speaker != lone.speaker or u.id == lone.id]
    report = run(RunConfig(**{**config.__dict__, "out": tmp_path / "lone"}), utts=fewer)
    result = json.loads(report.written[0].read_text())
    (warning,) = [w for w in result["warnings"] if "test speaker" in w]
    assert f"emodb/{lone.speaker} (1)" in warning and "all-zero vector" in warning
    assert "fewer than 10 utterances" in warning
    assert f"WARNING: GeMAPS-SVM_speaker-norm matched fold 1 emodb: {warning}" in capsys.readouterr().out


@pytest.fixture(scope="module")
def speaker_checkpoint(tmp_path_factory):
    """A runner-style dev-best.ckpt of a tiny random HuBERT + linear head trained with speaker normalisation."""
    from argparse import Namespace

    import torch
    from s3prl.upstream.interfaces import Featurizer

    from s3prl_crosscorpus.core.names import DOWNSTREAM
    from s3prl_crosscorpus.demo.random_hubert import write_random_hubert
    from s3prl_crosscorpus.superb.heads import build_model
    from s3prl_crosscorpus.superb.upstreams import build_upstream

    folder = tmp_path_factory.mktemp("dnn")
    upstream_ckpt = write_random_hubert(folder / "tiny_hubert.pt", size="tiny", seed=0)
    args = Namespace(downstream=DOWNSTREAM, upstream="hubert_local", upstream_ckpt=str(upstream_ckpt),
                     upstream_model_config=None, upstream_feature_selection="hidden_states",
                     upstream_layer_selection=None, upstream_feature_normalize=False)
    modelrc = {"projector_dim": 16, "head": "linear", "linear": {}}
    featurizer = Featurizer(upstream=build_upstream("hubert_local", str(upstream_ckpt)),
                            feature_selection="hidden_states", upstream_device="cpu")
    torch.manual_seed(0)
    with torch.no_grad():
        featurizer.weights.normal_()
    model = build_model(featurizer.output_dim, modelrc)
    ckpt = folder / "dev-best.ckpt"
    torch.save({"Args": args, "Config": {"downstream_expert": {"datarc": {"normalisation": "speaker"},
                                                                 "modelrc": modelrc}},
                "Featurizer": featurizer.state_dict(),
                "Downstream": {f"model.{k}": v for k, v in model.state_dict().items()}}, ckpt)
    return ckpt


def test_dnn_checkpoint_with_speaker_norm_predicts_per_group_only(speaker_checkpoint, synth_roots, tmp_path, capsys):
    """Same rule as the SVM: refused without a grouping; with one, a file's answer depends on its group alone."""
    import shutil

    folders = {}
    for actor in ACTORS:  # 3 files per actor keep the tiny upstream quick
        folders[actor] = tmp_path / actor
        folders[actor].mkdir()
        for f in sorted((synth_roots["ravdess"] / actor).glob("03-01-0[345]-01-01-01-*.wav")):
            shutil.copy(f, folders[actor])
    model, a1, a2, a3 = str(speaker_checkpoint), *map(str, folders.values())
    assert main(["predict", "--model", model, a1]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: {model}: this model z-normalises features per speaker") and "--speaker-of" in line
    with_2 = predicted(capsys, "--model", model, "--speaker-per-folder", a1, a2)
    with_3 = predicted(capsys, "--model", model, "--speaker-per-folder", a3, a1)
    first = probs(with_2, folders["Actor_01"])
    assert first.shape == (3, 4) and np.isfinite(first).all()
    np.testing.assert_array_equal(first, probs(with_3, folders["Actor_01"]))
    together = predicted(capsys, "--model", model, "--same-speaker", a1, a2)
    assert np.abs(probs(together, folders["Actor_01"]) - first).max() > 1e-3


def test_grouped_dnn_normalises_each_layer_like_the_cached_training(speaker_checkpoint, synth_roots):
    """Each hidden layer's frames are z-normalised with the group's frame statistics (domain.frames' formula)."""
    import torch

    from s3prl_crosscorpus.core.audio import load_audio
    from s3prl_crosscorpus.superb.inference import DnnPredictor

    predictor = DnnPredictor.from_checkpoint(speaker_checkpoint)
    waves = [load_audio(f) for f in sorted((synth_roots["ravdess"] / "Actor_01").glob("*.wav"))[:3]]
    with pytest.raises(ValueError, match="use predict_proba_grouped"):
        predictor.predict_proba(waves)
    seen = []
    real = predictor._classify
    predictor._classify = lambda wave, output: (seen.append(torch.stack(output["hidden_states"], 2)[0]),
                                                real(wave, output))[1]
    predictor.predict_proba_grouped(waves, ["a"] * 3)
    frames = torch.cat(seen).double()  # [T_all, L, D], normalised
    raw = torch.cat([predictor._layers(w) for w in waves]).double()
    varying = raw.std(dim=0) > 1e-3
    np.testing.assert_allclose(frames.mean(dim=0).numpy(), 0, atol=1e-4)
    np.testing.assert_allclose(frames.std(dim=0, unbiased=False)[varying].numpy(), 1, atol=1e-3)


@pytest.mark.e2e
def test_speaker_norm_checkpoint_reproduces_its_test_predictions_with_the_speaker_grouping(synth_roots, tmp_path,
                                                                                              capsys):
    """train-cached with datarc.normalisation=speaker, then `predict --speaker-of` on every utterance of the test
    speakers: the same probabilities as the evaluation stored (its statistics came from the fp16 cache)."""
    from s3prl_crosscorpus.cache import extract as ex
    from s3prl_crosscorpus.commands.train_cached import main as train_cached
    from s3prl_crosscorpus.core.manifest import load_manifest, prepare
    from s3prl_crosscorpus.demo.random_hubert import write_random_hubert
    from helpers.results import load_results

    data = tmp_path / "data"
    prepare({"emodb": synth_roots["emodb"]}, data)
    upstream = str(write_random_hubert(tmp_path / "tiny_hubert.pt", size="tiny", seed=0))
    ex.extract(data, tmp_path / "cache", "hubert_local", upstream, device="cpu", workers=0, quiet=True)
    smoke = Path(__file__).resolve().parent.parent / "downstream_configs" / "smoke.yaml"
    settings = [f"config.downstream_expert.datarc.data_dir='{data}'", "config.downstream_expert.datarc.condition='matched'",
                "config.downstream_expert.datarc.test_corpus='emodb'", "config.downstream_expert.datarc.fold=1",
                "config.downstream_expert.datarc.normalisation='speaker'"]
    expdir = tmp_path / "exp"
    assert train_cached(["--cache", str(tmp_path / "cache"), "-m", "train", "-d", "crosscorpus_emotion", "-c",
                         str(smoke), "-p", str(expdir), "-o", ",,".join(settings), "--device", "cpu",
                         "--seed", "0"]) == 0
    (result,) = load_results(expdir / "results")
    by_id = {u.id: u for u in load_manifest(data)}
    speakers = {by_id[p["id"]].speaker for p in result["predictions"]}
    files = [u.path for u in by_id.values() if u.speaker in speakers]  # the statistics' utterances
    capsys.readouterr()
    rows = predicted(capsys, "--model", str(expdir / "dev-best.ckpt"), "--speaker-of", r"/(\d\d)[a-z]\d\d", *files)
    stored = {by_id[p["id"]].path: p for p in result["predictions"]}
    assert set(stored) <= set(rows)
    found = np.array([[rows[p][c] for c in LABELS] for p in stored])
    truth = np.array([s["probabilities"] for s in stored.values()])
    np.testing.assert_allclose(found, truth, atol=2e-3)
    # The control: both test speakers normalised as one gives other answers.
    together = predicted(capsys, "--model", str(expdir / "dev-best.ckpt"), "--same-speaker", *files)
    merged = np.array([[together[p][c] for c in LABELS] for p in stored])
    assert np.abs(merged - truth).max() > 5 * np.abs(found - truth).max()
