"""Whisper's encoder (exact: padded to its chunk; trim: cut to the utterance) and ``hf_auto`` (issue 23).

Tiny random models saved with ``save_pretrained``; the Whisper one reads 3 s chunks
(``max_source_positions`` 150, ``chunk_length`` 3) so that the padding semantics of the real
30 s model are exercised at a tenth of the cost.
"""
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers

from s3prl_crosscorpus.cache.format import FeatureCache, UpstreamKey, check_owner, CacheError
from s3prl_crosscorpus.commands.extract import main as extract_command
from s3prl_crosscorpus.commands.train_cached import main as train_cached
from s3prl_crosscorpus.core.audio import load_audio
from s3prl_crosscorpus.core.io_utils import read_json
from s3prl_crosscorpus.core.names import upstream_label
from s3prl_crosscorpus.superb import upstreams
from helpers.results import load_results
from test_downstream_hf import SMOKE, emodb_data, offline, overrides, save_tiny  # noqa: F401  (fixtures)

WHISPER = dict(d_model=48, encoder_layers=2, encoder_attention_heads=2, decoder_layers=1, decoder_attention_heads=2,
               encoder_ffn_dim=96, decoder_ffn_dim=96, num_mel_bins=80, max_source_positions=150)
CHUNK_SECONDS = 3


def save_whisper(folder: Path, seed: int = 0, preprocessor: bool = True, **extractor) -> Path:
    torch.manual_seed(seed)
    transformers.WhisperModel(transformers.WhisperConfig(**WHISPER)).save_pretrained(folder)
    if preprocessor:
        transformers.WhisperFeatureExtractor(**{"feature_size": 80, "chunk_length": CHUNK_SECONDS, **extractor}) \
            .save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def whisper_folder(tmp_path_factory) -> Path:
    return save_whisper(tmp_path_factory.mktemp("whisper") / "tiny-whisper")


