"""Speaker-level statistics of UAR (GitHub issue 12): intervals and paired tests whose unit is the speaker.

Everything works on per-speaker counts of one cell (system x condition x test corpus, all folds):
``support[s, c]``, the reference utterances of class ``c`` spoken by speaker ``s``, and
``correct[k, s, c]``, how many of them the model of seed ``k`` got right. Every utterance is tested
exactly once over the five folds, so the pooled UAR is ``mean_c(sum_s correct / sum_s support)``.

- Interval of a cell: percentile bootstrap over speakers. A resample draws S speakers with
  replacement and keeps all their utterances: a weight vector ``w`` (how often each speaker is
  drawn) turns the counts into ``w @ support`` and ``w @ correct``, so R resamples are two matrix
  products of shape (R, S) x (S, C).
- Paired difference of two cells on the same utterances: the same speaker resamples for both cells.
- Paired test: swapping the two cells' predictions for all utterances of one speaker leaves the
  class supports unchanged and flips the sign of that speaker's share ``t_s`` of the difference, so
  the randomisation null is ``sum_s (+-1) t_s``: exact over all 2^S sign patterns when 2^S <= R,
  else R random patterns with p = (1 + #{|T*| >= |T|}) / (R + 1). Two-sided.
- Several seeds: the figure is the mean over seeds of each seed's pooled UAR. UAR is linear in the
  correct counts at fixed support, so that equals the UAR of the seed-averaged counts, and both the
  bootstrap and the swap act on a speaker's seed-averaged counts. With the same seeds on both sides
  this is the same as pairing per seed and averaging the per-seed differences.
"""
import hashlib
import warnings
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

DEFAULT_RESAMPLES = 10_000
DEFAULT_SEED = 0
CONFIDENCE = 0.95
ALPHA = 0.05
#: |T*| >= |T| - TIE: permuted statistics equal to the observed one up to float summation order count as ties.
TIE = 1e-12


class StatsError(ValueError):
    """Counts that cannot be compared or summarised; the message says why."""


@dataclass(frozen=True)
class StatsConfig:
    """How intervals and tests are computed; the same config and data always give the same numbers."""

    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    confidence: float = CONFIDENCE
    alpha: float = ALPHA

    def __post_init__(self) -> None:
        if self.resamples < 1:
            raise StatsError(f"resamples must be at least 1, not {self.resamples}")
        if not 0 < self.confidence < 1 or not 0 < self.alpha < 1:
            raise StatsError(f"confidence ({self.confidence}) and alpha ({self.alpha}) must lie between 0 and 1")


@dataclass(frozen=True)
class SpeakerCounts:
    """Per-speaker class support and correct counts of one cell, per seed."""

    speakers: Tuple[str, ...]
    support: np.ndarray  # (S, C) int
    correct: np.ndarray  # (K, S, C) int, one slice per seed
    seeds: Tuple[Optional[int], ...]

    @property
    def mean_correct(self) -> np.ndarray:
        """(S, C) correct counts averaged over seeds."""
        return self.correct.mean(axis=0)

    @property
    def n_utterances(self) -> int:
        return int(self.support.sum())


def speaker_counts(speakers: Sequence[str], labels: Sequence[int], predictions: Mapping[Optional[int], Sequence[int]],
                   n_classes: int) -> SpeakerCounts:
    """Counts from aligned per-utterance speakers, reference class indices and, per seed, predicted class indices."""
    names, index = np.unique(np.asarray(speakers, dtype=str), return_inverse=True)
    labels = np.asarray(labels, dtype=int)
    cells = index * n_classes + labels
    size = len(names) * n_classes
    support = np.bincount(cells, minlength=size).reshape(len(names), n_classes)
    correct = np.stack([np.bincount(cells[np.asarray(pred, dtype=int) == labels], minlength=size)
                        .reshape(len(names), n_classes) for pred in predictions.values()])
    return SpeakerCounts(tuple(names.tolist()), support, correct, tuple(predictions))


