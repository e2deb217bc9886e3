"""Per-corpus and per-speaker z-normalisation of feature vectors (PROTOCOL.md, "Beyond the paper").

``global`` (the paper's) leaves the vectors alone: the pipeline's ``StandardScaler`` is fitted on
the training rows. ``corpus`` / ``speaker`` first z-normalise each corpus / speaker with the mean
and standard deviation of all of its utterances (labels unused), then the pipeline applies
``global`` on top. Test corpora and speakers are normalised with their own unlabeled test audio:
transductive, and recorded as such in every result.

A group needs :data:`MIN_GROUP_UTTERANCES` utterances for meaningful statistics: with ``n`` of them
no z-score can exceed ``sqrt(n - 1)`` (Samuelson's inequality; a single utterance becomes the zero
vector, two become +-1 in every feature) and the standard deviation is off by about
``1 / sqrt(2 (n - 1))`` (24 % at 10). Smaller groups are used, but what they yield is marked.
"""
from collections import Counter
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

#: Normalisation variants; the first is the paper's (and the default).
NORMS: Tuple[str, ...] = ("global", "corpus", "speaker")

Statistics = Dict[str, Tuple[np.ndarray, np.ndarray]]

#: Fewer utterances per corpus / speaker than this give statistics too poor to trust (see above).
MIN_GROUP_UTTERANCES = 10


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


def group_sizes(groups: Sequence[str]) -> Dict[str, int]:
    """group -> number of its rows, in order of first appearance."""
    return dict(Counter(groups))


def small_groups(sizes: Mapping[str, int], minimum: int = MIN_GROUP_UTTERANCES) -> Dict[str, int]:
    """The groups with fewer than ``minimum`` utterances, sorted by name."""
    return {g: n for g, n in sorted(sizes.items()) if n < minimum}


def small_group_warning(norm: str, small: Mapping[str, int], role: str = "") -> Optional[str]:
    """One line naming the groups whose statistics are too poor (None if there are none)."""
    if not small:
        return None
    shown = ", ".join(f"{g} ({n})" for g, n in list(small.items())[:8]) + (" ..." if len(small) > 8 else "")
    single = " (one utterance: an all-zero vector)" if 1 in small.values() else ""
    return (f"{norm} normalisation: {len(small)} {role + ' ' if role else ''}{norm}(s) with fewer than "
            f"{MIN_GROUP_UTTERANCES} utterances{single}: {shown}; their statistics are unreliable")


def transductive_refusal(norm: str) -> str:
    """Why a corpus/speaker-normalised model cannot predict files whose grouping is unknown."""
    return (f"this model z-normalises features per {norm} with statistics of that {norm}'s own audio "
            f"({norm}-norm, transductive), so a prediction would depend on which other files are in the call; "
            f"say which files share a {norm}")
