"""The baseline's option values (grids, searches, selections, "all"), in a module that imports no
scikit-learn, so that ``baseline-svm --help`` prints at once. ``model`` and ``run`` use these."""
from typing import Dict, Tuple

#: log2 exponents of C and gamma. "libsvm" is LIBSVM grid.py's default grid
#: (C = 2^-5..2^15, gamma = 2^-15..2^3, steps of 2^2); "coarse" steps by 2^4 for quick runs.
GRIDS: Dict[str, Dict[str, Tuple[int, ...]]] = {
    "libsvm": {"log2_C": tuple(range(-5, 16, 2)), "log2_gamma": tuple(range(-15, 4, 2))},
    "coarse": {"log2_C": tuple(range(-5, 16, 4)), "log2_gamma": tuple(range(-15, 4, 4))},
}
SEARCHES: Tuple[str, ...] = ("kernel", "sklearn")
SELECTIONS: Tuple[str, ...] = ("dev", "group-cv")
DEFAULT_CV_FOLDS = 5
#: ``--test-corpus all`` / ``--fold all``.
ALL = "all"