def wave(seconds: float, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy((0.1 * np.random.default_rng(seed).standard_normal(int(seconds * 16000))).astype(np.float32))


def reference_exact(folder: Path, wav: torch.Tensor):
    """transformers' own Whisper input: the chunk padded to its full length, the encoder's hidden states."""
    model = transformers.WhisperModel.from_pretrained(str(folder)).eval()
    extractor = transformers.WhisperFeatureExtractor.from_pretrained(str(folder))
    features = extractor(wav.numpy(), sampling_rate=16000, return_tensors="pt")["input_features"]
    with torch.no_grad():
        return model.encoder(features, output_hidden_states=True).hidden_states


def test_exact_mode_is_whisper_padded_to_its_chunk_and_independent_of_the_batch(whisper_folder):
    upstream = upstreams.build_upstream("hf_whisper_custom", str(whisper_folder))
    short, other = wave(1.3), wave(2.9, seed=1)
    with torch.no_grad():
        batch = upstream([short, other])["hidden_states"]
        alone = upstream([short])["hidden_states"]
    reference = reference_exact(whisper_folder, short)
    frames = math.ceil(len(short) / 320)
    assert len(batch) == len(reference) == 3 and upstream.get_downsample_rates() == 320
    assert alone[0].shape == (1, frames, 48) and batch[0].shape[1] == math.ceil(len(other) / 320)
    for layer in range(3):
        torch.testing.assert_close(alone[layer][0], reference[layer][0, :frames])
        torch.testing.assert_close(batch[layer][0, :frames], alone[layer][0], rtol=1e-5, atol=1e-5)


def test_a_long_utterance_is_encoded_chunk_by_chunk(whisper_folder):
    upstream = upstreams.build_upstream("hf_whisper_custom", str(whisper_folder))
    wav = wave(2 * CHUNK_SECONDS + 1.0)  # 2 full chunks + 1 s
    with torch.no_grad():
        hidden = upstream([wav])["hidden_states"]
    size = CHUNK_SECONDS * 16000
    assert hidden[0].shape[1] == 150 + 150 + 50
    last = reference_exact(whisper_folder, wav[2 * size:])
    torch.testing.assert_close(hidden[2][0, 300:], last[2][0, :50])
    second = reference_exact(whisper_folder, wav[size:2 * size])
    torch.testing.assert_close(hidden[1][0, 150:300], second[1][0])


def test_trim_mode_is_a_whisper_encoder_cut_to_the_utterance(whisper_folder):
    trim = upstreams.build_upstream("hf_whisper_trim_custom", str(whisper_folder))
    exact = upstreams.build_upstream("hf_whisper_custom", str(whisper_folder))
    wav = wave(1.3)
    frames = math.ceil(len(wav) / 320)
    with torch.no_grad():
        hidden = trim([wav])["hidden_states"]
        padded = exact([wav])["hidden_states"]
    # Independent reference: a Whisper encoder built with exactly `frames` positions, the same weights.
    state = transformers.WhisperModel.from_pretrained(str(whisper_folder)).encoder.state_dict()
    state["embed_positions.weight"] = state["embed_positions.weight"][:frames]
    short = transformers.WhisperModel(transformers.WhisperConfig(**{**WHISPER, "max_source_positions": frames})).encoder
    short.load_state_dict(state)
    extractor = transformers.WhisperFeatureExtractor.from_pretrained(str(whisper_folder))
    features = extractor(np.pad(wav.numpy(), (0, frames * 320 - len(wav))), sampling_rate=16000, padding="longest",
                         return_tensors="pt")["input_features"]
    with torch.no_grad():
        reference = short.eval()(features, output_hidden_states=True).hidden_states
    for layer in range(3):
        torch.testing.assert_close(hidden[layer][0], reference[layer][0])
    assert trim.model.encoder.embed_positions.num_embeddings == 150  # restored after the call
    assert trim.model.config.max_source_positions == 150
    assert (hidden[2] - padded[2]).abs().max() > 1e-3  # not the exact mode: attention saw no padding


def test_extractor_of_another_model_and_defaults_are_handled(whisper_folder, tmp_path, caplog):
    wrong = shutil.copytree(whisper_folder, tmp_path / "wrong")
    transformers.WhisperFeatureExtractor(feature_size=128, chunk_length=CHUNK_SECONDS).save_pretrained(wrong)
    with pytest.raises(upstreams.UpstreamError, match="makes 128 mel bins, the model reads 80"):
        upstreams.build_upstream("hf_whisper_custom", str(wrong))
    bare = save_whisper(tmp_path / "bare", preprocessor=False)  # 30 s default extractor vs 150 positions
    with pytest.raises(upstreams.UpstreamError, match="is 3000 mel frames, the encoder reads 300"):
        upstreams.build_upstream("hf_whisper_custom", str(bare))
    assert "standard Whisper log-mel" in caplog.text


def test_the_cache_key_covers_the_front_end(whisper_folder, tmp_path):
    other = shutil.copytree(whisper_folder, tmp_path / "other")
    # same weights, different front end: a chunk of 3 s of 200-sample hops would be refused; change the fft
    transformers.WhisperFeatureExtractor(feature_size=80, chunk_length=CHUNK_SECONDS, n_fft=512).save_pretrained(other)
    a = upstreams.build_upstream("hf_whisper_custom", str(whisper_folder))
    b = upstreams.build_upstream("hf_whisper_custom", str(other))
    assert a.weights_sha256 == b.weights_sha256 and a.frontend_sha256 != b.frontend_sha256
    assert upstreams.frontend_identity("hf_whisper_custom", str(other)) == b.frontend_sha256
    key = dict(name="hf_whisper_custom", ckpt_sha256=a.weights_sha256, num_layers=3, hidden_size=48,
               downsample_rate=320)
    from s3prl_crosscorpus.cache.format import ShardPlan, prepare_root

    prepare_root(tmp_path / "cache", UpstreamKey(**key, frontend_sha256=a.frontend_sha256), ShardPlan.from_ids(["x"]))
    with pytest.raises(CacheError, match="front end sha256"):
        check_owner(tmp_path / "cache", UpstreamKey(**key, frontend_sha256=b.frontend_sha256))
    # the same mechanism for the wav2vec2 family: HuBERT with and without its preprocessor_config.json
    hubert = save_tiny(tmp_path / "hubert", "hf_hubert_custom")
    normalising = upstreams.build_upstream("hf_hubert_custom", str(hubert)).frontend_sha256
    transformers.Wav2Vec2FeatureExtractor(do_normalize=False).save_pretrained(hubert)
    assert upstreams.build_upstream("hf_hubert_custom", str(hubert)).frontend_sha256 != normalising


def test_hf_auto_takes_any_audio_encoder_and_refuses_the_others(tmp_path):
    folder = save_tiny(tmp_path / "w2v", "hf_wav2vec2_custom")
    auto = upstreams.build_upstream("hf_auto", str(folder))
    specific = upstreams.build_upstream("hf_wav2vec2_custom", str(folder))
    assert (auto.num_layers, auto.hidden_size, auto.get_downsample_rates()) == (3, 48, 320)
    assert auto.describe()["model"] == "Wav2Vec2Model"
    wav = wave(1.1)
    with torch.no_grad():
        for mine, theirs in zip(auto([wav])["hidden_states"], specific([wav])["hidden_states"]):
            torch.testing.assert_close(mine, theirs)

    transformers.BertModel(transformers.BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                                   intermediate_size=32)).save_pretrained(tmp_path / "bert")
    with pytest.raises(upstreams.UpstreamError, match="not an audio encoder: it reads 'input_ids'"):
        upstreams.build_upstream("hf_auto", str(tmp_path / "bert"))
    transformers.EncodecModel(transformers.EncodecConfig(
        hidden_size=16, num_filters=4, codebook_size=16, codebook_dim=16, num_residual_layers=1,
        upsampling_ratios=[4, 4], num_lstm_layers=1)).save_pretrained(tmp_path / "encodec")
    with pytest.raises(upstreams.UpstreamError, match="returns no hidden states"):
        upstreams.build_upstream("hf_auto", str(tmp_path / "encodec"))
    save_whisper(tmp_path / "whisper")
    with pytest.raises(upstreams.UpstreamError, match="use -u hf_whisper_custom"):
        upstreams.build_upstream("hf_auto", str(tmp_path / "whisper"))


