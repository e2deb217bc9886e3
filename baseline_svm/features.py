"""openSMILE functionals of 16 kHz mono audio, extracted in parallel and cached on disk.

The cache key is the SHA-256 of the file's bytes, the feature set, the openSMILE version and
:data:`PIPELINE_VERSION` (bump it when the audio front end changes), so a renamed or moved
file is still a hit and an edited file is a miss. Failures are cached too (they depend only
on the bytes), so a second run extracts nothing and still names every excluded file.
"""
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
from s3prl_crosscorpus.core.progress import Progress as tqdm  # plain lines when not a terminal

from s3prl_crosscorpus.core.audio import TARGET_RATE, load_audio
from s3prl_crosscorpus.core.io_utils import WriteError, atomic_open, sha256_file

#: Feature set name -> number of functionals openSMILE returns for it.
FEATURE_SETS: Dict[str, int] = {"GeMAPSv01b": 62, "eGeMAPSv02": 88, "ComParE_2016": 6373}
#: Version of the audio front end (load_audio + openSMILE call) that cached features came from.
PIPELINE_VERSION = 1

PathLike = Union[str, Path]


class FeatureError(ValueError):
    """An unknown feature set or an unusable cache folder."""


def check_feature_set(name: str) -> str:
    if name not in FEATURE_SETS:
        raise FeatureError(f"unknown feature set {name!r}; choose one of {', '.join(FEATURE_SETS)}")
    return name


def opensmile_version() -> str:
    import opensmile

    return opensmile.__version__


_SMILES: Dict[str, "object"] = {}


def smile_for(feature_set: str):
    """One ``opensmile.Smile`` per feature set and process (building one is the slow part)."""
    if feature_set not in _SMILES:
        import opensmile

        _SMILES[feature_set] = opensmile.Smile(feature_set=opensmile.FeatureSet[feature_set],
                                               feature_level=opensmile.FeatureLevel.Functionals)
    return _SMILES[feature_set]


def functionals(path: PathLike, feature_set: str) -> np.ndarray:
    """The feature vector of one file, read as 16 kHz mono; raises naming the file on any failure."""
    frame = smile_for(feature_set).process_signal(load_audio(path), TARGET_RATE)
    vector = np.asarray(frame.to_numpy(), dtype=np.float32).reshape(-1)
    if vector.size != FEATURE_SETS[feature_set]:
        raise ValueError(f"{path}: openSMILE returned {vector.size} {feature_set} values, "
                         f"expected {FEATURE_SETS[feature_set]}")
    bad = int(np.count_nonzero(~np.isfinite(vector)))
    if bad:
        raise ValueError(f"{path}: openSMILE returned {bad} non-finite {feature_set} values")
    return vector


def cache_folder(cache_dir: PathLike, feature_set: str) -> Path:
    return Path(cache_dir) / f"{feature_set}-opensmile{opensmile_version()}-{TARGET_RATE // 1000}k-v{PIPELINE_VERSION}"


def entry_paths(cache_dir: PathLike, feature_set: str, digest: str) -> Tuple[Path, Path]:
    """(vector file, failure file) of one cache entry."""
    folder = cache_folder(cache_dir, feature_set) / digest[:2]
    return folder / f"{digest}.npy", folder / f"{digest}.failed.json"


def read_cached(cache_dir: PathLike, feature_set: str, digest: str) -> Optional[Tuple[Optional[np.ndarray], str]]:
    """(vector, "") or (None, failure reason) from the cache; None when absent or corrupt."""
    vector_file, failure_file = entry_paths(cache_dir, feature_set, digest)
    try:
        if vector_file.exists():
            vector = np.load(vector_file, allow_pickle=False)
            if vector.shape == (FEATURE_SETS[feature_set],) and np.all(np.isfinite(vector)):
                return vector.astype(np.float32, copy=False), ""
        elif failure_file.exists():
            with open(failure_file, encoding="utf-8") as handle:
                return None, str(json.load(handle)["reason"])
    except Exception:  # a truncated or foreign file: recompute and overwrite it
        pass
    return None


def write_cached(cache_dir: PathLike, feature_set: str, digest: str,
                 vector: Optional[np.ndarray], reason: str = "") -> None:
    """Store a vector, or the reason a file failed, atomically."""
    vector_file, failure_file = entry_paths(cache_dir, feature_set, digest)
    if vector is not None:
        with atomic_open(vector_file, "wb") as handle:
            np.save(handle, vector, allow_pickle=False)
        if failure_file.exists():
            failure_file.unlink()
    else:
        with atomic_open(failure_file, "w", encoding="utf-8") as handle:
            json.dump({"reason": reason}, handle)


@dataclass(frozen=True)
class Outcome:
    """What happened to one file: a vector or a failure reason, and whether the cache had it."""

    path: str
    vector: Optional[np.ndarray]
    reason: str
    cached: bool
    cache_error: str = ""  # the cache entry could not be written (full disk...): the features are still used


