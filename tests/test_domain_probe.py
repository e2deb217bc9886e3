"""Corpus probe and cached-frame normalisation statistics on features with a strong per-corpus channel."""
import json
from pathlib import Path

import numpy as np
import pytest

from s3prl_crosscorpus.core.normalise import group_of
from s3prl_crosscorpus.cache.format import FeatureCache
from s3prl_crosscorpus.commands.probe import main as probe_main
from s3prl_crosscorpus.domain.frames import frame_statistics
from s3prl_crosscorpus.domain.probe import (cache_layers, fold_masks, layer_sources, probe_source, run_probe,
                                           table_markdown)

from helpers.domain_data import shifted_matrix, write_shifted_cache

CHANCE = 1 / 3


@pytest.fixture(scope="module")
def shifted_cache(utterances, tmp_path_factory):
    return write_shifted_cache(tmp_path_factory.mktemp("shifted_cache"), utterances)


def test_probe_finds_the_corpus_channel_and_corpus_norm_removes_it(utterances):
    X = shifted_matrix(utterances)
    rows = {r.norm: r for r in run_probe({"shifted": (utterances, X)}, progress=False)}
    assert rows["global"].uar > 0.9 and min(rows["global"].per_fold) > 0.8  # every fold, not one lucky fold
    assert rows["corpus"].uar < CHANCE + 0.15 and rows["speaker"].uar < CHANCE + 0.15
    assert rows["global"].uar - rows["corpus"].uar > 0.5
    assert not rows["global"].transductive and rows["corpus"].transductive
    # Negative control: without the channel the probe is near chance already with global norm.
    emotion_only = X.copy()
    emotion_only[:, 4:7] = np.random.default_rng(1).standard_normal((len(X), 3))
    assert probe_source("plain", emotion_only, utterances, "global").uar < CHANCE + 0.15


def test_probe_trains_off_each_folds_test_speakers(utterances):
    # Speaker identity as features: the probe can only score above chance on held-out speakers if it
    # generalises over speakers, so a speaker-memorising leak from test into train would show up as ~1.0.
    speakers = sorted({(u.corpus, u.speaker) for u in utterances})
    onehot = np.eye(len(speakers))[[speakers.index((u.corpus, u.speaker)) for u in utterances]]
    assert probe_source("speaker id", onehot, utterances, "global").uar < CHANCE + 0.15


def test_layer_probe_from_a_cache_tells_the_shifted_layer_apart(utterances, shifted_cache):
    pooled = cache_layers(utterances, shifted_cache, progress=False)
    frames = np.asarray(FeatureCache(shifted_cache).features(utterances[0].id), dtype=np.float32)
    np.testing.assert_allclose(pooled[0], frames.mean(axis=0), rtol=1e-6)
    rows = {(r.source, r.norm): r for r in run_probe(layer_sources(pooled, utterances), ("global", "corpus"), progress=False)}
    assert rows[("layer 0", "global")].uar > 0.9
    assert rows[("layer 1", "global")].uar < CHANCE + 0.15
    assert rows[("layer 0", "corpus")].uar < CHANCE + 0.15
    table = table_markdown(list(rows.values()))
    assert "| layer 0 |" in table and "corpus (transductive)" in table


