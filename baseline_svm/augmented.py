"""openSMILE functionals of augmented training copies, cached like the plain features.

Each copy is keyed by (file content, SPEC identity, drawn plan), the plan being a function of the copy
seed (run seed, file content, copy number) and, for babble, of the split's training talkers: a second run
extracts nothing. Only the training ids of a split are ever augmented (:func:`training_copies`).
"""
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from s3prl_crosscorpus.core.progress import Progress as tqdm  # plain lines when not a terminal

from s3prl_crosscorpus.augment.plan import Copy, augmented_audio, training_copies
from s3prl_crosscorpus.augment.spec import Spec, check_degrade  # noqa: F401 (used by run and cli)
from s3prl_crosscorpus.core.audio import TARGET_RATE
from s3prl_crosscorpus.core.corpora import Utterance
from s3prl_crosscorpus.core.folds import Split
from s3prl_crosscorpus.core.io_utils import WriteError, sha256_file

from .features import FEATURE_SETS, parallel_outcomes, progress_after_first, read_cached, smile_for, write_cached

AUGMENTED = "augmented"


def copy_cache(cache_dir: Optional[Path]) -> Optional[str]:
    """Augmented copies live beside the plain features, in their own folder."""
    return None if cache_dir is None else str(Path(cache_dir) / AUGMENTED)


def copy_functionals(copy: Copy, feature_set: str) -> np.ndarray:
    frame = smile_for(feature_set).process_signal(augmented_audio(copy.path, copy.plan), TARGET_RATE)
    vector = np.asarray(frame.to_numpy(), dtype=np.float32).reshape(-1)
    if vector.size != FEATURE_SETS[feature_set] or not np.all(np.isfinite(vector)):
        raise ValueError(f"openSMILE returned {vector.size} values, some non-finite, for an augmented copy")
    return vector


def process_copy(copy: Copy, feature_set: str, cache_dir: Optional[str]) -> Tuple[str, Optional[np.ndarray], str, bool]:
    """(key, vector or None, failure reason, from cache) of one copy; never raises for bad audio."""
    if cache_dir is not None:
        hit = read_cached(cache_dir, feature_set, copy.key)
        if hit is not None:
            return copy.key, hit[0], hit[1], True
    try:
        vector, reason = copy_functionals(copy, feature_set), ""
    except Exception as err:  # audio, augmentation and openSMILE errors each exclude the copy only
        vector, reason = None, str(err) or type(err).__name__
    if cache_dir is not None:
        try:
            write_cached(cache_dir, feature_set, copy.key, vector, reason)
        except WriteError:
            pass  # used in this run, recomputed next time
    return copy.key, vector, reason, False


@dataclass
class CopyExtraction:
    """Features of augmented copies by cache key, failed copies with reasons, counts and time."""

    vectors: Dict[str, np.ndarray] = field(default_factory=dict)
    failed: List[Dict[str, str]] = field(default_factory=list)
    extracted: int = 0
    cached: int = 0
    seconds: float = 0.0


def extract_copies(copies: Sequence[Copy], feature_set: str, cache_dir: Optional[Path] = None,
                   n_jobs: Optional[int] = None, progress: bool = True) -> CopyExtraction:
    """Functionals of every copy (unique by key) in parallel, through the cache."""
    unique = list({c.key: c for c in copies}.values())
    cache = copy_cache(cache_dir)
    start = time.perf_counter()
    outcomes = parallel_outcomes(process_copy, unique, n_jobs, feature_set, cache)
    result = CopyExtraction()
    paths = {c.key: c.path for c in unique}
    for key, vector, reason, cached in progress_after_first(outcomes, len(unique), f"augmented {feature_set}",
                                                            progress):
        result.cached += cached
        result.extracted += not cached
        if vector is None:
            result.failed.append({"path": paths[key], "key": key, "reason": reason})
        else:
            result.vectors[key] = vector
    result.seconds = time.perf_counter() - start
    for item in result.failed:
        tqdm.write(f"augmented copy of {item['path']} left out: {item['reason']}", file=sys.stderr)
    return result


def file_digests(paths: Sequence[str]) -> Dict[str, str]:
    """sha256 of each readable file (unreadable ones are left out: they have no features either)."""
    digests = {}
    for path in paths:
        try:
            digests[path] = sha256_file(path)
        except OSError:
            continue
    return digests


def split_copies(spec: Spec, copies: int, seed: int, splits: Sequence[Split], by_id: Mapping[str, Utterance],
                 usable: Sequence[str]) -> Dict[Tuple[str, int, Optional[str]], List[Copy]]:
    """The copies of each split's training ids that have plain features (``usable`` paths), by split key."""
    wanted = {by_id[i].path for s in splits for i in s.train} & set(usable)
    digests = file_digests(sorted(wanted))
    out = {}
    for split in splits:
        train = tuple(i for i in split.train if by_id[i].path in wanted)
        trimmed = Split(split.condition, split.fold, split.train_corpora, split.test_corpora, train, split.dev, split.test)
        out[split_key(split)] = training_copies(spec, copies, seed, trimmed, by_id, digests)
    return out


def split_key(split: Split) -> Tuple[str, int, Optional[str]]:
    return split.condition, split.fold, ",".join(split.test_corpora)


def copy_rows(copies: Sequence[Copy], features: CopyExtraction) -> Tuple[List[str], np.ndarray]:
    """(utterance id of each usable copy, their feature matrix), in plan order."""
    kept = [c for c in copies if c.key in features.vectors]
    if not kept:
        return [], np.zeros((0, 0), dtype=np.float32)
    return [c.utt_id for c in kept], np.stack([features.vectors[c.key] for c in kept]).astype(np.float32)


def degraded_copies(spec: Spec, seed: int, test_ids: Sequence[str], by_id: Mapping[str, Utterance],
                    usable: Sequence[str]) -> Dict[str, Copy]:
    """One degraded copy (copy 0) of every test utterance with plain features, by id."""
    wanted = {by_id[i].path for i in test_ids} & set(usable)
    digests = file_digests(sorted(wanted))
    split = Split("test", 0, (), (), tuple(i for i in test_ids if by_id[i].path in wanted), (), ())
    return {c.utt_id: c for c in training_copies(spec, 1, seed, split, by_id, digests)}