def strip_path(message: str, path: str) -> str:
    """Error messages start with the file name; the cache stores the reason without it."""
    prefix = f"{path}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def process_file(path: str, feature_set: str, cache_dir: Optional[str]) -> Outcome:
    """Cache look-up, else extraction (and cache write) of one file; never raises for bad audio."""
    try:
        digest = sha256_file(path)
    except OSError as err:  # unreadable or missing: nothing to key a cache entry on
        return Outcome(path, None, f"cannot read file ({err.strerror or err})", cached=False)
    if cache_dir is not None:
        hit = read_cached(cache_dir, feature_set, digest)
        if hit is not None:
            return Outcome(path, hit[0], hit[1], cached=True)
    transient = False
    try:
        vector, reason = functionals(path, feature_set), ""
    except Exception as err:  # openSMILE and soundfile raise many types; every one excludes the file
        vector, reason = None, strip_path(str(err), path) or type(err).__name__
        transient = isinstance(err, (MemoryError, OSError))  # not a property of the bytes: retry next run
    cache_error = ""
    if cache_dir is not None and not transient:
        try:
            write_cached(cache_dir, feature_set, digest, vector, reason)
        except WriteError as err:
            cache_error = str(err)
    return Outcome(path, vector, reason, cached=False, cache_error=cache_error)


@dataclass
class Extraction:
    """Features of a set of files: vectors by path, excluded files with reasons, counts and time."""

    feature_set: str
    vectors: Dict[str, np.ndarray] = field(default_factory=dict)
    excluded: List[Dict[str, str]] = field(default_factory=list)
    extracted: int = 0
    cached: int = 0
    seconds: float = 0.0
    cache_errors: List[str] = field(default_factory=list)

    def matrix(self, paths: Sequence[str]) -> np.ndarray:
        """Rows in the order of ``paths`` (all of which must have a vector)."""
        return np.stack([self.vectors[str(p)] for p in paths]).astype(np.float32)

    def excluded_among(self, paths: Sequence[str]) -> List[Dict[str, str]]:
        wanted = {str(p) for p in paths}
        return [e for e in self.excluded if e["path"] in wanted]


def progress_after_first(items: Iterable, total: int, desc: str, show: bool) -> Iterator:
    """Yield ``items`` with a tqdm bar whose clock starts at the first item, so that the seconds worker
    processes take to start do not make the first estimate of the remaining time hours long."""
    bar = None
    for item in items:
        if bar is None:
            bar = tqdm(total=total, initial=1, desc=desc, unit="file", disable=not show or not total, leave=False)
        else:
            bar.update(1)
        yield item
    if bar is not None:
        bar.close()


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def parallel_outcomes(work: Callable, items: Sequence, n_jobs: Optional[int], *args) -> Iterable:
    """``work(item, *args)`` for each item, in order: in this process for one job or a few items, else in
    ``n_jobs`` joblib workers (default: one per core), as a generator."""
    from joblib import Parallel, delayed

    n_jobs = default_jobs() if n_jobs is None or n_jobs < 1 else n_jobs
    if n_jobs == 1 or len(items) < 4:
        return (work(item, *args) for item in items)
    return Parallel(n_jobs=n_jobs, return_as="generator", batch_size="auto")(
        delayed(work)(item, *args) for item in items)


def extract(paths: Sequence[PathLike], feature_set: str, cache_dir: Optional[PathLike] = None,
            n_jobs: Optional[int] = None, progress: bool = True) -> Extraction:
    """Functionals of every file in parallel (one process per core), through the cache.

    Files that fail are printed by name on stderr and listed in ``Extraction.excluded``.
    """
    check_feature_set(feature_set)
    unique = list(dict.fromkeys(str(p) for p in paths))
    cache = None if cache_dir is None else str(cache_dir)
    start = time.perf_counter()
    outcomes = parallel_outcomes(process_file, unique, n_jobs, feature_set, cache)
    result = Extraction(feature_set)
    for outcome in progress_after_first(outcomes, len(unique), f"openSMILE {feature_set}", progress):
        result.cached += outcome.cached
        result.extracted += not outcome.cached
        if outcome.cache_error:
            result.cache_errors.append(outcome.cache_error)
        if outcome.vector is None:
            result.excluded.append({"path": outcome.path, "reason": outcome.reason})
        else:
            result.vectors[outcome.path] = outcome.vector
    result.seconds = time.perf_counter() - start
    for item in result.excluded:
        tqdm.write(f"excluded {item['path']}: {item['reason']}", file=sys.stderr)
    if result.cache_errors:
        tqdm.write(f"warning: {len(result.cache_errors)} feature-cache entries could not be written (first: "
                   f"{result.cache_errors[0]}); their features are used in this run and recomputed next time",
                   file=sys.stderr)
    return result


def describe(extraction: Extraction) -> str:
    """One line: how many files, how many from the cache, how many excluded, how long."""
    total = extraction.extracted + extraction.cached
    return (f"{extraction.feature_set}: {total} files, {extraction.extracted} extracted, "
            f"{extraction.cached} from cache, {len(extraction.excluded)} excluded, {extraction.seconds:.1f} s")

