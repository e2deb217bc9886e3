"""Small SVM model files for the predict tests: fitted on functional-like rows, saved as ``baseline-svm run`` does."""
from pathlib import Path

from baseline_svm.model import SVMEmotionClassifier, save_model
from s3prl_crosscorpus.core.labels import LABELS
from s3prl_crosscorpus.core.normalise import apply_statistics, group_statistics

from .svm import functionals_like

#: GeMAPSv01b: 62 functionals per file, the cheapest openSMILE set.
FEATURE_SET, DIMS = "GeMAPSv01b", 62


def fitted_estimator(norm: str = "global", seed: int = 0) -> SVMEmotionClassifier:
    """An estimator on 62 functional-like columns; for corpus/speaker models the rows are z-normalised per group
    of 20 first, as ``baseline-svm run --norm`` does, so that z-scored new files fall in the range it saw."""
    X, y = functionals_like(240, DIMS, seed=seed, signal=1.5)
    if norm != "global":
        groups = [str(k // 20) for k in range(len(X))]
        X = apply_statistics(X, groups, group_statistics(X, groups))
    train, dev = slice(0, 200), slice(200, 240)
    return SVMEmotionClassifier(grid="coarse", n_jobs=1).fit(X[train], y[train], X_dev=X[dev], y_dev=y[dev])


def write_model(path: Path, norm: str = "global", seed: int = 0) -> Path:
    """A model file with the metadata ``baseline-svm run`` writes (feature set, labels, normalisation, ...)."""
    estimator = fitted_estimator(norm, seed)
    return save_model(path, estimator, {"feature_set": FEATURE_SET, "labels": list(LABELS), "normalisation": norm,
                                        "fold_file_sha256": "0" * 64, "hyperparameters": dict(estimator.best_params_)})
