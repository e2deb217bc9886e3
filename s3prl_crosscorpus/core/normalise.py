"""Per-corpus and per-speaker z-normalisation of feature vectors (PROTOCOL.md, "Beyond the paper").

``global`` (the paper's) leaves the vectors alone: the pipeline's ``StandardScaler`` is fitted on
the training rows. ``corpus`` / ``speaker`` first z-normalise each corpus / speaker with the mean
and standard deviation of all of its utterances (labels unused), then the pipeline applies
``global`` on top. Test corpora and speakers are normalised with their own unlabeled test audio:
transductive, and recorded as such in every result.
"""
from typing import Dict, Mapping, Sequence, Tuple

import numpy as np

#: Normalisation variants; the first is the paper's (and the default).
NORMS: Tuple[str, ...] = ("global", "corpus", "speaker")

Statistics = Dict[str, Tuple[np.ndarray, np.ndarray]]


def check_norm(norm: str) -> str:
    if norm not in NORMS:
        raise ValueError(f"unknown normalisation {norm!r}; choose one of {', '.join(NORMS)}")
    return norm


def is_transductive(norm: str) -> bool:
    """True when test vectors are normalised with statistics of the (unlabeled) test audio."""
    return check_norm(norm) != "global"


def group_of(corpus: str, speaker: str, norm: str) -> str:
    """The normalisation group of an utterance: its corpus, its speaker (corpus-qualified), or one group."""
    return {"global": "all", "corpus": corpus, "speaker": f"{corpus}/{speaker}"}[check_norm(norm)]


def group_statistics(X: np.ndarray, groups: Sequence[str]) -> Statistics:
    """group -> (mean, scale) over its rows, float64; a constant feature gets scale 1 (as StandardScaler)."""
    X = np.asarray(X, dtype=np.float64)
    groups = np.asarray(groups)
    stats: Statistics = {}
    for group in dict.fromkeys(groups.tolist()):
        rows = X[groups == group]
        scale = rows.std(axis=0)
        scale[scale < 10 * np.finfo(np.float64).eps] = 1.0
        stats[group] = (rows.mean(axis=0), scale)
    return stats


def apply_statistics(X: np.ndarray, groups: Sequence[str], stats: Mapping[str, Tuple[np.ndarray, np.ndarray]]
                     ) -> np.ndarray:
    """Each row z-normalised with its group's statistics (float64)."""
    missing = sorted(set(groups) - set(stats))
    if missing:
        raise KeyError(f"no normalisation statistics for group(s) {missing}")
    out = np.asarray(X, dtype=np.float64).copy()
    groups = np.asarray(groups)
    for group, (mean, scale) in stats.items():
        rows = groups == group
        out[rows] = (out[rows] - mean) / scale
    return out