def test_system_names_of_whisper_and_auto():
    assert upstream_label("hf_whisper_custom", "openai/whisper-large-v3") == "Whisper-Large-v3"
    assert upstream_label("hf_whisper_trim_custom", "openai/whisper-large-v3") == "Whisper-Large-v3-trim"
    assert upstream_label("hf_whisper_custom", "/m/tiny-whisper") == "tiny-whisper"
    assert upstream_label("hf_auto", "/m/my_encoder") == "HF-my_encoder"


@pytest.mark.e2e
def test_whisper_extracts_and_trains_from_the_cache_offline(whisper_folder, emodb_data, tmp_path, offline, capsys):
    cache = tmp_path / "cache"
    assert extract_command(["-u", "hf_whisper_custom", "-k", str(whisper_folder), "--data", str(emodb_data),
                            "--out", str(cache), "--device", "cpu", "--workers", "0"]) == 0
    header = read_json(cache / "cache.json")
    live = upstreams.build_upstream("hf_whisper_custom", str(whisper_folder))
    assert header["upstream"]["frontend_sha256"] == live.frontend_sha256
    assert header["upstream_info"]["frontend"]["chunk_length"] == CHUNK_SECONDS
    features = FeatureCache(cache)
    utt = sorted(features.entries)[5]
    row = next(u for u in (read_json_line(line) for line in (emodb_data / "manifest.jsonl").read_text().splitlines())
               if u["id"] == utt)
    wav = load_audio(row["path"])
    with torch.no_grad():
        hidden = live([torch.from_numpy(wav)])["hidden_states"]
    stored = features.features(utt).astype(np.float32)
    assert stored.shape == (round(len(wav) / 320), 3, 48)
    for layer, h in enumerate(hidden):
        np.testing.assert_allclose(stored[:, layer], h[0, :len(stored)].numpy(), rtol=2 ** -10, atol=1e-4)

    assert train_cached(["--cache", str(cache), "-c", str(SMOKE), "-p", str(tmp_path / "exp"), "--seed", "0",
                         "-o", overrides(emodb_data, tmp_path / "results")]) == 0
    [result] = load_results(tmp_path / "results")
    assert (result["system"], result["features"]) == ("tiny-whisper-Linear", "hf_whisper_custom")
    assert result["config"]["feature_cache_upstream"]["info"]["feature_extractor"] == "preprocessor_config.json"


def read_json_line(line: str) -> dict:
    import json

    return json.loads(line)
