"""EMOVO (Italian): ``ROOT/f1/dis-f1-b1.wav`` ... ``ROOT/m3/tri-m3-n5.wav``.

Where each fact comes from (Costantini, Iaderola, Paoloni & Todisco, "EMOVO Corpus: an Italian Emotional Speech
Database", LREC 2014, and the corpus' documentation as redistributed, e.g. DagsHub audio-datasets/EMOVO):

- six actors, three female (f1 f2 f3) and three male (m1 m2 m3), one folder each.
- 14 sentences (codes b1-b3, d1-d2, l1-l4, n1-n5), seven states: ``dis`` disgusto (disgust), ``gio`` gioia (joy),
  ``neu`` neutrale, ``pau`` paura (fear), ``rab`` rabbia (anger), ``sor`` sorpresa (surprise), ``tri`` tristezza
  (sadness); file name ``emotion-speaker-sentence.wav``.
- 6 x 14 x 7 = 588 files; the 4-class set holds 6 x 14 = 84 per class, 336 in all.

Choice: joy (``gio``) is the happiness class.
"""
import re
from pathlib import Path
from typing import Dict, List

from .common import CorpusError, CorpusRead, check_root, folders_named, is_resource_fork, make_utterance

LANGUAGE = "it"
LAYOUT = "f1/dis-f1-b1.wav ... m3/tri-m3-n5.wav (speaker folders f1 f2 f3 m1 m2 m3)"
EMOVO_SPEAKERS: Dict[str, str] = {"f1": "F", "f2": "F", "f3": "F", "m1": "M", "m2": "M", "m3": "M"}
EMOVO_SOURCE: Dict[str, str] = {"dis": "disgust", "gio": "joy", "neu": "neutral", "pau": "fear",
                                "rab": "anger", "sor": "surprise", "tri": "sadness"}
TO_FOUR_CLASS: Dict[str, str] = {"neutral": "neu", "joy": "hap", "anger": "ang", "sadness": "sad"}
SENTENCES = ("b1", "b2", "b3", "d1", "d2", "l1", "l2", "l3", "l4", "n1", "n2", "n3", "n4", "n5")
NAME = re.compile(r"^(?P<emotion>[a-z]{3})-(?P<speaker>[fm]\d)-(?P<sentence>[a-z]\d)\.wav$")


def speaker_folders(root: Path) -> List[Path]:
    """Speaker folders in ``root`` and in its direct sub-folders (``EMOVO/f1``)."""
    return folders_named(root, lambda name: name in EMOVO_SPEAKERS)


def read_emovo(root: Path) -> CorpusRead:
    """Read EMOVO from its root (the folder holding the six speaker folders)."""
    root = check_root(root, "EMOVO", LAYOUT)
    files = sorted(p for folder in speaker_folders(root) for p in folder.glob("*.wav") if not is_resource_fork(p))
    if not files:
        raise CorpusError(f"EMOVO root {root}: no speaker folders with wav files (expected {LAYOUT})")
    read = CorpusRead("emovo", str(root))
    for path in files:
        match = NAME.match(path.name)
        if (not match or match["emotion"] not in EMOVO_SOURCE or match["sentence"] not in SENTENCES
                or match["speaker"] != path.parent.name):
            read.leave_out(path, "file name does not follow EMOVO's emotion-speaker-sentence.wav convention "
                                 f"in its speaker's folder", problem=True)
            continue
        source = EMOVO_SOURCE[match["emotion"]]
        make_utterance(read, path, path.stem, match["speaker"], EMOVO_SPEAKERS[match["speaker"]],
                       TO_FOUR_CLASS.get(source), source, LANGUAGE)
    return read
