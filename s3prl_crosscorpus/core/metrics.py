"""UAR (macro recall), WA, macro-F1 and the confusion matrix over the four classes, and the
degenerate-training guard both systems apply to their chosen model."""
from typing import Dict, List, Optional, Sequence

import numpy as np

from .labels import LABELS


def confusion(y_true: Sequence[str], y_pred: Sequence[str]) -> np.ndarray:
    """Rows = reference, columns = prediction, both in LABELS order."""
    from sklearn.metrics import confusion_matrix  # here: scikit-learn takes seconds to import (--help)

    return confusion_matrix(list(y_true), list(y_pred), labels=list(LABELS))


def per_class_recall(cm: np.ndarray) -> Dict[str, Optional[float]]:
    """Recall per class; None for a class with no reference utterance."""
    support = cm.sum(axis=1)
    return {lab: (float(cm[i, i] / support[i]) if support[i] else None) for i, lab in enumerate(LABELS)}


def uar_from_confusion(cm: np.ndarray) -> float:
    """Unweighted average recall over the classes present in the reference."""
    recalls = [r for r in per_class_recall(cm).values() if r is not None]
    return float(np.mean(recalls)) if recalls else float("nan")


def uar(y_true: Sequence[str], y_pred: Sequence[str]) -> float:
    return uar_from_confusion(confusion(y_true, y_pred))


def scores(y_true: Sequence[str], y_pred: Sequence[str]) -> dict:
    """UAR, WA (accuracy), macro-F1, per-class recall and confusion matrix, as plain JSON types."""
    if len(y_true) != len(y_pred) or not len(y_true):
        raise ValueError(f"need equally long, non-empty label lists (got {len(y_true)} and {len(y_pred)})")
    unknown = (set(y_true) | set(y_pred)) - set(LABELS)
    if unknown:
        raise ValueError(f"labels {sorted(unknown)} are not in the label set {LABELS}")
    from sklearn.metrics import f1_score

    cm = confusion(y_true, y_pred)
    present = [lab for lab in LABELS if lab in set(y_true)]
    return {
        "uar": uar_from_confusion(cm),
        "wa": float(np.trace(cm) / cm.sum()),
        "macro_f1": float(f1_score(list(y_true), list(y_pred), labels=present, average="macro", zero_division=0)),
        "per_class_recall": per_class_recall(cm),
        "confusion_matrix": cm.astype(int).tolist(),
        "n": int(cm.sum()),
    }


#: Dev UAR must exceed chance (1/4) by this much, or by two binomial standard errors of the dev set if larger.
CHANCE_MARGIN = 0.05


def degenerate_warnings(best_uar: float, dev_size: int, dev_classes: Sequence[str]) -> List[str]:
    """Why a trained model's number may be meaningless: dev UAR never clearly above chance, or the chosen
    checkpoint predicting a single class on dev."""
    chance = 1.0 / len(LABELS)
    margin = max(CHANCE_MARGIN, 2 * (chance * (1 - chance) / max(dev_size, 1)) ** 0.5)
    found = []
    if best_uar <= chance + margin:
        found.append(f"degenerate training: best dev UAR {max(best_uar, 0.0):.3f} never rose clearly above chance "
                     f"({chance:.2f} + {margin:.3f} for {dev_size} dev utterances)")
    if len(set(dev_classes)) == 1:
        found.append(f"degenerate training: the chosen checkpoint predicts only '{next(iter(dev_classes))}' on dev")
    return found
