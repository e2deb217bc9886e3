"""Corrupt or mismatched feature caches: digest and finiteness verified before use, shard size kept."""
import json
import logging

import numpy as np
import pytest

from s3prl_crosscorpus.cache import format as fc
from s3prl_crosscorpus.cache.format import CacheError, FeatureCache, ShardPlan, UpstreamKey

KEY = UpstreamKey("fake_upstream", "ab" * 32, num_layers=3, hidden_size=5, downsample_rate=320)


@pytest.fixture(autouse=True)
def fresh_process_memo(monkeypatch):
    """Each test starts as a new process would: no array verified, no warning given yet."""
    monkeypatch.setattr(fc, "_VERIFIED", set(), raising=False)
    monkeypatch.setattr(fc, "_NOTED", set(), raising=False)


def write_cache(root, ids, shard_size=3):
    """A complete cache of random features; returns the plan."""
    plan = ShardPlan.from_ids(ids, shard_size)
    fc.prepare_root(root, KEY, plan)
    rng = np.random.default_rng(0)
    for k, shard_ids in enumerate(plan.shards):
        items = [(u, f"sha-{u}", rng.normal(size=(4 + n, 3, 5)).astype(np.float32)) for n, u in enumerate(shard_ids)]
        fc.write_shard(root, k, KEY, items)
    return plan


def overwrite(path, offset, data: bytes) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(data)


def data_offset(npy) -> int:
    """Byte offset of the array's first value (after the .npy header)."""
    return npy.stat().st_size - np.load(npy, mmap_mode="r").nbytes


def put_nan(root, shard: int, frame: int, rewrite_digest: bool = True):
    """A NaN at ``frame`` of a shard; with ``rewrite_digest`` the index is made to match, as a writer
    without the finiteness check would have left it."""
    npy, index_path = fc.shard_paths(root, shard)
    width = KEY.num_layers * KEY.hidden_size * 2
    overwrite(npy, data_offset(npy) + frame * width + 4, np.array([np.nan], np.float16).tobytes())
    if rewrite_digest:
        index = json.loads(index_path.read_text())
        index["sha256"] = fc.sha256_file(npy)
        index_path.write_text(json.dumps(index))
    return npy


def test_same_size_corruption_is_refused_naming_the_array(tmp_path):
    write_cache(tmp_path, [f"u{n}" for n in range(6)])
    npy, _ = fc.shard_paths(tmp_path, 0)
    size = npy.stat().st_size
    overwrite(npy, data_offset(npy) + 10, bytes(range(20)) * 2)  # same size, header intact
    assert npy.stat().st_size == size
    cache = FeatureCache(tmp_path)  # the open-time check is by size and header: it passes
    assert not cache.problems
    with pytest.raises(CacheError) as err:
        cache.verify(["u0"])
    message = str(err.value)
    assert message.startswith(f"{npy}: contents differ from the sha256") and "extract" in message
    assert "\n" not in message
    cache.verify(["u3", "u4"])  # shard 1 is intact
    with pytest.raises(CacheError, match="contents differ from the sha256"):
        FeatureCache(tmp_path).features("u1")  # a reader that skips verify() is checked on first use


def test_non_finite_values_are_refused_naming_shard_and_utterance(tmp_path):
    plan = write_cache(tmp_path, [f"u{n}" for n in range(6)])
    # shard 1 holds u3 (frames 0-3), u4 (4-8), u5 (9-14): frame 6 is u4's
    npy = put_nan(tmp_path, 1, 6)
    assert "utterance u4 holds non-finite" in FeatureCache(tmp_path, full=True).problems[1]
    with pytest.raises(CacheError) as err:
        FeatureCache(tmp_path).verify()
    assert str(err.value).startswith(f"{npy}: utterance u4 holds non-finite features")
    # extract's resume check finds it too, so a re-run redoes the shard
    rows = [(i, f"sha-{i}") for i in plan.shards[1]]
    assert "utterance u4 holds non-finite" in fc.shard_problem(tmp_path, 1, KEY, rows)