def uar(support: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """UAR over the classes present (last axis), for any leading batch axes (e.g. resamples)."""
    present = support > 0
    recall = np.divide(correct, support, out=np.zeros(np.broadcast(support, correct).shape), where=present)
    return recall.sum(axis=-1) / present.sum(axis=-1)


def rng_for(config: StatsConfig, *key: object) -> np.random.Generator:
    """A generator seeded by the config's seed and ``key``: a cell's numbers do not depend on the rest of the table."""
    digest = hashlib.sha256("\x1f".join(map(str, key)).encode("utf-8")).digest()
    return np.random.default_rng([config.seed, int.from_bytes(digest[:8], "little")])


def speaker_resamples(rng: np.random.Generator, n_speakers: int, resamples: int) -> np.ndarray:
    """(resamples, n_speakers): how often each speaker is drawn when n_speakers are drawn with replacement."""
    draws = rng.integers(0, n_speakers, size=(resamples, n_speakers))
    flat = (draws + n_speakers * np.arange(resamples)[:, None]).ravel()
    return np.bincount(flat, minlength=resamples * n_speakers).reshape(resamples, n_speakers)


def bootstrap_uar(support: np.ndarray, correct: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """UAR of each speaker resample: ``weights`` (R, S) applied to per-speaker counts (S, C)."""
    return uar(weights @ support, weights @ correct)


def percentile_interval(values: np.ndarray, confidence: float) -> Tuple[float, float]:
    """The central ``confidence`` percentile interval of bootstrap values."""
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return float(low), float(high)


def speaker_shares(support: np.ndarray, correct_a: np.ndarray, correct_b: np.ndarray) -> np.ndarray:
    """Each speaker's share of UAR(b) - UAR(a) (they sum to it); swapping a speaker's predictions flips its sign."""
    total = support.sum(axis=0)
    present = total > 0
    return ((correct_b - correct_a)[:, present] / total[present]).sum(axis=1) / present.sum()


def sign_flip_test(shares: np.ndarray, resamples: int, rng: np.random.Generator) -> Tuple[float, bool, int]:
    """(two-sided p, exact?, patterns used) of the paired randomisation test of ``sum(shares)``."""
    shares = np.asarray(shares, dtype=float)
    observed = abs(float(shares.sum())) - TIE
    n = shares.size
    if 2 ** n <= resamples:
        signs = 1 - 2 * ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1)
        return float(np.mean(np.abs(signs @ shares) >= observed)), True, 2 ** n
    signs = 1 - 2 * rng.integers(0, 2, size=(resamples, n))
    return float((1 + np.sum(np.abs(signs @ shares) >= observed)) / (resamples + 1)), False, resamples


def holm(pvalues: Sequence[float]) -> List[float]:
    """Holm's step-down adjusted p-values, in the input order (family-wise error control)."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted.tolist()


def cell_interval(counts: SpeakerCounts, config: StatsConfig, key: Sequence[object]) -> dict:
    """Pooled UAR (mean over seeds) with its speaker-bootstrap interval, in %; per-seed figures and their spread."""
    support = counts.support.sum(axis=0)
    per_seed = uar(support, counts.correct.sum(axis=1))
    weights = speaker_resamples(rng_for(config, "cell", *key), len(counts.speakers), config.resamples)
    low, high = percentile_interval(bootstrap_uar(counts.support, counts.mean_correct, weights), config.confidence)
    return {
        "uar": 100.0 * float(uar(support, counts.mean_correct.sum(axis=0))), "ci": [100.0 * low, 100.0 * high],
        "n_utterances": counts.n_utterances, "n_speakers": len(counts.speakers), "seeds": list(counts.seeds),
        "per_seed": {str(seed): 100.0 * float(v) for seed, v in zip(counts.seeds, per_seed)},
        "seed_std": 100.0 * float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else None,
    }


def check_paired(a: SpeakerCounts, b: SpeakerCounts) -> None:
    """Both cells must hold the same speakers with the same class support (the caller checks the utterance ids)."""
    if a.speakers != b.speakers or not np.array_equal(a.support, b.support):
        raise StatsError("the two cells were not tested on the same speakers and classes")


def paired_difference(a: SpeakerCounts, b: SpeakerCounts, config: StatsConfig, key: Sequence[object]) -> dict:
    """UAR(b) - UAR(a) in points, its paired speaker-bootstrap interval and the speaker-swap test's two-sided p."""
    check_paired(a, b)
    shares = speaker_shares(a.support, a.mean_correct, b.mean_correct)
    weights = speaker_resamples(rng_for(config, "pair", *key), len(a.speakers), config.resamples)
    boot = bootstrap_uar(a.support, b.mean_correct, weights) - bootstrap_uar(a.support, a.mean_correct, weights)
    low, high = percentile_interval(boot, config.confidence)
    p, exact, patterns = sign_flip_test(shares, config.resamples, rng_for(config, "swap", *key))
    return {"diff": 100.0 * float(shares.sum()), "ci": [100.0 * low, 100.0 * high], "p": p, "exact": exact,
            "permutations": patterns, "n_speakers": len(a.speakers), "n_utterances": a.n_utterances}


def wilcoxon_folds(a: Sequence[float], b: Sequence[float]) -> Dict[str, Optional[float]]:
    """Side figure: Wilcoxon signed-rank test over paired per-fold values (5 folds: p is never below 0.0625)."""
    from scipy.stats import wilcoxon

    diffs = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    if not np.any(diffs):
        return {"p": 1.0, "n_folds": len(diffs)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns that few pairs give a coarse p: that is the point made here
        result = wilcoxon(diffs)
    return {"p": float(result.pvalue), "n_folds": len(diffs)}
