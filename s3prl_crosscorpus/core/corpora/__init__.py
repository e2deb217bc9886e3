"""One reader per corpus: a plain function from the corpus root to utterance records.

Each reader returns a :class:`CorpusRead` holding the usable 4-class utterances, the
files the protocol leaves out (e.g. RAVDESS calm) and the files that are broken.
"""
from typing import Callable, Dict

from .common import CorpusError, CorpusRead, LeftOut, Utterance
from .emodb import read_emodb
from .iemocap import read_iemocap
from .ravdess import read_ravdess

READERS: Dict[str, Callable[..., CorpusRead]] = {
    "emodb": read_emodb,
    "ravdess": read_ravdess,
    "iemocap": read_iemocap,
}

__all__ = ["READERS", "CorpusError", "CorpusRead", "LeftOut", "Utterance",
           "read_emodb", "read_ravdess", "read_iemocap"]
