"""Which layer carries emotion and which the corpus (issue 23): the emotion probe next to the corpus
probe, per cached layer, and ``modelrc.layers`` (a head on chosen layers instead of all)."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from s3prl_crosscorpus.cache.format import FeatureCache, ShardPlan, UpstreamKey, prepare_root, write_shard
from s3prl_crosscorpus.commands.probe import main as probe_main
from s3prl_crosscorpus.commands.train_cached import main as train_cached
from s3prl_crosscorpus.core.io_utils import sha256_file
from s3prl_crosscorpus.core.labels import CORPORA, LABELS
from s3prl_crosscorpus.core.names import expert_overrides, layers_tag, s3prl_overrides
from s3prl_crosscorpus.domain.probe import cache_layers, layer_sources, probe_source, run_probe
from s3prl_crosscorpus.superb.cached import CachedFeaturizer, CachedUpstream
from s3prl_crosscorpus.superb.dataset import ConfigError
from s3prl_crosscorpus.superb.layers import parse_layers
from helpers.results import load_results

SMOKE = Path(__file__).resolve().parent.parent / "downstream_configs" / "smoke.yaml"


def split_frames(utt, rng: np.random.Generator) -> np.ndarray:
    """[T, 3 layers, 8]: layer 0 = corpus channel only, layer 1 = emotion only, layer 2 = noise."""
    frames = int(rng.integers(4, 9))
    corpus = np.concatenate([3.0 * np.eye(len(CORPORA))[CORPORA.index(utt.corpus)], np.zeros(5)])
    emotion = np.concatenate([2.0 * np.eye(len(LABELS))[LABELS.index(utt.label)], np.zeros(4)])
    base = np.stack([corpus, emotion, np.zeros(8)]) + rng.standard_normal((3, 8))
    return (base[None] + 0.5 * rng.standard_normal((frames, 3, 8))).astype(np.float16)


@pytest.fixture(scope="module")
def split_cache(utterances, tmp_path_factory) -> Path:
    """A feature cache (real format) whose layers separate corpus and emotion, as 'fbank_no_cmvn' features."""
    root = tmp_path_factory.mktemp("split_cache")
    key = UpstreamKey(name="fbank_no_cmvn", ckpt_sha256=None, num_layers=3, hidden_size=8, downsample_rate=160)
    by_id = {u.id: u for u in utterances}
    plan = ShardPlan.from_ids(by_id, shard_size=64)
    prepare_root(root, key, plan)
    rng = np.random.default_rng(0)
    for shard, ids in enumerate(plan.shards):
        write_shard(root, shard, key, [(i, sha256_file(by_id[i].path), split_frames(by_id[i], rng)) for i in ids])
    return root


def test_emotion_and_corpus_probes_tell_the_layers_apart(utterances, split_cache):
    pooled = cache_layers(utterances, split_cache, progress=False)
    rows = {(r.source, r.target): r for r in run_probe(layer_sources(pooled, utterances), ("global",),
                                                         progress=False, targets=("corpus", "emotion"))}
    assert rows[("layer 0", "corpus")].uar > 0.9 and rows[("layer 0", "emotion")].uar < 0.25 + 0.15
    assert rows[("layer 1", "emotion")].uar > 0.7 and rows[("layer 1", "corpus")].uar < 1 / 3 + 0.15
    assert rows[("layer 2", "emotion")].uar < 0.25 + 0.15 and rows[("layer 2", "corpus")].uar < 1 / 3 + 0.15
    assert rows[("layer 1", "emotion")].chance == 0.25 and rows[("layer 1", "corpus")].chance == pytest.approx(1 / 3)


def test_emotion_probe_is_speaker_independent(utterances):
    # One-hot of (speaker, emotion): a probe that saw the test speakers in training would score about 1.0.
    pairs = sorted({(u.corpus, u.speaker, u.label) for u in utterances})
    onehot = np.eye(len(pairs))[[pairs.index((u.corpus, u.speaker, u.label)) for u in utterances]]
    assert probe_source("speaker x emotion id", onehot, utterances, "global", target="emotion").uar < 0.25 + 0.15


def test_probe_command_writes_one_table_json_and_plot_for_both_targets(data_dir, split_cache, tmp_path, capsys):
    out = tmp_path / "probe"
    assert probe_main([str(data_dir), "--cache", str(split_cache), "--norm", "global", "--folds", "1,2",
                       "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "probe.json").read_text())
    assert [(r["source"], r["target"]) for r in report["rows"]] == [
        (f"layer {k}", t) for k in range(3) for t in ("corpus", "emotion")]
    assert report["targets"] == ["corpus", "emotion"]
    assert "| source | corpus, global | emotion, global |" in printed and "| layer 1 |" in printed
    assert "emotion-prediction UAR % chance 25.0" in printed
    assert (out / "probe.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (out / "probe.md").read_text() == printed


@pytest.mark.parametrize("value,layers", [(None, None), ("all", None), (6, (6,)), ("6", (6,)), ("4-6", (4, 5, 6)),
                                          ([0, 4, 8], (0, 4, 8)), ("0,4,8", (0, 4, 8))])
def test_layer_selection_values(value, layers):
    assert parse_layers(value) == layers


@pytest.mark.parametrize("value", ["8-4", -1, "a", [1, 1], True, [1.5], "1-"])
def test_bad_layer_selections_are_refused(value):
    with pytest.raises(ValueError, match="modelrc.layers"):
        parse_layers(value)


def test_layer_tags_name_the_selection():
    assert layers_tag(None) == () and layers_tag((6,)) == ("L6",)
    assert layers_tag((4, 5, 6)) == ("L4-6",) and layers_tag((0, 4, 8)) == ("L0+4+8",)


def test_cached_featurizer_uses_only_the_selected_layers(split_cache):
    key = FeatureCache(split_cache).key
    upstream = CachedUpstream(key)
    batch = [torch.randn(5, 3, 8), torch.randn(3, 3, 8)]
    one = CachedFeaturizer(upstream=upstream, upstream_device="cpu", layers=(1,))
    assert not hasattr(one, "weights")
    out = one(batch, upstream(batch))
    torch.testing.assert_close(out[0], batch[0][:, 1]) and torch.testing.assert_close(out[1], batch[1][:, 1])
    two = CachedFeaturizer(upstream=upstream, upstream_device="cpu", layers=(0, 2))
    assert two.weights.shape == (2,)
    with torch.no_grad():
        two.weights.copy_(torch.tensor([0.3, -0.2]))
    w = torch.softmax(torch.tensor([0.3, -0.2]), dim=0)
    fast = two(batch, upstream(batch))
    slow = two(batch, {"hidden_states": upstream(batch)["hidden_states"]})  # s3prl's own weighted sum
    torch.testing.assert_close(fast[0], w[0] * batch[0][:, 0] + w[1] * batch[0][:, 2])
    torch.testing.assert_close(slow[1], fast[1])
    with pytest.raises(ConfigError, match="the upstream has 3 hidden states"):
        CachedFeaturizer(upstream=upstream, upstream_device="cpu", layers=(3,))


def run_overrides(data_dir: Path, results: Path, layers) -> str:
    return s3prl_overrides({
        **expert_overrides(dict(data_dir=str(data_dir), corpora=["emodb"], test_corpus="emodb", fold=1),
                           results_dir=str(results), modelrc={"head": "linear", "layers": layers}),
        "config.runner.total_steps": 20, "config.runner.eval_step": 10, "config.runner.save_step": 20})


@pytest.mark.e2e
def test_train_cached_with_chosen_layers(data_dir, split_cache, tmp_path, capsys):
    expdir = tmp_path / "exp"
    assert train_cached(["--cache", str(split_cache), "-c", str(SMOKE), "-p", str(expdir), "--seed", "0",
                         "-o", run_overrides(data_dir, tmp_path / "results", "1-2")]) == 0
    [result] = load_results(tmp_path / "results")
    assert result["system"] == "FBANK-noCMVN-Linear_L1-2"
    assert result["hyperparameters"]["modelrc"]["layers"] == "1-2"
    ckpt = torch.load(expdir / "dev-best.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["Featurizer"]["weights"].shape == (2,)
    # an index past the cache's layers stops before training, with one line
    assert train_cached(["--cache", str(split_cache), "-c", str(SMOKE), "-p", str(tmp_path / "bad"), "--seed", "0",
                         "-o", run_overrides(data_dir, tmp_path / "r2", 5)]) == 2
    assert "modelrc.layers=[5]: the upstream has 3 hidden states" in capsys.readouterr().err
    assert train_cached(["--cache", str(split_cache), "-c", str(SMOKE), "-p", str(tmp_path / "bad2"), "--seed", "0",
                         "-o", run_overrides(data_dir, tmp_path / "r3", "9-1")]) == 2
    assert "modelrc.layers='9-1'" in capsys.readouterr().err


@pytest.mark.e2e
def test_live_run_and_predict_with_a_chosen_layer(utterances, tmp_path):
    """run-downstream (s3prl's Runner) and predict honour modelrc.layers: one layer, no weights."""
    from s3prl_crosscorpus.commands.run_downstream import main as run_downstream
    from s3prl_crosscorpus.core.audio import load_audio
    from s3prl_crosscorpus.core.io_utils import write_jsonl
    from s3prl_crosscorpus.superb.inference import DnnPredictor
    from s3prl_crosscorpus.superb.upstreams import build_upstream
    from test_downstream_hf import save_tiny

    folder = save_tiny(tmp_path / "tiny_hubert", "hf_hubert_custom")
    data = tmp_path / "data"
    emodb = [u for u in utterances if u.corpus == "emodb"]
    write_jsonl(data / "manifest.jsonl", [u.to_dict() for u in emodb])
    expdir = tmp_path / "live"
    assert run_downstream(["-m", "train", "-u", "hf_hubert_custom", "-k", str(folder), "-d", "crosscorpus_emotion",
                           "-c", str(SMOKE), "-p", str(expdir), "--seed", "0",
                           "-o", run_overrides(data, tmp_path / "results", 2).replace(
                               "config.runner.total_steps=20", "config.runner.total_steps=10")
                           .replace("config.runner.save_step=20", "config.runner.save_step=10")]) == 0
    predictor = DnnPredictor.from_checkpoint(expdir / "dev-best.ckpt")
    assert not hasattr(predictor.featurizer, "weights") and predictor.featurizer.selected_layers == (2,)
    wav = load_audio(emodb[0].path)
    with torch.no_grad():
        top = build_upstream("hf_hubert_custom", str(folder))([torch.from_numpy(wav)])["hidden_states"][2][0]
        features = predictor.featurizer([torch.from_numpy(wav)], predictor.upstream([torch.from_numpy(wav)]))[0]
    torch.testing.assert_close(features, top[:len(features)])
    assert predictor.predict_proba([wav]).shape == (1, 4)
