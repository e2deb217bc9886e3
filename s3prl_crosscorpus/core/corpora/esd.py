"""ESD (Emotional Speech Dataset), English part: ``ROOT/0011/Angry/train/0011_000351.wav``.

Where each fact comes from (the ESD README at github.com/HLTSingapore/Emotional-Speech-Data, and Zhou, Sisman,
Liu & Li, "Seen and unseen emotional style transfer for voice conversion with a new emotional speech dataset",
ICASSP 2021, pp. 920-924):

- 20 speakers: 0001-0010 Mandarin, 0011-0020 English. English genders from the readme distributed with the
  corpus: 0011-0014 male, 0015-0019 female, 0020 male (5 male, 5 female). One third-party table lists 0019 as
  male; the corpus' readme is followed here.
- five emotions, one folder each: Neutral, Angry, Happy, Sad, Surprise; 350 parallel utterances per speaker and
  emotion, inside ``train/`` (300), ``evaluation/`` (20) and ``test/`` (30) (some copies have no split folders);
  file name ``SPEAKER_NNNNNN.wav``.
- so the English 4-class set holds 10 x 350 = 3,500 per class, 14,000 in all.

Choices: only the English speakers are read (Mandarin speaker folders are left out, one entry per folder);
Surprise is left out (it is not one of the four classes; IEMOCAP's and RAVDESS' surprise are left out too).
The emotion is the folder's; ESD's own train/evaluation/test split is ignored (speakers are the unit here).
"""
import re
from pathlib import Path
from typing import Dict, List

from .common import CorpusError, CorpusRead, check_root, is_resource_fork, make_utterance

LANGUAGE = "en"
LAYOUT = "0011/Angry/train/0011_000351.wav ... (speaker folders 0011-0020, emotion folders)"
ESD_SPEAKERS: Dict[str, str] = {"0011": "M", "0012": "M", "0013": "M", "0014": "M", "0015": "F",
                                "0016": "F", "0017": "F", "0018": "F", "0019": "F", "0020": "M"}
MANDARIN_SPEAKERS = tuple(f"{n:04d}" for n in range(1, 11))
ESD_SOURCE: Dict[str, str] = {"Neutral": "neutral", "Angry": "angry", "Happy": "happy", "Sad": "sad",
                              "Surprise": "surprise"}
TO_FOUR_CLASS: Dict[str, str] = {"neutral": "neu", "happy": "hap", "angry": "ang", "sad": "sad"}
NAME = re.compile(r"^(?P<speaker>\d{4})_(?P<number>\d{6})\.wav$")
SPLITS = ("train", "evaluation", "test")


def speaker_folders(root: Path) -> List[Path]:
    """``00NN`` folders in ``root`` and in its direct sub-folders (``Emotion Speech Dataset/0011``)."""
    known = set(ESD_SPEAKERS) | set(MANDARIN_SPEAKERS)
    found = [p for p in root.iterdir() if p.is_dir() and p.name in known]
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in known):
        found.extend(p for p in sub.iterdir() if p.is_dir() and p.name in known)
    return sorted(found)


def emotion_files(speaker_dir: Path) -> List[Path]:
    """wav files in the speaker's emotion folders, with or without split sub-folders."""
    files: List[Path] = []
    for emotion_dir in sorted(p for p in speaker_dir.iterdir() if p.is_dir()):
        files.extend(emotion_dir.glob("*.wav"))
        for split in SPLITS:
            files.extend((emotion_dir / split).glob("*.wav"))
    return sorted(p for p in files if not is_resource_fork(p))


def read_esd(root: Path) -> CorpusRead:
    """Read ESD's English speakers from its root (the folder holding the speaker folders)."""
    root = check_root(root, "ESD", LAYOUT)
    folders = speaker_folders(root)
    english = [p for p in folders if p.name in ESD_SPEAKERS]
    if not english:
        raise CorpusError(f"ESD root {root}: no English speaker folders 0011-0020 found (expected {LAYOUT})")
    read = CorpusRead("esd", str(root))
    for folder in folders:
        if folder.name not in ESD_SPEAKERS:
            read.leave_out(folder, "Mandarin speaker folder (0001-0010): only ESD's English speakers are read")
            continue
        for path in emotion_files(folder):
            emotion = path.parent.name if path.parent.name not in SPLITS else path.parent.parent.name
            match = NAME.match(path.name)
            if not match or match["speaker"] != folder.name or emotion not in ESD_SOURCE:
                read.leave_out(path, "not ESD's SPEAKER/Emotion/[split/]SPEAKER_NNNNNN.wav naming", problem=True)
                continue
            source = ESD_SOURCE[emotion]
            make_utterance(read, path, path.stem, folder.name, ESD_SPEAKERS[folder.name],
                           TO_FOUR_CLASS.get(source), source, LANGUAGE)
    return read
