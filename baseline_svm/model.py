"""Standardisation + RBF SVM as one scikit-learn estimator: grid search, refit on train, Platt scaling.

:class:`SVMEmotionClassifier` chooses C and gamma by validation UAR (the predefined dev set, or
speaker-grouped k-fold cross-validation), refits the chosen point on the training rows only (not
train+dev, like the DNN system), and calibrates class probabilities with Platt scaling fitted on
5-fold cross-validated decision values of the training rows (what ``SVC(probability=True)`` did
before scikit-learn deprecated it). Labels are the SVM's own decisions (the rule used when choosing).

Two searches give the same table and the same choice: ``kernel`` (default; distances once, one
kernel per gamma, see :mod:`baseline_svm.search`) and ``sklearn`` (``GridSearchCV`` over the
pipeline, the reference).
"""
import time
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from joblib import parallel_config
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import make_scorer
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.validation import check_array, check_is_fitted, check_X_y

from s3prl_crosscorpus.core.io_utils import atomic_open
from s3prl_crosscorpus.core.labels import LABELS
from s3prl_crosscorpus.core.metrics import uar

from s3prl_crosscorpus.core.normalise import (MIN_GROUP_UTTERANCES, NORMS, apply_statistics, group_sizes,
                                              group_statistics, transductive_refusal)
from .choices import DEFAULT_CV_FOLDS, GRIDS, SEARCHES, SELECTIONS  # noqa: F401 (model's API)
from .search import cv_results, split_scores

CALIBRATION_FOLDS = 5

#: What a model file holds besides the estimator; ``MODEL_FORMAT`` marks the file as ours.
MODEL_FORMAT = ("baseline-svm-model", 2)
MODEL_KEYS = ("estimator", "feature_set", "labels", "normalisation", "fold_file_sha256", "hyperparameters")

#: Model files are skops archives (no code runs when loading); the name every writer and reader uses.
MODEL_SUFFIX = ".skops"
#: The only non-default types a model file may build when loaded (skops trusts plain data, numpy
#: arrays and common scikit-learn estimators such as Pipeline, StandardScaler and SVC by itself).
TRUSTED_TYPES: Tuple[str, ...] = (
    "baseline_svm.model.SVMEmotionClassifier",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.model_selection._split.StratifiedKFold",
)
#: First bytes of a pickle (protocol 2+) and of joblib's compressed pickles (zlib, gzip, bz2, xz, lzma, lz4).
PICKLE_MAGIC = (b"\x80", b"\x78", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"]\x00\x00", b"\x04\x22\x4d\x18")

UAR_SCORER = make_scorer(uar)
#: Accepted input dtypes: float32 features stay float32 up to the scaler, exactly as before.
FLOATS = [np.float64, np.float32]


class ModelError(ValueError):
    """A model that cannot be fitted or a model file that cannot be used; the message says which."""


def build_pipeline(C: float = 1.0, gamma: Union[float, str] = "scale",
                   class_weight: Optional[str] = None) -> Pipeline:
    """z-normalisation (fitted on what the pipeline is fitted on) followed by an RBF SVC."""
    return Pipeline([("scale", StandardScaler()),
                     ("svm", SVC(kernel="rbf", C=C, gamma=gamma, class_weight=class_weight))])


def grid_values(grid: str) -> Dict[str, List[float]]:
    """The ``param_grid`` of :class:`GridSearchCV`: powers of two for C and gamma."""
    if grid not in GRIDS:
        raise ValueError(f"unknown grid {grid!r}; choose one of {', '.join(GRIDS)}")
    return {"svm__C": [2.0 ** e for e in GRIDS[grid]["log2_C"]],
            "svm__gamma": [2.0 ** e for e in GRIDS[grid]["log2_gamma"]]}


def all_cores() -> int:
    from .features import default_jobs

    return default_jobs()


