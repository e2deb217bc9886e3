"""One reader per corpus: a plain function from the corpus root to utterance records.

Each reader returns a :class:`CorpusRead` holding the usable 4-class utterances, the
files the protocol leaves out (e.g. RAVDESS calm) and the files that are broken.
The paper's three corpora and the registry's (``registry.REGISTRY``: CREMA-D, TESS, SAVEE,
MSP-Podcast, EMOVO, ESD, ShEMO) are all in :data:`READERS`.
"""
from typing import Callable, Dict

from .common import CorpusError, CorpusRead, LeftOut, Utterance
from .emodb import read_emodb
from .iemocap import read_iemocap
from .ravdess import read_ravdess
from .registry import REGISTRY, REGISTRY_CORPORA, CorpusInfo, corpus_info, readers

READERS: Dict[str, Callable[..., CorpusRead]] = readers()

__all__ = ["READERS", "REGISTRY", "REGISTRY_CORPORA", "CorpusError", "CorpusInfo", "CorpusRead", "LeftOut",
           "Utterance", "corpus_info", "read_emodb", "read_ravdess", "read_iemocap"]
