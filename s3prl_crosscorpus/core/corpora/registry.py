"""The corpus registry: every corpus the tool reads by name, with its documented facts.

One entry per corpus: reader, display name, language, documented layout (named in "wrong layout" errors),
label map to the four classes, published speaker table and 4-class counts, and where each fact comes from.
The paper's three corpora are registered too (``paper=True``); their protocol stays in ``labels.py``.
Each registry reader's module docstring says where every fact comes from and which label choices it made.
"""
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Callable, Dict, Mapping, Optional, Tuple

from ..labels import CORPUS_LANGUAGE, LABELS, TO_FOUR_CLASS, display_name
from . import cremad, emovo, esd, msppodcast, savee, shemo, tess
from .common import CorpusRead
from .emodb import read_emodb
from .iemocap import read_iemocap
from .ravdess import read_ravdess


@dataclass(frozen=True)
class CorpusInfo:
    """One registered corpus and its documented facts."""

    name: str  # the manifest's corpus name, the utterance id prefix and the `prepare --NAME` flag
    display: str
    language: str  # ISO 639-1
    reader: Callable[..., CorpusRead]
    layout: str  # what a root must hold
    label_map: Mapping[str, str]  # source label -> 4-class label; others are left out
    speakers: Optional[int]  # published speaker count (None: not fixed, e.g. grows per release)
    genders: Optional[Tuple[int, int]]  # published (male, female) speakers
    counts: Optional[Mapping[str, int]]  # published 4-class counts, LABELS order (None: release-dependent)
    source: str  # citation of the facts above
    paper: bool = False  # one of the paper's three corpora
    #: root -> {utterance id: official partition name}, for corpora that ship one (a declared alternative to folds)
    partitions: Optional[Callable[[Path], Dict[str, str]]] = None
    #: official split name -> "train", "dev" or "test" (the fold maker's roles; other splits are left out)
    partition_roles: Optional[Mapping[str, str]] = None

    @property
    def total(self) -> Optional[int]:
        """The published 4-class total, or None."""
        return sum(self.counts.values()) if self.counts is not None else None

    def test_only(self, folds: int) -> bool:
        """True when the corpus has too few speakers for ``folds`` speaker-independent folds.

        Such a corpus never joins a training pool; it is tested whole (PROTOCOL.md: "With fewer than 5
        speakers the corpus is test-only"). ``folds`` comes from the fold maker (core.folds.FOLDS).
        """
        return self.speakers is not None and self.speakers < folds


def _counts(neu: int, hap: int, ang: int, sad: int) -> Mapping[str, int]:
    return MappingProxyType(dict(zip(LABELS, (neu, hap, ang, sad))))


def _paper(name: str, reader: Callable[..., CorpusRead], layout: str, speakers: int, genders: Tuple[int, int],
           counts: Mapping[str, int]) -> CorpusInfo:
    return CorpusInfo(name, display_name(name), CORPUS_LANGUAGE[name], reader, layout,
                      MappingProxyType(TO_FOUR_CLASS[name]), speakers, genders, counts,
                      "shared/PROTOCOL.md (the paper's protocol)", paper=True)


def _registered(name: str, module: ModuleType, reader: Callable[..., CorpusRead], speakers: Optional[int],
                genders: Optional[Tuple[int, int]], counts: Optional[Mapping[str, int]], source: str,
                **more) -> CorpusInfo:
    """A registry corpus whose reader's module documents its LANGUAGE, LAYOUT and TO_FOUR_CLASS."""
    return CorpusInfo(name, display_name(name), module.LANGUAGE, reader, module.LAYOUT,
                      MappingProxyType(module.TO_FOUR_CLASS), speakers, genders, counts, source, **more)


_ENTRIES = (
    _paper("emodb", read_emodb, "wav/03a01Fa.wav ...", 10, (5, 5), _counts(79, 71, 127, 62)),
    _paper("ravdess", read_ravdess, "Actor_01/03-01-01-01-01-01-01.wav ...", 24, (12, 12),
           _counts(96, 192, 192, 192)),
    _paper("iemocap", read_iemocap, "Session1..Session5/dialog/EmoEvaluation/*.txt + sentences/wav/",
           10, (5, 5), _counts(1708, 1636, 1103, 1084)),
    _registered("cremad", cremad, cremad.read_cremad, 91, (48, 43), _counts(1087, 1271, 1271, 1271),
                "Cao et al. 2014, IEEE TAC 5(4); github.com/CheyneyComputerScience/CREMA-D README; "
                "per-class counts of the released AudioWAV folder"),
    _registered("tess", tess, tess.read_tess, 2, (0, 2), _counts(400, 400, 400, 400),
                "Dupuis & Pichora-Fuller 2010, doi:10.5683/SP2/E8H2MF (200 words x 7 emotions x 2 speakers)"),
    _registered("savee", savee, savee.read_savee, 4, (4, 0), _counts(120, 60, 60, 60),
                "Haq & Jackson, AVSP 2009; SAVEE documentation (15 per emotion, 30 neutral per speaker)"),
    _registered("msppodcast", msppodcast, msppodcast.read_msppodcast, None, None, None,
                "Lotfian & Busso 2019, IEEE TAC 10(4); release readme; MSP-Podcast corpus page (v1.11: 151,654 "
                "turns)", partitions=msppodcast.msppodcast_splits,
                partition_roles=MappingProxyType(msppodcast.OFFICIAL_ROLES)),
    _registered("emovo", emovo, emovo.read_emovo, 6, (3, 3), _counts(84, 84, 84, 84),
                "Costantini et al., LREC 2014 (6 actors x 14 sentences x 7 states)"),
    _registered("esd", esd, esd.read_esd, 10, (5, 5), _counts(3500, 3500, 3500, 3500),
                "Zhou et al., ICASSP 2021; github.com/HLTSingapore/Emotional-Speech-Data README (350 per "
                "speaker and emotion)"),
    _registered("shemo", shemo, shemo.read_shemo, 87, (56, 31), _counts(1028, 201, 1059, 449),
                "Mohamad Nezami et al. 2019, Lang. Resources & Evaluation 53(1); "
                "github.com/pariajm/sharif-emotional-speech-dataset README"),
)

#: name -> CorpusInfo, paper corpora first (table order), then the registry corpora.
REGISTRY: Mapping[str, CorpusInfo] = MappingProxyType({info.name: info for info in _ENTRIES})
#: The corpora beyond the paper's three, in registry order.
REGISTRY_CORPORA: Tuple[str, ...] = tuple(name for name, info in REGISTRY.items() if not info.paper)


def corpus_info(name: str) -> CorpusInfo:
    """The registry entry of ``name``; KeyError naming the known corpora."""
    if name not in REGISTRY:
        raise KeyError(f"unknown corpus {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def partitioned_corpora() -> Tuple[str, ...]:
    """The corpora that ship an official partition (``prepare --official-partition NAME``)."""
    return tuple(name for name, info in REGISTRY.items() if info.partitions is not None)


def partition_roles() -> Dict[str, Mapping[str, str]]:
    """corpus -> its official split names' roles, for every corpus that ships an official partition."""
    return {name: info.partition_roles for name, info in REGISTRY.items() if info.partition_roles is not None}


def readers() -> Dict[str, Callable[..., CorpusRead]]:
    """name -> reader of every registered corpus."""
    return {name: info.reader for name, info in REGISTRY.items()}
