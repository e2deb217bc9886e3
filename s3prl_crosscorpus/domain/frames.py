"""Per-corpus / per-speaker statistics of cached upstream frames, for the DNN's normalisation.

The DNN normalises *each hidden layer's frames* with the statistics of its group (corpus or
speaker: all of the group's utterances in the manifest, labels unused) before the featurizer's
learned weighted sum. The weights change during training, so statistics of the weighted sum would
go stale; normalising every layer instead gives a weighted sum whose group mean is exactly zero
for any weights. Statistics are frame-level mean and standard deviation per layer and dimension,
computed once from the feature cache. Like the SVM's, they use unlabeled test audio: transductive.
"""
from typing import Dict, Iterable, Sequence, Tuple

import numpy as np
from s3prl_crosscorpus.core.progress import Progress as tqdm  # plain lines when not a terminal

from ..core.normalise import group_of

from ..core.corpora import Utterance

#: group -> (mean, scale), each float32 ``[layers, hidden]``.
FrameStatistics = Dict[str, Tuple[np.ndarray, np.ndarray]]


def groups_needed(utts: Iterable[Utterance], norm: str) -> set:
    return {group_of(u.corpus, u.speaker, norm) for u in utts}


def frame_statistics(cache, manifest: Sequence[Utterance], wanted: Iterable[Utterance], norm: str,
                     progress: bool = True) -> FrameStatistics:
    """Statistics of every group that an utterance of ``wanted`` belongs to, over all of the group's
    manifest utterances (which ``cache``, a :class:`~..cache.format.FeatureCache`, must hold)."""
    groups = groups_needed(wanted, norm)
    members = [u for u in manifest if group_of(u.corpus, u.speaker, norm) in groups]
    cache.require([u.id for u in members])
    sums: Dict[str, list] = {}
    for utt in tqdm(members, desc=f"{norm} statistics of cached frames", unit="utt", disable=not progress,
                    leave=False):
        frames = np.asarray(cache.features(utt.id), dtype=np.float64)  # [T, L, D]
        acc = sums.setdefault(group_of(utt.corpus, utt.speaker, norm), [0, 0.0, 0.0])
        acc[0] += len(frames)
        acc[1] = acc[1] + frames.sum(axis=0)
        acc[2] = acc[2] + np.square(frames).sum(axis=0)
    stats: FrameStatistics = {}
    for group, (n, total, squares) in sums.items():
        mean = total / n
        scale = np.sqrt(np.maximum(squares / n - mean ** 2, 0.0))
        scale[scale < 1e-6] = 1.0  # constant dimension: leave its scale alone (as StandardScaler)
        stats[group] = (mean.astype(np.float32), scale.astype(np.float32))
    return stats