def test_frame_statistics_match_numpy_over_each_groups_frames(utterances, shifted_cache):
    cache = FeatureCache(shifted_cache)
    wanted = [u for u in utterances if u.corpus == "emodb"][:3]
    stats = frame_statistics(cache, utterances, wanted, "corpus", progress=False)
    assert set(stats) == {"emodb"}  # only the groups the run needs
    frames = np.concatenate([np.asarray(cache.features(u.id), dtype=np.float64)
                             for u in utterances if u.corpus == "emodb"])
    np.testing.assert_allclose(stats["emodb"][0], frames.mean(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats["emodb"][1], frames.std(axis=0), rtol=1e-4)
    speakers = frame_statistics(cache, utterances, wanted, "speaker", progress=False)
    assert set(speakers) == {group_of(u.corpus, u.speaker, "speaker") for u in wanted}


def test_probe_command_writes_table_json_and_plot(utterances, data_dir, shifted_cache, tmp_path, capsys):
    out = tmp_path / "probe"
    assert probe_main([str(data_dir), "--cache", str(shifted_cache), "--norm", "global", "corpus",
                       "--folds", "1,2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "probe.json").read_text())
    assert [(r["source"], r["norm"]) for r in report["rows"] if r["target"] == "corpus"] == [
        ("layer 0", "global"), ("layer 0", "corpus"), ("layer 1", "global"), ("layer 1", "corpus")]
    assert all(len(r["per_fold"]) == 2 for r in report["rows"]) and report["folds"] == [1, 2]
    assert (out / "probe.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "probe.md").read_text() == printed


def test_probe_command_refuses_bad_requests(data_dir, tmp_path, capsys):
    assert probe_main([str(data_dir), "--out", str(tmp_path)]) == 2
    assert "nothing to probe" in capsys.readouterr().err
    assert probe_main([str(data_dir), "--cache", str(tmp_path / "none"), "--out", str(tmp_path)]) == 1
    assert "no feature cache here" in capsys.readouterr().err
    assert probe_main([str(data_dir), "--cache", str(tmp_path), "--corpora", "emodb", "--out", str(tmp_path)]) == 2
    assert "two or more trainable corpora of ['emodb']" in capsys.readouterr().err


def test_cached_items_are_normalised_per_layer_and_live_runs_refuse_it(utterances, data_dir, shifted_cache):
    from s3prl_crosscorpus.superb.cached import CachedEmotionDataset
    from s3prl_crosscorpus.superb.dataset import ConfigError
    from s3prl_crosscorpus.superb.runner import parse_args

    cache = FeatureCache(shifted_cache)
    emodb = [u for u in utterances if u.corpus == "emodb"]
    stats = frame_statistics(cache, utterances, emodb, "corpus", progress=False)
    frames = np.concatenate([CachedEmotionDataset(emodb, cache, stats, "corpus")[k][0].numpy()
                             for k in range(len(emodb))])
    np.testing.assert_allclose(frames.mean(axis=0), 0, atol=1e-3)  # every layer and dimension
    np.testing.assert_allclose(frames.std(axis=0), 1, atol=1e-3)
    raw = CachedEmotionDataset(emodb, cache)[0][0].numpy()
    assert np.abs(raw.mean(axis=0)[0, 4:7]).max() > 1  # the channel was there before
    smoke = str(Path(__file__).resolve().parent.parent / "downstream_configs" / "smoke.yaml")
    with pytest.raises(ConfigError, match="train-cached"):
        parse_args(["-m", "train", "-u", "fbank_no_cmvn", "-d", "crosscorpus_emotion", "-c", smoke, "-p", "/tmp/unused",
                    "-o", f"config.downstream_expert.datarc.data_dir='{data_dir}',,"
                          "config.downstream_expert.datarc.normalisation='corpus'"])


def test_fold_masks_test_a_test_only_corpus_in_every_fold_and_never_train_on_it():
    folds = np.array([1, 2, 0, -1])  # fold-1 speaker, fold-2 speaker, test-only row, official training row
    train, test = fold_masks(folds, 1)
    assert train.tolist() == [False, True, False, True] and test.tolist() == [True, False, True, False]


def test_probe_command_leaves_a_test_only_corpus_out_and_says_so(synth_roots, shifted_cache, tmp_path, capsys):
    from s3prl_crosscorpus.core.manifest import prepare
    from s3prl_crosscorpus.demo.registry_synth import synthesize_registry

    roots = {**synth_roots, **synthesize_registry(tmp_path / "reg", ["tess"], per_class=1)}
    prepare(roots, tmp_path / "data")
    out = tmp_path / "probe"
    # the cache holds the paper corpora only: the run succeeds only if TESS is left out before features are read
    assert probe_main([str(tmp_path / "data"), "--cache", str(shifted_cache), "--norm", "global", "--folds", "1",
                       "--targets", "corpus", "--out", str(out)]) == 0
    assert "note: tess is test-only (2 speaker(s), fewer than the 5 folds): left out of the probe" in (
        capsys.readouterr().err)
    report = json.loads((out / "probe.json").read_text())
    assert report["corpora"] == ["emodb", "iemocap", "ravdess"] and report["rows"][0]["chance"] == pytest.approx(CHANCE)
