"""Standardisation + RBF SVM, C and gamma chosen on the predefined dev set by dev UAR.

Selection follows the DNN system: every grid point is trained on the training ids and
scored on the dev ids (``PredefinedSplit``); the final model is the pipeline with the
chosen point refitted on the training ids only (not train+dev). Labels are the SVM's own
decisions (as during selection); class probabilities come from Platt scaling fitted on
5-fold cross-validated decision values of the training ids (what ``SVC(probability=True)``
did before scikit-learn deprecated it).
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import make_scorer
from sklearn.model_selection import GridSearchCV, PredefinedSplit, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from s3prl_crosscorpus.core.io_utils import atomic_open
from s3prl_crosscorpus.core.labels import LABELS
from s3prl_crosscorpus.core.metrics import uar

#: log2 exponents of C and gamma. "libsvm" is LIBSVM grid.py's default grid
#: (C = 2^-5..2^15, gamma = 2^-15..2^3, steps of 2^2); "coarse" steps by 2^4 for quick runs.
GRIDS: Dict[str, Dict[str, Tuple[int, ...]]] = {
    "libsvm": {"log2_C": tuple(range(-5, 16, 2)), "log2_gamma": tuple(range(-15, 4, 2))},
    "coarse": {"log2_C": tuple(range(-5, 16, 4)), "log2_gamma": tuple(range(-15, 4, 4))},
}
CALIBRATION_FOLDS = 5
MODEL_KEYS = ("pipeline", "calibrator", "feature_set", "labels", "fold_file_sha256", "hyperparameters")


class ModelError(ValueError):
    """A model file that cannot be used; the message names the file."""


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


UAR_SCORER = make_scorer(uar)


@dataclass
class Search:
    """The chosen point, its dev UAR and the dev UAR of every grid point."""

    C: float
    gamma: float
    dev_uar: float
    table: List[Dict[str, float]]
    on_edge: List[str]


def search(X_train: np.ndarray, y_train: Sequence[str], X_dev: np.ndarray, y_dev: Sequence[str],
           grid: str = "libsvm", n_jobs: Optional[int] = -1, class_weight: Optional[str] = None) -> Search:
    """Grid search over C and gamma: train on the training rows, score dev UAR on the dev rows."""
    X = np.concatenate([X_train, X_dev])
    y = np.concatenate([np.asarray(y_train), np.asarray(y_dev)])
    split = PredefinedSplit(np.r_[np.full(len(X_train), -1), np.zeros(len(X_dev), dtype=int)])
    finder = GridSearchCV(build_pipeline(class_weight=class_weight), grid_values(grid),
                          scoring=UAR_SCORER, cv=split, refit=False, n_jobs=n_jobs, error_score="raise")
    finder.fit(X, y)
    best = finder.best_params_
    table = [{"C": float(p["svm__C"]), "gamma": float(p["svm__gamma"]), "dev_uar": float(s)}
             for p, s in zip(finder.cv_results_["params"], finder.cv_results_["mean_test_score"])]
    values = grid_values(grid)
    on_edge = [name for name, key in (("C", "svm__C"), ("gamma", "svm__gamma"))
               if best[key] in (values[key][0], values[key][-1])]
    return Search(float(best["svm__C"]), float(best["svm__gamma"]), float(finder.best_score_), table, on_edge)


def fit_final(X_train: np.ndarray, y_train: Sequence[str], C: float, gamma: float,
              class_weight: Optional[str] = None, n_jobs: Optional[int] = None
              ) -> Tuple[Pipeline, CalibratedClassifierCV]:
    """(pipeline, calibrator): the chosen point refitted on the training rows, and its Platt scaling.

    With ``ensemble=False`` the calibrator holds one pipeline fitted on all training rows and
    sigmoids fitted on cross-validated decision values; that pipeline is the final model.
    """
    y_train = np.asarray(y_train)
    folds = min(CALIBRATION_FOLDS, int(np.unique(y_train, return_counts=True)[1].min()))
    if folds < 2:
        raise ValueError("every class needs at least 2 training utterances to calibrate probabilities")
    calibrator = CalibratedClassifierCV(build_pipeline(C, gamma, class_weight), method="sigmoid",
                                        cv=StratifiedKFold(folds), ensemble=False, n_jobs=n_jobs)
    calibrator.fit(X_train, y_train)
    return calibrator.calibrated_classifiers_[0].estimator, calibrator


def predict(pipeline: Pipeline, calibrator: CalibratedClassifierCV, X: np.ndarray
            ) -> Tuple[List[str], np.ndarray]:
    """Labels (the SVM's decision) and class probabilities with columns in ``LABELS`` order."""
    labels = [str(y) for y in pipeline.predict(X)]
    proba = np.zeros((len(X), len(LABELS)))
    raw = calibrator.predict_proba(X)
    for column, cls in enumerate(calibrator.classes_):
        proba[:, LABELS.index(str(cls))] = raw[:, column]
    return labels, proba


def save_model(path: Union[str, Path], model: Dict) -> Path:
    """Write a model dict (``pipeline``, ``feature_set``, ``labels``, ...) atomically with joblib."""
    import joblib

    missing = [k for k in MODEL_KEYS if k not in model]
    if missing:
        raise ModelError(f"{path}: model dict lacks {missing}")
    with atomic_open(path, "wb") as handle:
        joblib.dump(dict(model), handle, compress=3)
    return Path(path)


def load_model(path: Union[str, Path]) -> Dict:
    """Read a model written by ``baseline-svm run``; a foreign or broken file fails naming it."""
    import joblib

    try:
        model = joblib.load(str(path))
    except FileNotFoundError:
        raise ModelError(f"{path}: model file not found") from None
    except Exception as err:
        raise ModelError(f"{path}: not a readable baseline-svm model ({err})") from err
    if not isinstance(model, dict) or any(k not in model for k in MODEL_KEYS):
        raise ModelError(f"{path}: not a baseline-svm model (expected a dict with {list(MODEL_KEYS)})")
    if tuple(model["labels"]) != LABELS:
        raise ModelError(f"{path}: model labels {model['labels']} differ from {list(LABELS)}")
    return model


def predict_files(model: Dict, paths: Sequence[Union[str, Path]], cache_dir: Optional[Union[str, Path]] = None,
                  n_jobs: Optional[int] = None, progress: bool = True
                  ) -> Tuple[List[Optional[str]], np.ndarray]:
    """Emotion labels and (n, 4) probabilities (``LABELS`` order) for audio files of any rate/channels.

    Features go through the same code as training. A file that cannot be processed is
    named on stderr and gets label ``None`` and a row of NaN probabilities.
    """
    from .features import extract

    paths = [str(p) for p in paths]
    extraction = extract(paths, model["feature_set"], cache_dir=cache_dir, n_jobs=n_jobs, progress=progress)
    usable = [p for p in paths if p in extraction.vectors]
    labels: List[Optional[str]] = [None] * len(paths)
    proba = np.full((len(paths), len(LABELS)), np.nan)
    if usable:
        found, found_proba = predict(model["pipeline"], model["calibrator"], extraction.matrix(usable))
        row = {p: k for k, p in enumerate(usable)}
        for i, p in enumerate(paths):
            if p in row:
                labels[i], proba[i] = found[row[p]], found_proba[row[p]]
    return labels, proba
