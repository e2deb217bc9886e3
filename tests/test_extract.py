"""``extract``: a tiny random HuBERT over the synthetic corpora; resume, corruption, ranks, refusals."""
import os
import shutil
import subprocess
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from s3prl_crosscorpus.cache import extract as ex
from s3prl_crosscorpus.cache.format import CacheError, FeatureCache, shard_paths
from s3prl_crosscorpus.commands import extract as extract_command
from s3prl_crosscorpus.core.audio import load_audio
from s3prl_crosscorpus.core.io_utils import write_jsonl


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory) -> str:
    from s3prl_crosscorpus.demo.random_hubert import write_random_hubert

    return str(write_random_hubert(tmp_path_factory.mktemp("upstream") / "tiny_hubert.pt", size="tiny", seed=0))


@pytest.fixture(scope="module")
def extractor(tiny_ckpt):
    """One loaded upstream for the module, with a counter of its forward calls."""
    upstream = ex.UpstreamExtractor("hubert_local", tiny_ckpt, "cpu")
    upstream.calls = 0

    def count(module, inputs, output):
        upstream.calls += 1

    upstream.upstream.register_forward_hook(count)
    return upstream


@pytest.fixture(scope="module")
def full_cache(data_dir, extractor, tmp_path_factory):
    """The whole synthetic manifest extracted once (shards of 32)."""
    out = tmp_path_factory.mktemp("cache")
    report = ex.extract(data_dir, out, "hubert_local", extractor.ckpt, extractor=extractor, quiet=True)
    return out, report


def subset_data(tmp_path: Path, utterances, n: int, copy_audio: bool = False) -> Path:
    """A DATA_DIR with the first ``n`` utterances (sorted ids), optionally with private copies of the audio."""
    chosen = sorted(utterances, key=lambda u: u.id)[:n]
    rows = []
    for utt in chosen:
        row = utt.to_dict()
        if copy_audio:
            row["path"] = str(shutil.copy(utt.path, tmp_path / f"{utt.id}.wav"))
        rows.append(row)
    data = tmp_path / "data"
    write_jsonl(data / "manifest.jsonl", rows)
    return data


def calls_during(extractor, action) -> int:
    before = extractor.calls
    action()
    return extractor.calls - before


@pytest.mark.e2e
def test_every_hidden_layer_is_stored_in_fp16(full_cache, utterances, extractor):
    out, report = full_cache
    cache = FeatureCache(out, full=True)
    assert not cache.problems and len(cache) == len(utterances) == report.utterances
    import torch

    assert (cache.num_layers, cache.hidden_size, cache.key.downsample_rate) == (3, 48, 320)  # 2 layers + input
    for utt in sorted(utterances, key=lambda u: u.id)[::70]:
        wav = load_audio(utt.path)
        with torch.no_grad():
            hidden = extractor.upstream([torch.from_numpy(wav)])["hidden_states"]
        stored = cache.features(utt.id)
        assert stored.dtype == np.float16 and stored.shape[1:] == (len(hidden), 48)
        assert stored.shape[0] == min(round(len(wav) / 320), hidden[0].shape[1])  # s3prl Featurizer's frames
        for layer, h in enumerate(hidden):
            np.testing.assert_allclose(stored[:, layer].astype(np.float32), h[0, :stored.shape[0]].numpy(),
                                       rtol=2 ** -10, atol=1e-6)


@pytest.mark.e2e
def test_a_second_run_skips_every_shard_without_a_forward(full_cache, data_dir, extractor):
    out, first = full_cache
    report = None

    def run():
        nonlocal report
        report = ex.extract(data_dir, out, "hubert_local", extractor.ckpt, extractor=extractor, quiet=True)

    assert calls_during(extractor, run) == 0
    assert report.written == {} and sorted(report.skipped) == sorted(first.written)