def test_a_shard_is_verified_once_per_process(tmp_path, monkeypatch):
    write_cache(tmp_path, [f"u{n}" for n in range(6)])
    calls = []
    real = fc.array_problem
    monkeypatch.setattr(fc, "array_problem", lambda npy, index: calls.append(npy.name) or real(npy, index))
    FeatureCache(tmp_path).verify()
    cache = FeatureCache(tmp_path)  # e.g. the test evaluation after training, in the same process
    cache.verify()
    for utt in ("u0", "u1", "u4"):
        cache.features(utt)
    assert sorted(calls) == ["00000.npy", "00001.npy"]
    npy, _ = fc.shard_paths(tmp_path, 0)
    overwrite(npy, data_offset(npy), b"\x00\x7c")  # changed on disk: a new file version is checked again
    with pytest.raises(CacheError, match="differ from the sha256"):
        FeatureCache(tmp_path).verify()


def test_an_index_without_sha256_warns_once_and_still_checks_values(tmp_path, caplog):
    write_cache(tmp_path, [f"u{n}" for n in range(6)])
    for k in (0, 1):
        index_path = fc.shard_paths(tmp_path, k)[1]
        index = json.loads(index_path.read_text())
        del index["sha256"]
        index_path.write_text(json.dumps(index))
    notes = FeatureCache(tmp_path).verify()
    assert len(notes) == 2 and "records no sha256" in notes[0] and str(fc.shard_paths(tmp_path, 0)[1]) in notes[0]
    assert FeatureCache(tmp_path).verify() == []  # once per process
    with caplog.at_level(logging.WARNING, logger=fc.__name__):
        FeatureCache(tmp_path).features("u0")
    assert not caplog.records
    npy = put_nan(tmp_path, 0, 2, rewrite_digest=False)
    with pytest.raises(CacheError, match=f"{npy}: utterance u0 holds non-finite"):
        FeatureCache(tmp_path).verify()
    rows = [(i, f"sha-{i}") for i in ("u0", "u1", "u2")]
    assert "index without a checksum" in fc.shard_problem(tmp_path, 0, KEY, rows)  # extract redoes it


def test_an_index_missing_fields_is_a_problem_not_a_traceback(tmp_path):
    write_cache(tmp_path, ["a", "b", "c"])
    index_path = fc.shard_paths(tmp_path, 0)[1]
    index = json.loads(index_path.read_text())
    del index["bytes"]
    index_path.write_text(json.dumps(index))
    assert FeatureCache(tmp_path).problems == {0: "index without bytes"}


# --------------------------------------------------------------------------- end to end

def emodb_data(tmp_path, utterances):
    from s3prl_crosscorpus.core.io_utils import write_jsonl

    data = tmp_path / "data"
    write_jsonl(data / "manifest.jsonl", [u.to_dict() for u in utterances if u.corpus == "emodb"])
    return data