def calibrated_svm(X: np.ndarray, y: np.ndarray, C: float, gamma: float, class_weight: Optional[str] = None,
                   folds: int = CALIBRATION_FOLDS, n_jobs: Optional[int] = None) -> CalibratedClassifierCV:
    """The pipeline at (C, gamma) fitted on all rows, with Platt sigmoids on cross-validated decisions.

    With ``ensemble=False`` the calibrator holds one pipeline fitted on all rows: the final model.
    """
    folds = min(folds, int(np.unique(y, return_counts=True)[1].min()))
    if folds < 2:
        raise ModelError("every class needs at least 2 training utterances to calibrate probabilities")
    calibrator = CalibratedClassifierCV(build_pipeline(C, gamma, class_weight), method="sigmoid",
                                        cv=StratifiedKFold(folds), ensemble=False, n_jobs=n_jobs)
    with parallel_config(backend="threading"):  # libsvm releases the GIL; no worker processes to start
        return calibrator.fit(X, y)


def group_cv_splits(groups: Sequence[str], folds: int) -> List[Tuple[np.ndarray, np.ndarray]]:
    """(train rows, validation rows) of ``folds`` group-disjoint folds (``GroupKFold``, deterministic)."""
    groups = np.asarray(groups)
    found = len(set(groups.tolist()))
    if found < folds:
        raise ModelError(f"group-cv with {folds} folds needs at least {folds} speakers in the training "
                         f"partition, found {found}")
    return list(GroupKFold(n_splits=folds).split(np.zeros(len(groups)), groups=groups))


