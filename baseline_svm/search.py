"""Exact RBF-SVM grid search over precomputed kernels (GitHub issue 10).

For an RBF SVC, K = exp(-gamma * D) with D the squared Euclidean distances between the
standardised vectors, and D depends on neither C nor gamma. So D is computed once per
(train, validation) split with BLAS, then K once per gamma and one ``SVC(kernel="precomputed")``
per C. The solver sees the same kernel values as ``SVC(kernel="rbf")`` up to float rounding,
so every grid point gets the same validation predictions as ``GridSearchCV`` over
``StandardScaler + SVC(rbf)``, at a fraction of the cost (libsvm no longer recomputes kernel
rows from thousands of dimensions). Everything here is float64.
"""
import os
import threading
import time
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from joblib import Parallel, delayed
from scipy.stats import rankdata
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from s3prl_crosscorpus.core.progress import Progress as tqdm  # plain lines when not a terminal

from s3prl_crosscorpus.core.labels import LABELS

#: libsvm's kernel cache per SVC (scikit-learn's default ``cache_size``, in MB).
SVC_CACHE_MB = 200
BYTES = 8  # float64


class SearchMemoryError(MemoryError):
    """The distance and kernel matrices of a search would not fit in memory."""


def available_memory() -> Optional[int]:
    """Bytes the OS can still give this process (Linux MemAvailable), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def gib(n_bytes: float) -> str:
    return f"{n_bytes / 2 ** 30:.2f} GiB"


def plan_memory(n_train: int, n_val: int, n_features: int, n_jobs: int, limit: Optional[int]) -> int:
    """Workers that fit in ``limit`` bytes (None: what the OS has available); refuse if not even one.

    Shared: the standardised rows (n x d), the distances (n_train^2 + n_val x n_train values) and
    one spare kernel of that size, x 8 bytes. Per worker: its kernel matrices and libsvm's kernel cache.
    """
    distances = (n_train * n_train + n_val * n_train) * BYTES
    shared = 2 * distances + (n_train + n_val) * n_features * BYTES
    per_worker = distances + SVC_CACHE_MB * 2 ** 20
    limit = available_memory() if limit is None else limit
    if limit is None:
        return n_jobs
    if shared + per_worker > limit:
        raise SearchMemoryError(
            f"the kernel search needs {gib(shared + per_worker)} for {n_train} training and {n_val} validation rows "
            f"(distances and kernel: n_train^2 + n_val x n_train values x 8 bytes = {gib(distances)} per matrix), "
            f"but {gib(limit)} is available; free memory or use the reference search (--search sklearn)")
    fits = int((limit - shared) // per_worker)
    if fits < n_jobs:
        warnings.warn(f"kernel search: memory for {fits} of {n_jobs} parallel workers "
                      f"({gib(per_worker)} each, {gib(limit)} available); using {fits}", RuntimeWarning)
        return fits
    return n_jobs


def squared_distances(A: np.ndarray, B: np.ndarray, same: bool = False) -> np.ndarray:
    """||a - b||^2 for every row pair, float64, through one matrix product (BLAS)."""
    D = A @ B.T
    D *= -2.0
    D += np.einsum("ij,ij->i", A, A)[:, None]
    D += np.einsum("ij,ij->i", B, B)[None, :]
    np.maximum(D, 0.0, out=D)
    if same:
        np.fill_diagonal(D, 0.0)  # libsvm's x_i.x_i + x_i.x_i - 2 x_i.x_i is exactly 0 too
    return D


def standardised(X_fit: np.ndarray, *others: np.ndarray) -> List[np.ndarray]:
    """Rows z-normalised with statistics of ``X_fit`` only, as float64.

    The scaler runs in the input's dtype, exactly as the ``StandardScaler`` of the reference
    pipeline does, so the SVM sees the same values in both searches.
    """
    scaler = StandardScaler().fit(X_fit)
    return [np.asarray(scaler.transform(X), dtype=np.float64) for X in (X_fit,) + others]


def uar(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """:func:`s3prl_crosscorpus.core.metrics.uar` with the same arithmetic, without scikit-learn's input
    checks (which cost more than a small SVM fit): mean recall over the classes present, LABELS order."""
    recalls = []
    for label in LABELS:
        support = int(np.count_nonzero(y_true == label))
        if support:
            recalls.append(np.int64(np.count_nonzero(y_pred[y_true == label] == label)) / np.int64(support))
    return float(np.mean(recalls)) if recalls else float("nan")


class Kernels:
    """exp(-gamma * D) per gamma for the workers: computed once by the first that needs it, dropped after its last C.

    Tasks run gamma by gamma, so at most one kernel per worker (plus one) is alive at a time.
    """

    def __init__(self, D_train: np.ndarray, D_val: np.ndarray, uses: int):
        self.D_train, self.D_val, self.uses = D_train, D_val, uses
        self.lock = threading.Lock()
        self.entries: Dict[float, list] = {}  # gamma -> [lock, K_train, K_val, uses left]

    def get(self, gamma: float) -> Tuple[np.ndarray, np.ndarray]:
        with self.lock:
            entry = self.entries.setdefault(gamma, [threading.Lock(), None, None, self.uses])
        with entry[0]:
            if entry[1] is None:
                entry[1], entry[2] = np.exp(-gamma * self.D_train), np.exp(-gamma * self.D_val)
        return entry[1], entry[2]

    def done(self, gamma: float) -> None:
        with self.lock:
            self.entries[gamma][3] -= 1
            if not self.entries[gamma][3]:
                del self.entries[gamma]


def score_point(kernels: Kernels, gamma: float, C: float, y_train: np.ndarray, y_val: np.ndarray,
                class_weight: Optional[str]) -> Tuple[float, float, float]:
    """(validation UAR, fit seconds, predict seconds) of one grid point on precomputed kernels."""
    K_train, K_val = kernels.get(gamma)
    try:
        start = time.perf_counter()
        svm = SVC(kernel="precomputed", C=C, class_weight=class_weight, cache_size=SVC_CACHE_MB).fit(K_train, y_train)
        fitted = time.perf_counter()
        predictions = svm.predict(K_val)
    finally:
        kernels.done(gamma)
    return uar(y_val, predictions), fitted - start, time.perf_counter() - fitted


def split_scores(X_train: np.ndarray, y_train: Sequence[str], X_val: np.ndarray, y_val: Sequence[str],
                 Cs: Sequence[float], gammas: Sequence[float], class_weight: Optional[str] = None,
                 n_jobs: int = 1, memory_limit: Optional[int] = None, progress: bool = False,
                 desc: str = "kernel search") -> np.ndarray:
    """(3, len(Cs), len(gammas)): validation UAR, fit and predict seconds of every point of one split.

    Distances once, then one task per point in threads (libsvm and numpy release the GIL, so the
    threads share the matrices without copies); the largest C of each gamma first, as those fits
    take longest.
    """
    workers = plan_memory(len(X_train), len(X_val), X_train.shape[1], max(1, n_jobs), memory_limit)
    S_train, S_val = standardised(X_train, X_val)
    D_train = squared_distances(S_train, S_train, same=True)
    D_val = squared_distances(S_val, S_train)
    del S_train, S_val
    kernels = Kernels(D_train, D_val, uses=len(Cs))
    y_train, y_val = np.asarray(y_train), np.asarray(y_val)
    order = [(i, j) for j in range(len(gammas)) for i in reversed(range(len(Cs)))]
    tasks = (delayed(score_point)(kernels, gammas[j], Cs[i], y_train, y_val, class_weight) for i, j in order)
    found = Parallel(n_jobs=workers, backend="threading", return_as="generator")(tasks)
    table = np.empty((3, len(Cs), len(gammas)))
    for (i, j), values in zip(order, tqdm(found, total=len(order), desc=desc, unit="point", leave=False,
                                          disable=not progress)):
        table[:, i, j] = values
    return table


def grid_order(table: np.ndarray) -> np.ndarray:
    """A (C, gamma) table flattened in ``GridSearchCV``'s candidate order (C outer, gamma inner)."""
    return table.reshape(-1)


def cv_results(split_tables: Sequence[np.ndarray], Cs: Sequence[float], gammas: Sequence[float]) -> dict:
    """A ``GridSearchCV``-style ``cv_results_`` dict from the :func:`split_scores` tables of every split."""
    scores = np.stack([grid_order(t[0]) for t in split_tables], axis=1)  # (candidates, splits)
    means = np.average(scores, axis=1)
    params = [{"C": float(C), "gamma": float(g)} for C in Cs for g in gammas]
    results = {"params": params,
               "mean_fit_time": np.mean([grid_order(t[1]) for t in split_tables], axis=0),
               "mean_score_time": np.mean([grid_order(t[2]) for t in split_tables], axis=0),
               "param_C": np.array([p["C"] for p in params]), "param_gamma": np.array([p["gamma"] for p in params]),
               "mean_test_score": means,
               "std_test_score": np.sqrt(np.average((scores - means[:, None]) ** 2, axis=1)),
               # GridSearchCV's ranking: failed (NaN) points tie with the worst; best = first of rank 1.
               "rank_test_score": rankdata(-np.nan_to_num(means, nan=-np.inf), method="min").astype(np.int32)}
    for k in range(scores.shape[1]):
        results[f"split{k}_test_score"] = scores[:, k]
    return results
