"""Hugging Face upstreams (issue 15): tiny random HuBERT, wav2vec2 and WavLM saved by transformers.

Each trains and evaluates a head through ``run-downstream`` and through the feature cache, offline
(``HF_HUB_OFFLINE=1``, and every network connection refused and recorded); the cached features
equal the on-the-fly ones for the same utterance (batch 1). A folder without a feature-extractor
config does not touch the network, where s3prl's own upstream does.
"""
import hashlib
import json
import logging
import shutil
import socket
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import torch
import transformers
from safetensors.torch import load_file, save_file

from s3prl_crosscorpus.cache.format import FeatureCache
from s3prl_crosscorpus.commands.extract import main as extract_command
from s3prl_crosscorpus.commands.run_downstream import main as run_downstream
from s3prl_crosscorpus.commands.train_cached import main as train_cached
from s3prl_crosscorpus.core.audio import load_audio
from s3prl_crosscorpus.core.io_utils import read_json, write_jsonl
from s3prl_crosscorpus.core.names import expert_overrides, s3prl_overrides
from helpers.results import load_results
from s3prl_crosscorpus.superb import upstreams
from s3prl_crosscorpus.superb.expert import expected_results


SMOKE = Path(__file__).resolve().parent.parent / "downstream_configs" / "smoke.yaml"
TINY = dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=2, intermediate_size=96, conv_dim=(32,) * 7)
#: upstream -> (transformers config and model class names, whether the folder has preprocessor_config.json)
MODELS = {"hf_hubert_custom": ("HubertConfig", "HubertModel", False),
          "hf_wav2vec2_custom": ("Wav2Vec2Config", "Wav2Vec2Model", True),
          "hf_wavlm_custom": ("WavLMConfig", "WavLMModel", True)}


class NetworkGuard:
    """Refuses (and records) every name lookup and internet connection while installed."""

    def __init__(self):
        self.attempts: List[str] = []

    def install(self, monkeypatch) -> "NetworkGuard":
        def lookup(host, *args, **kwargs):
            self.attempts.append(str(host))
            raise socket.gaierror(f"network disabled in this test (lookup of {host})")

        original_connect = socket.socket.connect

        def connect(sock, address):
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                self.attempts.append(str(address))
                raise OSError(f"network disabled in this test (connect to {address})")
            return original_connect(sock, address)

        monkeypatch.setattr(socket, "getaddrinfo", lookup)
        monkeypatch.setattr(socket.socket, "connect", connect)
        return self


@pytest.fixture
def offline(monkeypatch):
    """HF_HUB_OFFLINE=1 (also in huggingface_hub's constants, read at import) and no network at all."""
    import huggingface_hub.constants as hub_constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    guard = NetworkGuard().install(monkeypatch)
    yield guard
    assert not guard.attempts, f"tried to reach the network: {guard.attempts}"


def save_tiny(folder: Path, upstream: str, seed: int = 0, **config) -> Path:
    """A random transformers model of the upstream's class, saved with save_pretrained."""
    config_name, model_name, preprocessor = MODELS[upstream]
    torch.manual_seed(seed)
    model = getattr(transformers, model_name)(getattr(transformers, config_name)(**{**TINY, **config}))
    model.save_pretrained(folder)
    if preprocessor:  # not normalising, unlike the standard extractor: shows the folder's is used
        transformers.Wav2Vec2FeatureExtractor(do_normalize=False, return_attention_mask=True).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Dict[str, Path]:
    root = tmp_path_factory.mktemp("hf")
    return {name: save_tiny(root / f"tiny_{name.split('_')[1]}", name) for name in MODELS}


@pytest.fixture(scope="module")
def emodb_data(utterances, tmp_path_factory) -> Path:
    """A DATA_DIR with the EmoDB part of the synthetic corpora only (80 utterances: quick to extract)."""
    data = tmp_path_factory.mktemp("emodb_data")
    write_jsonl(data / "manifest.jsonl", [u.to_dict() for u in utterances if u.corpus == "emodb"])
    return data


def overrides(data: Path, results: Path) -> str:
    """Matched EmoDB fold 1, 4 steps of batch 1 (dev at steps 2 and 4), linear head."""
    return s3prl_overrides({
        **expert_overrides(dict(data_dir=str(data), corpora=["emodb"], test_corpus="emodb", fold=1,
                                train_batch_size=1), results_dir=str(results), modelrc={"head": "linear"}),
        "config.runner.total_steps": 4, "config.runner.eval_step": 2, "config.runner.save_step": 4,
        "config.runner.log_step": 2})


def safetensors_sha256(folder: Path) -> str:
    return hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()