class SVMEmotionClassifier(ClassifierMixin, BaseEstimator):
    """StandardScaler + RBF SVC with C and gamma chosen by validation UAR over a power-of-two grid.

    ``fit(X, y, X_dev=..., y_dev=...)`` with ``select="dev"`` scores every grid point trained on
    ``X`` by its UAR on the dev rows. With ``select="group-cv"`` the points are scored by mean UAR
    over ``cv_folds`` speaker-grouped folds of ``X`` plus the dev rows (``groups`` / ``groups_dev``:
    speaker of every row; no speaker in two folds). Either way the chosen point is refitted on ``X``
    only. ``search="kernel"`` (fast) and ``"sklearn"`` (``GridSearchCV``) give the same table;
    ``cv_results_`` has ``GridSearchCV``'s layout with params ``{"C", "gamma"}``.
    """

    def __init__(self, grid: str = "libsvm", search: str = "kernel", select: str = "dev",
                 cv_folds: int = DEFAULT_CV_FOLDS, class_weight: Optional[str] = None,
                 calibration_folds: int = CALIBRATION_FOLDS, n_jobs: Optional[int] = None,
                 memory_limit: Optional[int] = None, progress: bool = False):
        self.grid = grid
        self.search = search
        self.select = select
        self.cv_folds = cv_folds
        self.class_weight = class_weight
        self.calibration_folds = calibration_folds
        self.n_jobs = n_jobs
        self.memory_limit = memory_limit
        self.progress = progress

    def fit(self, X, y, X_dev=None, y_dev=None, groups=None, groups_dev=None) -> "SVMEmotionClassifier":
        """Search the grid, then refit the chosen point (with its Platt scaling) on ``X`` only."""
        self._check_params()
        X, y = check_X_y(X, y, dtype=FLOATS)
        pool_X, pool_y, splits = self._validation_splits(X, np.asarray(y), X_dev, y_dev, groups, groups_dev)
        start = time.perf_counter()
        searcher = self._kernel_search if self.search == "kernel" else self._sklearn_search
        self.cv_results_ = searcher(pool_X, pool_y, splits)
        self.best_index_ = int(np.argmin(self.cv_results_["rank_test_score"]))
        self.best_params_ = dict(self.cv_results_["params"][self.best_index_])
        self.best_score_ = float(self.cv_results_["mean_test_score"][self.best_index_])
        self.n_splits_ = len(splits)
        self.search_seconds_ = time.perf_counter() - start
        self.calibrator_ = calibrated_svm(X, np.asarray(y), self.best_params_["C"], self.best_params_["gamma"],
                                          self.class_weight, self.calibration_folds, self._jobs())
        self.pipeline_ = self.calibrator_.calibrated_classifiers_[0].estimator
        self.classes_ = self.calibrator_.classes_
        self.n_features_in_ = X.shape[1]
        self.fit_seconds_ = time.perf_counter() - start - self.search_seconds_
        return self

    def predict(self, X) -> np.ndarray:
        """The SVM's decision (the rule the grid search scored)."""
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict(check_array(X, dtype=FLOATS))

    def predict_proba(self, X) -> np.ndarray:
        """Platt-scaled class probabilities, columns in ``classes_`` order."""
        check_is_fitted(self, "calibrator_")
        return self.calibrator_.predict_proba(check_array(X, dtype=FLOATS))

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.decision_function(check_array(X, dtype=FLOATS))

    def grid_axes(self) -> Dict[str, List[float]]:
        """The C and gamma values searched."""
        values = grid_values(self.grid)
        return {"C": values["svm__C"], "gamma": values["svm__gamma"]}

    def on_edge(self) -> List[str]:
        """The chosen parameters ("C", "gamma") that sit on the edge of the grid."""
        check_is_fitted(self, "best_params_")
        return [name for name, values in self.grid_axes().items()
                if self.best_params_[name] in (values[0], values[-1])]

    def _check_params(self) -> None:
        grid_values(self.grid)
        for name, value, allowed in (("search", self.search, SEARCHES), ("select", self.select, SELECTIONS),
                                     ("class_weight", self.class_weight, (None, "balanced"))):
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(map(str, allowed))}")
        if self.select == "group-cv" and int(self.cv_folds) < 2:
            raise ValueError(f"group-cv needs cv_folds >= 2, got {self.cv_folds}")

    def _jobs(self) -> int:
        return all_cores() if self.n_jobs is None or self.n_jobs < 1 else int(self.n_jobs)

    def _validation_splits(self, X, y, X_dev, y_dev, groups, groups_dev):
        """(pool X, pool y, [(train rows, validation rows)]): the rows and splits that score the grid."""
        if self.select == "dev":
            if X_dev is None or y_dev is None:
                raise ValueError("select='dev' needs X_dev and y_dev (the predefined dev set)")
            X_dev, y_dev = check_X_y(X_dev, y_dev, dtype=FLOATS)
            if X_dev.shape[1] != X.shape[1]:
                raise ValueError(f"X_dev has {X_dev.shape[1]} features, X has {X.shape[1]}")
            n, n_dev = len(X), len(X_dev)
            return (np.concatenate([X, X_dev]), np.concatenate([y, np.asarray(y_dev)]),
                    [(np.arange(n), np.arange(n, n + n_dev))])
        if groups is None or len(groups) != len(X):
            raise ValueError("select='group-cv' needs groups (the speaker of every training row)")
        pool_X, pool_y, pool_groups = X, y, np.asarray(groups)
        if X_dev is not None:
            if groups_dev is None or len(groups_dev) != len(X_dev) or y_dev is None:
                raise ValueError("select='group-cv' with dev rows needs y_dev and groups_dev for them")
            pool_X, pool_y = np.concatenate([X, X_dev]), np.concatenate([y, np.asarray(y_dev)])
            pool_groups = np.concatenate([pool_groups, np.asarray(groups_dev)])
        return pool_X, pool_y, group_cv_splits(pool_groups, int(self.cv_folds))

    def _kernel_search(self, X, y, splits) -> dict:
        values = self.grid_axes()
        tables = [split_scores(X[tr], y[tr], X[va], y[va], values["C"], values["gamma"], self.class_weight,
                               n_jobs=self._jobs(), memory_limit=self.memory_limit, progress=self.progress,
                               desc=f"kernel search {k + 1}/{len(splits)}")
                  for k, (tr, va) in enumerate(splits)]
        return cv_results(tables, values["C"], values["gamma"])

    def _sklearn_search(self, X, y, splits) -> dict:
        finder = GridSearchCV(build_pipeline(class_weight=self.class_weight), grid_values(self.grid),
                              scoring=UAR_SCORER, cv=splits, refit=False, n_jobs=self._jobs(), error_score="raise")
        finder.fit(X, y)
        found = dict(finder.cv_results_)
        found["params"] = [{"C": float(p["svm__C"]), "gamma": float(p["svm__gamma"])} for p in found["params"]]
        found["param_C"] = np.array([p["C"] for p in found["params"]])
        found["param_gamma"] = np.array([p["gamma"] for p in found["params"]])
        return {k: v for k, v in found.items() if not k.startswith("param_svm__")}


