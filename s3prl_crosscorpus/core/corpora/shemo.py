"""ShEMO (Sharif Emotional Speech Database, Persian): ``ROOT/female/F01A01.wav``, ``ROOT/male/M01N01.wav``.

Where each fact comes from (the ShEMO README at github.com/pariajm/sharif-emotional-speech-dataset, and
Mohamad Nezami, Jamshid Lou & Karami, "ShEMO: a large-scale validated database for Persian speech emotion
detection", Language Resources and Evaluation 53(1):1-16, 2019, doi:10.1007/s10579-018-9427-x):

- 3,000 semi-natural utterances (3 h 25 min) from online radio plays, 87 speakers (31 female, 56 male): README.
- file name ``GSSENN.wav``: gender F/M, two-digit speaker code, emotion letter A anger, F fear, H happiness,
  N neutral, S sadness, W surprise, two-digit utterance number (e.g. F03S02): README. The audio ships as
  ``female.zip`` and ``male.zip``, unpacked into ``female/`` and ``male/``.
- per class (paper, Table 2): anger 1,059, fear 38, happiness 201, neutral 1,028, sadness 449, surprise 225 (these
  sum to the published 3,000), so the 4-class set holds 2,737. Not re-checked against a copy of the paper here.

Choices: the speaker is gender letter + code (F01 and M01 are different people); labels are the annotators'
majority labels as distributed in the file names.
"""
import re
from pathlib import Path
from typing import Dict, List

from .common import CorpusError, CorpusRead, check_root, is_resource_fork, make_utterance

LANGUAGE = "fa"
LAYOUT = "female/F01A01.wav ... male/M01N01.wav (GSSENN.wav: gender, speaker, emotion A F H N S W, number)"
SHEMO_SOURCE: Dict[str, str] = {"A": "anger", "F": "fear", "H": "happiness", "N": "neutral", "S": "sadness",
                                "W": "surprise"}
TO_FOUR_CLASS: Dict[str, str] = {"neutral": "neu", "happiness": "hap", "anger": "ang", "sadness": "sad"}
NAME = re.compile(r"^(?P<gender>[FM])(?P<speaker>\d\d)(?P<emotion>[A-Z])(?P<number>\d\d)\.wav$")


def candidate_files(root: Path) -> List[Path]:
    """wav files in ``root``, its direct sub-folders (``female/``, ``male/``) and theirs (``ShEMO/female``)."""
    folders = [root] + sorted(p for p in root.iterdir() if p.is_dir())
    folders += sorted(q for p in folders[1:] for q in p.iterdir() if q.is_dir())
    return sorted(p for folder in folders for p in folder.glob("*.wav") if not is_resource_fork(p))


def read_shemo(root: Path) -> CorpusRead:
    """Read ShEMO from its root (the folder holding ``female/`` and ``male/``)."""
    root = check_root(root, "ShEMO", LAYOUT)
    files = candidate_files(root)
    named = [p for p in files if NAME.match(p.name)]
    if not named:
        raise CorpusError(f"ShEMO root {root}: no ShEMO wav files found (expected {LAYOUT})")
    read = CorpusRead("shemo", str(root))
    for path in files:
        match = NAME.match(path.name)
        if not match or match["emotion"] not in SHEMO_SOURCE:
            read.leave_out(path, "file name does not follow ShEMO's GSSENN.wav convention", problem=True)
            continue
        source = SHEMO_SOURCE[match["emotion"]]
        make_utterance(read, path, path.stem, f"{match['gender']}{match['speaker']}", match["gender"],
                       TO_FOUR_CLASS.get(source), source, LANGUAGE)
    return read