@pytest.mark.e2e
@pytest.mark.parametrize("upstream", sorted(MODELS))
def test_hf_model_trains_live_and_from_the_cache(upstream, tiny_models, emodb_data, tmp_path, offline, capsys):
    folder, system = tiny_models[upstream], f"{tiny_models[upstream].name}-Linear"
    live = tmp_path / "live"
    assert run_downstream(["-m", "train", "-u", upstream, "-k", str(folder), "-d", "crosscorpus_emotion",
                           "-c", str(SMOKE), "-p", str(live), "--seed", "0",
                           "-o", overrides(emodb_data, tmp_path / "results_live")]) == 0
    assert run_downstream(["-m", "evaluate", "-e", str(live / "dev-best.ckpt"), "-t", "test"]) == 0
    [result] = load_results(tmp_path / "results_live")
    assert (result["system"], result["features"]) == (system, upstream)  # the system name carries the model
    assert result["config"]["upstream_ckpt_sha256"] == safetensors_sha256(folder)
    assert "upstream_revision" not in result["config"]  # a folder has no hub revision
    extractor = "preprocessor_config.json" if MODELS[upstream][2] else "standard (16 kHz, zero mean, unit variance)"
    assert result["config"]["upstream_feature_extractor"] == extractor  # a defaulted extractor is marked
    assert [Path(result["_path"])] == expected_results(str(tmp_path / "results_live"), upstream, "linear", "matched",
                                                       "emodb", ["emodb"], 1, ckpt=str(folder))  # run_all_folds' check

    cache = tmp_path / "cache"
    capsys.readouterr()
    assert extract_command(["-u", upstream, "-k", str(folder), "--data", str(emodb_data), "--out", str(cache),
                            "--device", "cpu", "--workers", "0"]) == 0
    printed = capsys.readouterr().err
    header = read_json(cache / "cache.json")
    model_class = MODELS[upstream][1]
    assert header["upstream"]["ckpt_sha256"] == safetensors_sha256(folder) and header["upstream"]["num_layers"] == 3
    assert header["upstream_info"]["model"] == model_class and header["ckpt"] == str(folder)
    assert header["upstream_info"]["feature_extractor"] == extractor
    assert f"{model_class} from {folder}" in printed and "3 layers x 48" in printed

    # the cached features are the on-the-fly ones of the same utterance, forwarded alone (fp16 rounding)
    features = FeatureCache(cache)
    utt = sorted(features.entries)[3]
    live_upstream = upstreams.build_upstream(upstream, str(folder))
    wav = load_audio(next(u for u in map(json.loads, (emodb_data / "manifest.jsonl").read_text().splitlines())
                          if u["id"] == utt)["path"])
    with torch.no_grad():
        hidden = live_upstream([torch.from_numpy(wav)])["hidden_states"]
    stored = features.features(utt).astype(np.float32)
    assert stored.shape == (min(round(len(wav) / 320), hidden[0].shape[1]), 3, 48)
    for layer, h in enumerate(hidden):
        np.testing.assert_allclose(stored[:, layer], h[0, :len(stored)].numpy(), rtol=2 ** -10, atol=1e-5)

    cached = tmp_path / "cached"
    assert train_cached(["--cache", str(cache), "-c", str(SMOKE), "-p", str(cached), "--seed", "0",
                         "-o", overrides(emodb_data, tmp_path / "results_cached")]) == 0
    [from_cache] = load_results(tmp_path / "results_cached")
    assert (from_cache["system"], from_cache["features"]) == (system, upstream)
    assert from_cache["config"]["feature_cache_upstream"]["ckpt_sha256"] == safetensors_sha256(folder)
    assert from_cache["config"]["feature_cache_upstream"]["info"]["feature_extractor"] == extractor
    assert [p["id"] for p in from_cache["predictions"]] == [p["id"] for p in result["predictions"]]
    assert from_cache["dev"]["step"] in (2, 4)


def test_folder_without_feature_extractor_config_stays_offline(tiny_models, monkeypatch, caplog):
    """HF_HUB_OFFLINE is not set here: only the guard would stop a download."""
    import huggingface_hub.constants as hub_constants
    from s3prl.upstream.hf_hubert.expert import UpstreamExpert as S3prlHubert

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    guard = NetworkGuard().install(monkeypatch)
    folder = tiny_models["hf_hubert_custom"]
    assert not (folder / "preprocessor_config.json").exists()
    with caplog.at_level(logging.WARNING, logger="s3prl_crosscorpus.superb.upstreams"):
        upstream = upstreams.build_upstream("hf_hubert_custom", str(folder))
    assert guard.attempts == []
    assert "no preprocessor_config.json" in caplog.text and "zero mean and unit variance" in caplog.text
    assert upstream.extracter.do_normalize and upstream.extracter.sampling_rate == 16000

    # negative control: s3prl's own hf_hubert_custom falls back to a download for the same folder
    monkeypatch.setattr("time.sleep", lambda seconds: None)  # huggingface_hub's retries would wait ~30 s
    with pytest.raises(Exception):
        S3prlHubert(str(folder))
    assert any("huggingface.co" in attempt for attempt in guard.attempts), guard.attempts