def labels_and_probabilities(estimator: SVMEmotionClassifier, X: np.ndarray) -> Tuple[List[str], np.ndarray]:
    """Labels (the SVM's decision) and class probabilities with columns in ``LABELS`` order."""
    labels = [str(y) for y in estimator.predict(X)]
    proba = np.zeros((len(X), len(LABELS)))
    raw = estimator.predict_proba(X)
    for column, cls in enumerate(estimator.classes_):
        proba[:, LABELS.index(str(cls))] = raw[:, column]
    return labels, proba


def save_model(path: Union[str, Path], estimator: SVMEmotionClassifier, metadata: Dict) -> Path:
    """Write the fitted estimator and its metadata (feature set, labels, normalisation, ...) atomically, as skops.

    A skops file is a zip of JSON and arrays; loading it builds only the types of :data:`TRUSTED_TYPES`
    (and skops' own safe defaults), so a crafted file cannot run code.
    """
    import skops.io as sio

    model = {**metadata, "format": list(MODEL_FORMAT), "estimator": estimator}
    missing = [k for k in MODEL_KEYS if k not in model]
    if missing:
        raise ModelError(f"{path}: model metadata lacks {missing}")
    if not isinstance(estimator, SVMEmotionClassifier) or not hasattr(estimator, "pipeline_"):
        raise ModelError(f"{path}: only a fitted SVMEmotionClassifier can be saved")
    with atomic_open(path, "wb") as handle:
        sio.dump(model, handle, compression=zipfile.ZIP_DEFLATED, compresslevel=6)
    return Path(path)


