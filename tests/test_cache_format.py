"""The feature cache format: shard plan, writer/reader round trip, validation, disk refusal (no upstream)."""
import json
import shutil
from collections import namedtuple

import numpy as np
import pytest

from s3prl_crosscorpus.cache import format as fc
from s3prl_crosscorpus.cache.format import CacheError, FeatureCache, ShardPlan, UpstreamKey

KEY = UpstreamKey("fake_upstream", "ab" * 32, num_layers=3, hidden_size=5, downsample_rate=320)


def fake_features(seed: int, frames: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(frames, KEY.num_layers, KEY.hidden_size)).astype(np.float32)


def write_cache(root, ids, shard_size=3, key=KEY):
    """A complete cache of random features; returns {id: fp32 features} and the plan."""
    plan = ShardPlan.from_ids(ids, shard_size)
    fc.prepare_root(root, key, plan)
    truth = {}
    for k, shard_ids in enumerate(plan.shards):
        items = []
        for n, utt in enumerate(shard_ids):
            truth[utt] = fake_features(len(truth), 4 + n)
            items.append((utt, f"sha-{utt}", truth[utt]))
        fc.write_shard(root, k, key, items)
    return truth, plan


def expected_rows(plan, shard):
    return [(i, f"sha-{i}") for i in plan.shards[shard]]


def test_plan_is_sorted_fixed_size_and_ranks_are_disjoint_and_cover():
    ids = [f"u{n:03d}" for n in range(23)][::-1]
    plan = ShardPlan.from_ids(ids, 4)
    assert [len(s) for s in plan.shards] == [4, 4, 4, 4, 4, 3]
    assert [i for s in plan.shards for i in s] == sorted(ids)
    assert ShardPlan.from_ids(sorted(ids), 4) == plan  # input order does not matter
    shares = [plan.for_rank(r, 4) for r in range(4)]
    assert shares[1] == [1, 5]
    flat = [k for share in shares for k in share]
    assert sorted(flat) == list(range(len(plan))) and len(set(flat)) == len(flat)
    with pytest.raises(CacheError):
        plan.for_rank(4, 4)


def test_round_trip_is_fp16_memory_mapped_and_keeps_every_layer(tmp_path):
    ids = [f"utt{n}" for n in range(7)]
    truth, plan = write_cache(tmp_path, ids)
    cache = FeatureCache(tmp_path, full=True)
    assert not cache.problems and len(cache) == 7
    for utt, feats in truth.items():
        stored = cache.features(utt)
        assert isinstance(stored, np.memmap) and stored.dtype == np.float16
        assert stored.shape == feats.shape  # [frames, layers, hidden]
        np.testing.assert_array_equal(stored, feats.astype(np.float16))
    header = json.loads((tmp_path / fc.HEADER).read_text())
    assert header["upstream"]["ckpt_sha256"] == KEY.ckpt_sha256 and header["num_shards"] == len(plan) == 3


def test_truncated_corrupted_and_interrupted_shards_are_detected(tmp_path):
    truth, plan = write_cache(tmp_path, [f"utt{n}" for n in range(9)])
    for k in range(3):
        assert fc.shard_problem(tmp_path, k, KEY, expected_rows(plan, k)) is None

    npy0, _ = fc.shard_paths(tmp_path, 0)
    with open(npy0, "r+b") as handle:  # truncated
        handle.truncate(npy0.stat().st_size - 7)
    assert "truncated" in fc.shard_problem(tmp_path, 0, KEY, expected_rows(plan, 0))

    npy1, _ = fc.shard_paths(tmp_path, 1)
    data = bytearray(npy1.read_bytes())
    data[-10] ^= 0xFF  # same size, one byte changed
    npy1.write_bytes(bytes(data))
    assert "corrupted" in fc.shard_problem(tmp_path, 1, KEY, expected_rows(plan, 1))
    assert fc.shard_problem(tmp_path, 1, KEY, expected_rows(plan, 1), full=False) is None  # size-only check

    _, index2 = fc.shard_paths(tmp_path, 2)
    index2.unlink()  # crash between the array and its index
    assert "interrupted" in fc.shard_problem(tmp_path, 2, KEY, expected_rows(plan, 2))

    cache = FeatureCache(tmp_path)
    assert set(cache.problems) == {0, 2}  # the reader's default check is by size and header
    with pytest.raises(CacheError, match="not in the cache"):
        cache.require(plan.shards[0])
    assert set(FeatureCache(tmp_path, full=True).problems) == {0, 1, 2}


def test_changed_audio_or_upstream_invalidates_a_shard(tmp_path):
    _, plan = write_cache(tmp_path, ["a", "b", "c"])
    rows = expected_rows(plan, 0)
    assert "audio changed" in fc.shard_problem(tmp_path, 0, KEY, [rows[0], ("b", "other-sha"), rows[2]])
    other = UpstreamKey("fake_upstream", "cd" * 32, 3, 5, 320)
    assert "made by" in fc.shard_problem(tmp_path, 0, other, rows)
    with pytest.raises(CacheError, match="holds features of"):
        fc.prepare_root(tmp_path, other, plan)


def test_reader_refuses_changed_audio(tmp_path):
    write_cache(tmp_path, ["a", "b"])
    cache = FeatureCache(tmp_path)
    cache.require(["a", "b"], {"a": "sha-a", "b": "sha-b"})
    with pytest.raises(CacheError, match="audio of 1 utterances changed"):
        cache.require(["a", "b"], {"a": "sha-a", "b": "new"})


def test_bad_features_are_refused_with_the_utterance_named(tmp_path):
    fc.prepare_root(tmp_path, KEY, ShardPlan.from_ids(["x"], 1))
    wrong_width = np.zeros((4, 3, 6), np.float32)
    with pytest.raises(CacheError, match="x: features of shape"):
        fc.write_shard(tmp_path, 0, KEY, [("x", "s", wrong_width)])
    overflow = np.full((4, 3, 5), 1e6, np.float32)
    with pytest.raises(CacheError, match="x: upstream features exceed the fp16 range"):
        fc.write_shard(tmp_path, 0, KEY, [("x", "s", overflow)])
    with pytest.raises(CacheError, match="non-finite"):
        fc.write_shard(tmp_path, 0, KEY, [("x", "s", np.full((4, 3, 5), np.nan, np.float32))])
    assert not fc.shard_paths(tmp_path, 0)[1].exists()


def test_disk_estimate_and_refusal(tmp_path, monkeypatch):
    assert fc.estimate_bytes(1000, 13, 768) == 1000 * 13 * 768 * 2
    assert fc.samples_at_16k(48000, 48000) == 16000 and fc.estimate_frames(16000, 320) == 50
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**9, 10**9 - 1234, 1234))
    with pytest.raises(CacheError) as err:
        fc.check_disk_space(tmp_path / "not" / "yet", 5000)
    message = str(err.value)
    assert "5000 bytes" in message and "1234 bytes" in message and str(tmp_path / "not" / "yet") in message
    assert fc.check_disk_space(tmp_path, 1000) == 1234