def test_wrong_class_missing_folder_and_unknown_hub_id_are_refused(tiny_models, emodb_data, tmp_path, offline,
                                                                   capsys):
    def extract(upstream: str, ckpt: str) -> str:
        code = extract_command(["-u", upstream, "-k", ckpt, "--data", str(emodb_data), "--out", str(tmp_path / "c"),
                                "--device", "cpu"])
        assert code == 2  # bad input: exit 2, as every command
        return capsys.readouterr().err

    assert "holds a 'wavlm' model, not the 'hubert' model" in extract("hf_hubert_custom",
                                                                      str(tiny_models["hf_wavlm_custom"]))
    assert "use -u hf_wavlm_custom" in extract("hf_hubert_custom", str(tiny_models["hf_wavlm_custom"]))
    assert "not a Hugging Face hub id that can be resolved" in extract("hf_wavlm_custom", "nobody/no-such-model")
    partial = shutil.copytree(tiny_models["hf_hubert_custom"], tmp_path / "partial")  # one tensor missing
    weights = load_file(partial / "model.safetensors")
    save_file({k: v for k, v in weights.items() if not k.startswith("encoder.layers.1.")}, partial / "model.safetensors")
    assert "weights of HubertModel are missing or mismatched" in extract("hf_hubert_custom", str(partial))
    assert not (tmp_path / "c" / "cache.json").exists()


def test_hub_id_resolves_to_its_cached_snapshot_and_revision(tiny_models, emodb_data, tmp_path, offline,
                                                             monkeypatch):
    """A hub id already in the Hugging Face cache works offline; its commit is recorded, its weights are the key."""
    import huggingface_hub.constants as hub_constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--tiny-org--wavlm-test"
    shutil.copytree(tiny_models["hf_wavlm_custom"], repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))

    upstream = upstreams.build_upstream("hf_wavlm_custom", "tiny-org/wavlm-test")
    assert (upstream.revision, upstream.weights_sha256) == (commit, safetensors_sha256(tiny_models["hf_wavlm_custom"]))
    assert upstreams.checkpoint_identity("hf_wavlm_custom", "tiny-org/wavlm-test") == (upstream.weights_sha256, commit)
    assert upstreams.upstream_label("hf_wavlm_custom", "tiny-org/wavlm-test") == "wavlm-test"
    assert upstreams.upstream_label("hf_wavlm_custom", "microsoft/wavlm-large") == "WavLM-Large"

    cache = tmp_path / "cache"
    assert extract_command(["-u", "hf_wavlm_custom", "-k", "tiny-org/wavlm-test", "--data", str(emodb_data),
                            "--out", str(cache), "--device", "cpu", "--workers", "0"]) == 0
    key = FeatureCache(cache).key
    assert (key.ckpt_sha256, key.revision) == (upstream.weights_sha256, commit)
    assert read_json(cache / "cache.json")["ckpt"] == "tiny-org/wavlm-test"


@pytest.mark.parametrize("upstream,config_name,model_name,layer_norm", [
    ("hf_hubert_custom", "HubertConfig", "HubertModel", True),  # HuBERT large
    ("hf_wav2vec2_custom", "Wav2Vec2Config", "Wav2Vec2Model", True),  # wav2vec2 large (robust)
    ("hf_wavlm_custom", "WavLMConfig", "WavLMModel", True),  # WavLM large
    ("hf_data2vec_audio_custom", "Data2VecAudioConfig", "Data2VecAudioModel", False),  # data2vec base/large
])
def test_every_registered_class_builds_large_style_configs(upstream, config_name, model_name, layer_norm, tmp_path,
                                                           offline):
    """The configurations of the large checkpoints (layer-norm feature encoder, pre-norm Transformer), tiny."""
    import s3prl.hub

    assert getattr(s3prl.hub, upstream) is upstreams.HF_UPSTREAMS[upstream]  # registered in s3prl's hub
    extra = dict(feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True) if layer_norm else {}
    torch.manual_seed(0)
    getattr(transformers, model_name)(getattr(transformers, config_name)(**{**TINY, **extra})).save_pretrained(
        tmp_path / "m")
    built = upstreams.build_upstream(upstream, str(tmp_path / "m"))
    with torch.no_grad():
        hidden = built([torch.randn(16000), torch.randn(8000)])["hidden_states"]
    assert len(hidden) == built.num_layers == 3 and hidden[0].shape == (2, 49, 48)
    assert built.get_downsample_rates("hidden_states") == 320 and built.describe()["model"] == model_name
