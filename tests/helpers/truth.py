"""Metrics computed by hand with numpy, the independent truth tests compare the code under test with
(never ``s3prl_crosscorpus.core.metrics``)."""
from typing import Sequence

import numpy as np


def hand_uar(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """Mean over the classes present in ``y_true`` of the fraction of their utterances predicted right."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]))


def hand_accuracy(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    """The fraction of utterances predicted right (WA)."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))