@pytest.mark.e2e
def test_train_cached_refuses_a_corrupted_shard_before_training(tmp_path, utterances, capsys):
    from pathlib import Path

    from s3prl_crosscorpus.cache.extract import extract
    from s3prl_crosscorpus.commands.train_cached import main as train_cached
    from s3prl_crosscorpus.core.names import expert_overrides, s3prl_overrides

    data = emodb_data(tmp_path, utterances)
    cache = tmp_path / "cache"
    extract(data, cache, "fbank_no_cmvn", None, device="cpu", workers=0, quiet=True)
    npy = cache / "shards" / "00000.npy"
    overwrite(npy, data_offset(npy) + 4096, np.random.default_rng(1).bytes(400))  # 400 bytes, same size
    smoke = str(Path(__file__).resolve().parent.parent / "downstream_configs" / "smoke.yaml")
    overrides = s3prl_overrides({**expert_overrides(dict(data_dir=str(data), condition="matched", test_corpus="emodb",
                                                         fold=1), results_dir=str(tmp_path / "results")),
                                 "config.runner.total_steps": 4, "config.runner.eval_step": 2})
    capsys.readouterr()
    assert train_cached(["--cache", str(cache), "-c", smoke, "-p", str(tmp_path / "exp"), "-o", overrides]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert errors == [f"s3prl-crosscorpus train-cached: error: {npy}: contents differ from the sha256 recorded in "
                      f"its index 00000.json at extraction (corrupted or changed since); run `s3prl-crosscorpus "
                      f"extract` again with --out {cache} to redo this shard"]
    assert "Traceback" not in err
    assert not list(tmp_path.glob("results/*")) and not list(tmp_path.glob("exp/*.ckpt"))


@pytest.mark.e2e
def test_extract_into_a_cache_of_another_shard_size_is_refused_and_resumes_without_it(tmp_path, utterances, capsys):
    from s3prl_crosscorpus.cache.extract import extract
    from s3prl_crosscorpus.commands.extract import main as extract_command

    data = emodb_data(tmp_path, utterances[:10])
    cache = tmp_path / "cache"
    extract(data, cache, "fbank_no_cmvn", None, device="cpu", workers=0, shard_size=4, quiet=True)
    before = {p.name: p.read_bytes() for p in (cache / "shards").iterdir()}
    assert len(before) == 6  # 3 shards of 4, 4, 2 utterances: .npy + .json each
    capsys.readouterr()
    assert extract_command(["-u", "fbank_no_cmvn", "--data", str(data), "--out", str(cache), "--device", "cpu",
                            "--shard-size", "8"]) == 2
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if "error" in line] == [
        f"extract: error: {cache} was extracted with --shard-size 4, not 8: every shard would be redone and the "
        f"surplus ones left behind; resume with --shard-size 4 (or without the option), or extract with "
        f"--shard-size 8 into another --out folder"]
    assert {p.name: p.read_bytes() for p in (cache / "shards").iterdir()} == before
    again = extract(data, cache, "fbank_no_cmvn", None, device="cpu", workers=0, quiet=True)  # no --shard-size
    assert again.written == {} and sorted(again.skipped) == [0, 1, 2]


class NanUpstream:
    """A stand-in extractor: constant features, NaN for one utterance (as an fp16 overflow upstream would give)."""

    name, ckpt, device = "fake_upstream", None, "cpu"

    def __init__(self, bad_samples: int):
        self.bad_samples = bad_samples

    def key(self) -> UpstreamKey:
        return UpstreamKey(self.name, None, 3, 5, 320)

    def info(self) -> dict:
        return {"model": "fake"}

    def describe(self) -> str:
        return self.name

    def stored_ckpt(self):
        return None

    def __call__(self, wav):
        frames = np.full((round(len(wav) / 320), 3, 5), 0.5, np.float32)
        return frames * np.nan if len(wav) == self.bad_samples else frames


def test_extract_never_writes_non_finite_upstream_features(tmp_path, utterances):
    from s3prl_crosscorpus.cache.extract import extract
    from s3prl_crosscorpus.core.audio import load_audio

    chosen = sorted((u for u in utterances if u.corpus == "emodb"), key=lambda u: u.id)[:4]
    data = emodb_data(tmp_path, chosen)
    victim = chosen[1]
    report = extract(data, tmp_path / "cache", "fake_upstream", None, workers=0, quiet=True,
                     extractor=NanUpstream(len(load_audio(victim.path))))
    assert report.excluded == {victim.id: f"{victim.path}: upstream features hold non-finite values"}
    cache = FeatureCache(tmp_path / "cache")
    assert victim.id not in cache and victim.id in cache.excluded and len(cache) == 3
    cache.verify()  # what was stored is finite
