"""Cross-corpus speech emotion recognition on EmoDB, RAVDESS and IEMOCAP.

Packages, from the bottom up (each may import only those before it, plus its own libraries):
``core`` (protocol: labels, audio, metrics, corpora, manifest, folds, names) -> ``results``
(schema, leaderboard, statistics, plots) -> ``submission`` (bundles and their validation);
``cache`` (feature-cache format) and ``superb`` (everything that imports s3prl) for the DNN;
``commands``, ``demo`` and ``benchmarks`` on top. The SVM baseline is the sibling package
``baseline_svm``, which may import only ``core`` and ``results``. This module holds the version only.
"""
from pathlib import Path

__version__ = (Path(__file__).parent / "VERSION").read_text().strip()
