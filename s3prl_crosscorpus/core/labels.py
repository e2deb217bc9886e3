"""The one source of truth for emotion classes, corpus names and label mappings."""
import re
from typing import Dict, Iterable, Optional, Tuple

#: The four classes, in this order everywhere (logits, confusion matrices, tables).
LABELS: Tuple[str, ...] = ("neu", "hap", "ang", "sad")
LABEL_TO_INDEX: Dict[str, int] = {label: i for i, label in enumerate(LABELS)}

#: The paper's corpora, in table order. Other corpora (registry readers, CSV, audformat) may sit in a
#: manifest too: they come after these three, by name (:func:`corpus_order`).
CORPORA: Tuple[str, ...] = ("emodb", "ravdess", "iemocap")
PAPER_CORPORA = CORPORA
#: What any corpus name must look like (it starts utterance ids, result folders and CLI flags).
CORPUS_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
CORPUS_LANGUAGE: Dict[str, str] = {"emodb": "de", "ravdess": "en", "iemocap": "en"}
#: Table names of every known corpus; read them only through :func:`display_name` (tests/test_architecture.py).
CORPUS_DISPLAY: Dict[str, str] = {"emodb": "EmoDB", "ravdess": "RAVDESS", "iemocap": "IEMOCAP",
                                  "cremad": "CREMA-D", "tess": "TESS", "savee": "SAVEE",
                                  "msppodcast": "MSP-Podcast", "emovo": "EMOVO", "esd": "ESD (English)",
                                  "shemo": "ShEMO"}

#: EmoDB emotion letter (6th character of the file name) -> source label.
EMODB_SOURCE: Dict[str, str] = {
    "W": "anger", "F": "happiness", "T": "sadness", "N": "neutral",
    "L": "boredom", "A": "fear", "E": "disgust",
}
#: RAVDESS emotion field (3rd field of the file name) -> source label.
RAVDESS_SOURCE: Dict[str, str] = {
    "01": "neutral", "02": "calm", "03": "happy", "04": "sad",
    "05": "angry", "06": "fearful", "07": "disgust", "08": "surprised",
}
#: IEMOCAP EmoEvaluation codes.
IEMOCAP_SOURCE: Tuple[str, ...] = (
    "neu", "hap", "exc", "ang", "sad", "fru", "sur", "fea", "dis", "oth", "xxx",
)

#: Source label -> 4-class label; anything else is left out of the protocol.
TO_FOUR_CLASS: Dict[str, Dict[str, str]] = {
    "emodb": {"neutral": "neu", "happiness": "hap", "anger": "ang", "sadness": "sad"},
    # Calm is NOT neutral in RAVDESS: it is left out.
    "ravdess": {"neutral": "neu", "happy": "hap", "angry": "ang", "sad": "sad"},
    # Excitement is merged into happiness, as in the SUPERB ER task.
    "iemocap": {"neu": "neu", "hap": "hap", "exc": "hap", "ang": "ang", "sad": "sad"},
}


def four_class(corpus: str, source_label: str) -> Optional[str]:
    """Map a corpus' source label to one of LABELS, or None if the protocol leaves it out."""
    return TO_FOUR_CLASS[corpus].get(source_label)


def corpus_rank(corpus: str) -> Tuple[int, int, str]:
    """Sort key of a corpus: the paper's three first in their order, then any other corpus by name."""
    return (0, CORPORA.index(corpus), "") if corpus in CORPORA else (1, 0, corpus)


def corpus_order(corpora: Iterable[str]) -> Tuple[str, ...]:
    """The distinct corpora in table order (:func:`corpus_rank`)."""
    return tuple(sorted(set(corpora), key=corpus_rank))


def corpus_name_problem(corpus: object) -> Optional[str]:
    """Why a string cannot name a corpus, or None."""
    if isinstance(corpus, str) and CORPUS_NAME.match(corpus):
        return None
    return f"corpus name {corpus!r} must be lower-case letters, digits and _ (starting with a letter, at most 32)"


def display_name(corpus: str) -> str:
    """The corpus as tables print it (EmoDB, CREMA-D, ...: the registry's names; an own corpus as named)."""
    return CORPUS_DISPLAY.get(corpus, corpus)
