"""The one source of truth for emotion classes, corpus names and label mappings."""
from typing import Dict, Optional, Tuple

#: The four classes, in this order everywhere (logits, confusion matrices, tables).
LABELS: Tuple[str, ...] = ("neu", "hap", "ang", "sad")
LABEL_TO_INDEX: Dict[str, int] = {label: i for i, label in enumerate(LABELS)}

#: Corpus names, in table order.
CORPORA: Tuple[str, ...] = ("emodb", "ravdess", "iemocap")
CORPUS_LANGUAGE: Dict[str, str] = {"emodb": "de", "ravdess": "en", "iemocap": "en"}
CORPUS_DISPLAY: Dict[str, str] = {"emodb": "EmoDB", "ravdess": "RAVDESS", "iemocap": "IEMOCAP"}

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
