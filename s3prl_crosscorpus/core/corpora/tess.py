"""TESS (Toronto emotional speech set): ``ROOT/OAF_angry/OAF_back_angry.wav``, ``ROOT/YAF_sad/YAF_bath_sad.wav``.

Where each fact comes from (TESS collection page, Dupuis & Pichora-Fuller 2010, University of Toronto,
doi:10.5683/SP2/E8H2MF, and its Kaggle copy's description):

- two actresses, aged 64 (``OAF``, older adult female) and 26 (``YAF``, younger adult female); both female
  (one widely copied README calls OAF "the male voice": the collection page says two actresses).
- 200 target words in the carrier phrase "Say the word _", seven emotions (anger, disgust, fear, happiness,
  pleasant surprise, sadness, neutral): 2,800 files, 400 per emotion, so the 4-class set holds 1,600.
- file name ``SPEAKER_word_emotion.wav`` with emotion ``angry disgust fear happy neutral ps sad`` (ps = pleasant
  surprise); one folder per speaker and emotion (``OAF_angry``, ``OAF_Pleasant_surprise``, ``YAF_sad`` ...).
  The folder names differ in case between copies, so the reader takes speaker and emotion from the file name.

Two speakers cannot give speaker-independent folds: TESS is a test-only corpus (see the registry).
"""
import re
from pathlib import Path
from typing import Dict, List

from .common import CorpusError, CorpusRead, check_root, folders_named, is_resource_fork, make_utterance
from .ravdess import pick_copy

LANGUAGE = "en"
LAYOUT = "OAF_angry/OAF_back_angry.wav ... YAF_sad/YAF_back_sad.wav (OAF_/YAF_ folders)"
TESS_SPEAKERS: Dict[str, str] = {"OAF": "F", "YAF": "F"}
#: File name emotion (last field) -> source label.
TESS_SOURCE: Dict[str, str] = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness",
                               "neutral": "neutral", "ps": "pleasant surprise", "sad": "sadness"}
TO_FOUR_CLASS: Dict[str, str] = {"neutral": "neu", "happiness": "hap", "anger": "ang", "sadness": "sad"}
NAME = re.compile(r"^(?P<speaker>OAF|YAF)_(?P<word>[^_]+)_(?P<emotion>[A-Za-z]+)\.wav$", re.IGNORECASE)
FOLDER = re.compile(r"^(OAF|YAF)_", re.IGNORECASE)


def speaker_folders(root: Path) -> List[Path]:
    """``OAF_*``/``YAF_*`` folders in ``root`` and its direct sub-folders (copies nest the set once)."""
    return folders_named(root, lambda name: bool(FOLDER.match(name)))


def read_tess(root: Path) -> CorpusRead:
    """Read TESS from its root; a file name found in several folders is read once."""
    root = check_root(root, "TESS", LAYOUT)
    files = sorted(p for folder in speaker_folders(root) for p in folder.glob("*.wav") if not is_resource_fork(p))
    if not files:
        raise CorpusError(f"TESS root {root}: no OAF_*/YAF_* folders with wav files (expected {LAYOUT})")
    read = CorpusRead("tess", str(root))
    copies: Dict[str, List[Path]] = {}
    for path in sorted(files, key=lambda p: (len(p.relative_to(root).parts), str(p))):
        copies.setdefault(path.name, []).append(path)
    for name in sorted(copies, key=lambda n: str(copies[n][0])):
        match = NAME.match(name)
        emotion = match["emotion"].lower() if match else ""
        if not match or emotion not in TESS_SOURCE:
            for path in copies[name]:
                read.leave_out(path, "file name does not follow TESS' SPEAKER_word_emotion.wav convention",
                               problem=True)
            continue
        source, speaker = TESS_SOURCE[emotion], match["speaker"].upper()
        label = TO_FOUR_CLASS.get(source)
        path = pick_copy(read, copies[name]) if label is not None else copies[name][0]
        make_utterance(read, path, path.stem, speaker, TESS_SPEAKERS[speaker], label, source, LANGUAGE)
        if label is None:
            for other in copies[name][1:]:
                read.leave_out(other, f"class not used: {source}")
    return read