def test_truncated_corrupted_and_unindexed_shards_are_redone(tmp_path, utterances, extractor):
    data = subset_data(tmp_path, utterances, 20)
    out = tmp_path / "cache"
    ex.extract(data, out, "hubert_local", extractor.ckpt, extractor=extractor, shard_size=4, quiet=True)
    before = {i: np.array(FeatureCache(out).features(i)) for i in FeatureCache(out).entries}

    npy0, _ = shard_paths(out, 0)
    os.truncate(npy0, npy0.stat().st_size // 2)
    npy1, _ = shard_paths(out, 1)
    data1 = bytearray(npy1.read_bytes())
    data1[len(data1) // 2] ^= 0x55
    npy1.write_bytes(bytes(data1))
    shard_paths(out, 3)[1].unlink()

    report = None

    def run():
        nonlocal report
        report = ex.extract(data, out, "hubert_local", extractor.ckpt, extractor=extractor, shard_size=4, quiet=True)

    assert calls_during(extractor, run) == 12  # three shards of four utterances, nothing else
    assert sorted(report.written) == [0, 1, 3] and sorted(report.skipped) == [2, 4]
    assert "truncated" in report.written[0] and "corrupted" in report.written[1]
    cache = FeatureCache(out, full=True)
    assert not cache.problems
    for utt, feats in before.items():
        np.testing.assert_array_equal(cache.features(utt), feats)


def test_changed_audio_redoes_only_its_shard(tmp_path, utterances, extractor):
    data = subset_data(tmp_path, utterances, 8, copy_audio=True)
    out = tmp_path / "cache"
    ex.extract(data, out, "hubert_local", extractor.ckpt, extractor=extractor, shard_size=4, quiet=True)
    victim = sorted(u.id for u in utterances)[5]  # in shard 1
    samples, rate = sf.read(tmp_path / f"{victim}.wav")
    sf.write(tmp_path / f"{victim}.wav", samples[::-1].copy(), rate)
    assert calls_during(extractor, lambda: ex.extract(data, out, "hubert_local", extractor.ckpt,
                                                      extractor=extractor, shard_size=4, quiet=True)) == 4
    cache = FeatureCache(out)
    np.testing.assert_allclose(cache.features(victim).astype(np.float32),
                               extractor(load_audio(tmp_path / f"{victim}.wav")), rtol=2 ** -10, atol=1e-6)


def test_ranks_take_disjoint_shares_whose_union_is_the_cache(tmp_path, utterances, extractor):
    data = subset_data(tmp_path, utterances, 18)
    out = tmp_path / "cache"
    reports = []
    for rank in (0, 1):
        reports.append(ex.extract(data, out, "hubert_local", extractor.ckpt, extractor=extractor, shard_size=4,
                                  rank=rank, world_size=2, quiet=True))
        if rank == 0:
            partial = FeatureCache(out)
            assert sorted(partial.problems) == [1, 3] and len(partial) == 10
            with pytest.raises(CacheError, match="8 of 18 utterances are not in the cache"):
                partial.require(sorted(u.id for u in utterances)[:18])
    assert sorted(reports[0].written) == [0, 2, 4] and sorted(reports[1].written) == [1, 3]
    cache = FeatureCache(out, full=True)
    assert not cache.problems and len(cache) == 18


@pytest.mark.e2e
def test_torchrun_two_processes_fill_the_cache(tmp_path, utterances, tiny_ckpt):
    if shutil.which("torchrun") is None:
        pytest.fail("torchrun is not installed with torch")
    data = subset_data(tmp_path, utterances, 12)
    out = tmp_path / "cache"
    command = ["torchrun", "--standalone", "--nproc_per_node=2", "-m", "s3prl_crosscorpus", "extract",
               "-u", "hubert_local", "-k", tiny_ckpt, "--data", str(data), "--out", str(out),
               "--shard-size", "2", "--device", "cpu", "--workers", "0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[extract rank 0]" in result.stderr and "[extract rank 1]" in result.stderr
    assert "wrote 3 shards" in result.stderr  # 6 shards, 3 per rank
    cache = FeatureCache(out, full=True)
    assert not cache.problems and len(cache) == 12


@pytest.mark.e2e
def test_another_upstream_is_refused_in_the_same_folder(full_cache, data_dir):
    out, _ = full_cache
    with pytest.raises(CacheError, match="holds features of upstream 'hubert_local'"):
        ex.extract(data_dir, out, "fbank", None, quiet=True)


def test_single_layer_upstream_fbank(tmp_path, utterances):
    data = subset_data(tmp_path, utterances, 6)
    report = ex.extract(data, tmp_path / "cache", "fbank", None, device="cpu", quiet=True)
    cache = FeatureCache(tmp_path / "cache")
    assert report.utterances == 6 and cache.num_layers == 1 and cache.key.ckpt_sha256 is None
    assert cache.features(sorted(cache.entries)[0]).shape[1:] == (1, cache.hidden_size)


def test_disk_space_is_reported_and_refused(tmp_path, utterances, tiny_ckpt, monkeypatch, capsys):
    data = subset_data(tmp_path, utterances, 6)
    out = tmp_path / "cache"
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**12, 10**12 - 1000, 1000))
    assert extract_command.main(["-u", "hubert_local", "-k", tiny_ckpt, "--data", str(data), "--out", str(out),
                    "--device", "cpu"]) == 2
    message = capsys.readouterr().err
    assert "not enough disk space" in message and "1000 bytes" in message and str(out) in message
    assert not list(out.glob("shards/*.npy"))
    monkeypatch.undo()
    assert extract_command.main(["-u", "hubert_local", "-k", tiny_ckpt, "--data", str(data), "--out", str(out),
                    "--device", "cpu", "--workers", "0"]) == 0
    err = capsys.readouterr().err
    frames = sum(ex.estimated_frames([u for u in utterances if u.id in FeatureCache(out).entries], 320).values())
    assert f"disk estimate: {frames} frames x 3 layers x 48 x 2 bytes" in err
    stored = sum(FeatureCache(out).length(i) for i in FeatureCache(out).entries)
    assert stored <= frames  # the estimate is an upper bound of what is stored
