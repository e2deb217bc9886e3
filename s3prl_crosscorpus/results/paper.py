"""The paper's published UAR figures (PROTOCOL.md, "Published numbers to compare against"), as data.

Only this module holds them; the leaderboard, plots and bundles look them up here.
"""
from typing import Dict, Optional, Sequence, Tuple

from ..core.labels import CORPORA

#: Table rows in the paper's order: the openSMILE SVMs, then the HuBERT heads.
SVM_SYSTEMS: Tuple[str, ...] = ("GeMAPS-SVM", "eGeMAPS-SVM", "ComParE-SVM")
DNN_SYSTEMS: Tuple[str, ...] = ("HuBERT-Linear", "HuBERT-CNNSelfAtt", "HuBERT-Transformer")
SYSTEM_ORDER: Tuple[str, ...] = SVM_SYSTEMS + DNN_SYSTEMS

#: Only UAR is published; WA and macro-F1 have no paper figure.
PAPER_METRIC = "uar"

# system -> corpus -> (matched, extended) UAR in %; the paper reports the DNNs on IEMOCAP only.
_PUBLISHED: Dict[str, Dict[str, Tuple[float, float]]] = {
    "GeMAPS-SVM": {"emodb": (78.21, 77.40), "ravdess": (60.43, 64.06), "iemocap": (58.91, 58.52)},
    "eGeMAPS-SVM": {"emodb": (78.94, 79.67), "ravdess": (61.28, 63.91), "iemocap": (59.58, 59.79)},
    "ComParE-SVM": {"emodb": (82.50, 83.53), "ravdess": (65.60, 67.81), "iemocap": (62.79, 63.54)},
    "HuBERT-Linear": {"iemocap": (65.60, 65.86)},
    "HuBERT-CNNSelfAtt": {"iemocap": (65.53, 67.58)},
    "HuBERT-Transformer": {"iemocap": (64.48, 67.03)},
}

#: (system, condition, corpus) -> published UAR in %.
PAPER_UAR: Dict[Tuple[str, str, str], float] = {
    (system, condition, corpus): pair[k]
    for system, by_corpus in _PUBLISHED.items()
    for corpus, pair in by_corpus.items()
    for k, condition in enumerate(("matched", "extended"))
}


def paper_uar(system: str, condition: str, corpus: str) -> Optional[float]:
    """The paper's UAR (%) for this cell, or None where the paper has no figure (e.g. loco)."""
    return PAPER_UAR.get((system, condition, corpus))


def paper_pool(condition: str, corpus: str) -> Optional[Tuple[str, ...]]:
    """The corpora the paper trained on: the test corpus (matched) or all three (extended); None for loco."""
    return {"matched": (corpus,), "extended": tuple(CORPORA)}.get(condition)


def comparable(condition: str, corpus: str, train_corpora: Optional[Sequence[str]]) -> bool:
    """The one pool rule: a cell is compared with the paper only when it was trained on the paper's pool for its
    condition (``train_corpora`` None: not recorded, taken as the paper's)."""
    reference = paper_pool(condition, corpus)
    if reference is None:
        return False
    return train_corpora is None or sorted(train_corpora) == sorted(reference)


def paper_figure(system: str, condition: str, corpus: str, train_corpora: Optional[Sequence[str]]) -> Optional[float]:
    """The paper's UAR where it publishes the cell and the cell is :func:`comparable`, else None."""
    return paper_uar(system, condition, corpus) if comparable(condition, corpus, train_corpora) else None


def pool_label(condition: str, train_corpora: Optional[Sequence[str]]) -> Optional[str]:
    """``trained on emodb+ravdess`` for an extended or loco cell not trained on the paper's three corpora, else None."""
    if condition == "matched" or not train_corpora or sorted(train_corpora) == sorted(CORPORA):
        return None
    order = lambda c: (CORPORA.index(c) if c in CORPORA else len(CORPORA), c)
    return "trained on " + "+".join(sorted(train_corpora, key=order))


def system_rank(system: str, family: str = "") -> Tuple[int, int, str]:
    """Sort key of a table row: the paper's systems in its order, then other SVMs, then the rest, by name."""
    if system in SYSTEM_ORDER:
        return (0, SYSTEM_ORDER.index(system), "")
    return (1, 0 if family == "svm" else 1, system)
