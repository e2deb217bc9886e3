"""Synthetic shifted features for the domain tests: a strong per-corpus channel on top of emotion cues."""
from pathlib import Path
from typing import Sequence

import numpy as np

from s3prl_crosscorpus.cache.format import ShardPlan, UpstreamKey, prepare_root, write_shard
from s3prl_crosscorpus.core.io_utils import sha256_file
from s3prl_crosscorpus.core.labels import CORPORA, LABELS

#: Per-corpus channel offsets (in noise standard deviations) of the shifted dimensions.
CHANNEL = {corpus: 3.0 * np.eye(len(CORPORA))[k] for k, corpus in enumerate(CORPORA)}
EMOTION = {label: 1.5 * np.eye(len(LABELS))[k] for k, label in enumerate(LABELS)}


def utterance_vector(utt, rng: np.random.Generator, shifted: bool = True) -> np.ndarray:
    """[emotion (4) | channel (3) | noise (3)]: emotion cue + (optionally) the corpus channel + unit noise."""
    mean = np.concatenate([EMOTION[utt.label], CHANNEL[utt.corpus] if shifted else np.zeros(3), np.zeros(3)])
    return mean + rng.standard_normal(mean.shape)


def shifted_matrix(utts: Sequence, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([utterance_vector(u, rng) for u in utts])


def shifted_frames(utt, rng: np.random.Generator) -> np.ndarray:
    """[T, 2 layers, 10]: layer 0 carries the corpus channel, layer 1 only emotion; frames jitter around it."""
    frames = int(rng.integers(4, 9))
    layers = [utterance_vector(utt, rng, shifted=True), utterance_vector(utt, rng, shifted=False)]
    base = np.stack(layers)[None]  # [1, 2, 10]
    return (base + 0.5 * rng.standard_normal((frames, 2, base.shape[-1]))).astype(np.float16)


def write_shifted_cache(root: Path, utts: Sequence, name: str = "fbank", seed: int = 0) -> Path:
    """A feature cache in the real format whose layers are :func:`shifted_frames` of every utterance."""
    key = UpstreamKey(name=name, ckpt_sha256=None, num_layers=2, hidden_size=10, downsample_rate=160)
    by_id = {u.id: u for u in utts}
    plan = ShardPlan.from_ids(by_id, shard_size=64)
    prepare_root(root, key, plan)
    rng = np.random.default_rng(seed)
    for shard, ids in enumerate(plan.shards):
        write_shard(root, shard, key, [(i, sha256_file(by_id[i].path), shifted_frames(by_id[i], rng)) for i in ids])
    return Path(root)