def file_kind(path: Union[str, Path]) -> str:
    """``skops`` (a zip holding skops' schema.json), ``pickle`` (pickle or joblib bytes) or ``unknown``."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return "skops" if "schema.json" in archive.namelist() else "unknown"
    return "pickle" if head.startswith(PICKLE_MAGIC) else "unknown"


def read_model_object(path: Union[str, Path], trust_pickle: bool = False):
    """The object in a model file: skops with the trusted types only; a pickle only with ``trust_pickle``."""
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    if not Path(path).is_file():
        raise ModelError(f"{path}: model file not found")
    kind = file_kind(path)
    if kind == "skops":
        try:
            return sio.load(str(path), trusted=list(TRUSTED_TYPES))
        except UntrustedTypesFoundException as err:
            raise ModelError(f"{path}: holds types outside the trusted list ({err}); refused") from None
        except Exception as err:
            raise ModelError(f"{path}: not a readable baseline-svm model ({err})") from err
    if not trust_pickle:
        if kind == "pickle":
            raise ModelError(f"{path} is a pickle file, which can run code when loaded; re-save it as skops "
                             f"(`baseline-svm resave-model {path}`, or run `baseline-svm run` again) or pass "
                             f"--trust-pickle if you made it")
        raise ModelError(f"{path}: not a readable baseline-svm model (neither a skops file nor a pickle)")
    import joblib

    try:
        return joblib.load(str(path))
    except Exception as err:
        raise ModelError(f"{path}: not a readable baseline-svm model ({err})") from err


def load_model(path: Union[str, Path], trust_pickle: bool = False) -> Dict:
    """Read a model written by ``baseline-svm run``; a foreign, old, broken or (untrusted) pickle file fails naming it."""
    model = read_model_object(path, trust_pickle)
    if isinstance(model, dict) and "pipeline" in model and "calibrator" in model and "format" not in model:
        raise ModelError(f"{path}: baseline-svm model of the old format 1 (pipeline, calibrator); "
                         f"run `baseline-svm run` again to write format {MODEL_FORMAT[1]}")
    if not isinstance(model, dict) or tuple(model.get("format") or ()) != MODEL_FORMAT:
        raise ModelError(f"{path}: not a baseline-svm model (expected a {MODEL_FORMAT[0]} "
                         f"format {MODEL_FORMAT[1]} file written by `baseline-svm run`)")
    missing = [k for k in MODEL_KEYS if k not in model]
    if missing or not isinstance(model["estimator"], SVMEmotionClassifier):
        raise ModelError(f"{path}: baseline-svm model file lacks {missing or ['a fitted estimator']}")
    if tuple(model["labels"]) != LABELS:
        raise ModelError(f"{path}: model labels {model['labels']} differ from {list(LABELS)}")
    if model["normalisation"] not in NORMS:
        raise ModelError(f"{path}: unknown normalisation {model['normalisation']!r}")
    return model


def resave_model(path: Union[str, Path], out: Optional[Union[str, Path]] = None) -> Path:
    """Re-write an old (pickle) model file you trust as skops; default: the same name with ``.skops``."""
    model = load_model(path, trust_pickle=True)
    target = Path(out) if out else Path(str(path)[:-len(Path(path).suffix)] + MODEL_SUFFIX)
    if target.resolve() == Path(path).resolve():
        raise ModelError(f"{path}: give another output name than the input")
    metadata = {k: v for k, v in model.items() if k not in ("estimator", "format")}
    return save_model(target, model["estimator"], metadata)


def predict_files(model: Dict, paths: Sequence[Union[str, Path]], cache_dir: Optional[Union[str, Path]] = None,
                  n_jobs: Optional[int] = None, progress: bool = True, groups: Optional[Sequence[str]] = None
                  ) -> Tuple[List[Optional[str]], np.ndarray, Dict[int, str]]:
    """Emotion labels, (n, 4) probabilities (``LABELS`` order) and notes (row -> why skipped/marked).

    Features go through the same code as training. A file that cannot be processed is named on
    stderr and gets label ``None`` and a row of NaN probabilities. A ``corpus``/``speaker``-normalised
    model needs ``groups`` (the corpus/speaker of every file) and normalises each group with its own
    readable files only, so a file's prediction depends on its group alone. A group of one readable
    file is not predicted (its vector would be all zero); a group below ``MIN_GROUP_UTTERANCES`` is
    predicted and noted.
    """
    from .features import extract

    norm = model["normalisation"]
    if norm != "global" and groups is None:
        raise ModelError(transductive_refusal(norm))
    if groups is not None and len(groups) != len(paths):
        raise ValueError(f"{len(groups)} groups for {len(paths)} files")
    paths = [str(p) for p in paths]
    extraction = extract(paths, model["feature_set"], cache_dir=cache_dir, n_jobs=n_jobs, progress=progress)
    usable = [k for k, p in enumerate(paths) if p in extraction.vectors]
    labels: List[Optional[str]] = [None] * len(paths)
    proba = np.full((len(paths), len(LABELS)), np.nan)
    notes: Dict[int, str] = {}
    if norm != "global":
        usable, notes = group_notes(paths, [str(g) for g in groups], usable, norm)
    if not usable:
        return labels, proba, notes
    X = extraction.matrix([paths[k] for k in usable])
    if norm != "global":
        X = normalise_batch(X, [str(groups[k]) for k in usable])
    found, found_proba = labels_and_probabilities(model["estimator"], X)
    for row, k in enumerate(usable):
        labels[k], proba[k] = found[row], found_proba[row]
    return labels, proba, notes


def normalise_batch(X: np.ndarray, groups: Sequence[str]) -> np.ndarray:
    """Features of new files z-normalised with the statistics of each group's own rows (corpus/speaker models)."""
    return apply_statistics(X, groups, group_statistics(X, groups))


def group_notes(paths: Sequence[str], groups: Sequence[str], usable: Sequence[int], norm: str
                ) -> Tuple[List[int], Dict[int, str]]:
    """The rows that can be normalised (groups of 2+ readable files) and a note for each row of a small group
    (a single file: why it is skipped, naming it; fewer than ``MIN_GROUP_UTTERANCES``: the group's warning)."""
    sizes = group_sizes([groups[k] for k in usable])
    notes: Dict[int, str] = {}
    for k in usable:
        n = sizes[groups[k]]
        if n == 1:
            notes[k] = (f"{paths[k]}: the only readable file of {norm} {groups[k]!r}; normalised with its own "
                        f"statistics it would be an all-zero vector, so it is not predicted")
        elif n < MIN_GROUP_UTTERANCES:
            notes[k] = (f"{norm} {groups[k]!r} has {n} readable files, fewer than the {MIN_GROUP_UTTERANCES} "
                        f"needed for meaningful {norm} statistics; its predictions are marked")
    return [k for k in usable if sizes[groups[k]] > 1], notes
