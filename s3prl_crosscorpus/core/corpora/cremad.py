"""CREMA-D: ``ROOT/AudioWAV/1001_DFA_ANG_XX.wav`` + ``ROOT/VideoDemographics.csv``.

Where each fact comes from (CREMA-D README at github.com/CheyneyComputerScience/CREMA-D, "Filename labeling
conventions", and Cao et al. 2014, IEEE Trans. Affective Computing 5(4):377-390, doi:10.1109/TAFFC.2014.2336244):

- layout: audio in ``AudioWAV/``, one row per actor in ``VideoDemographics.csv`` (ActorID, Age, Sex, Race,
  Ethnicity; Sex ``Male``/``Female``): README.
- file name ``ActorID_Sentence_Emotion_Level.wav``; actors 1001-1091; 12 sentence codes; emotions ANG, DIS, FEA,
  HAP, NEU, SAD; levels LO, MD, HI, XX (unspecified): README.
- 7,442 clips from 91 actors, 48 male and 43 female: README and paper.
- per class: ANG, DIS, FEA, HAP and SAD 1,271 each, NEU 1,087 (sums to the published 7,442), so the 4-class set
  holds 4,900 clips. These per-class figures are the widely reported counts of the released AudioWAV folder; no
  retrieved document stated them, so treat them as the count of the release, not of the paper.

Choices: the label is the emotion the actor was asked to portray (the file name), not the crowd's perceived
label (``processedResults/``), as for EmoDB and RAVDESS; every intensity level is kept.
"""
import csv
import re
from pathlib import Path
from typing import Dict

from .common import CorpusError, CorpusRead, check_root, is_resource_fork, make_utterance

LANGUAGE = "en"
LAYOUT = "AudioWAV/1001_DFA_ANG_XX.wav ... and VideoDemographics.csv (ActorID,Age,Sex,Race,Ethnicity)"
#: Emotion code (3rd field) -> source label.
CREMAD_SOURCE: Dict[str, str] = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happy",
                                 "NEU": "neutral", "SAD": "sad"}
TO_FOUR_CLASS: Dict[str, str] = {"neutral": "neu", "happy": "hap", "anger": "ang", "sad": "sad"}
SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI")
LEVELS = ("LO", "MD", "HI", "XX")
NAME = re.compile(r"^(?P<actor>\d{4})_(?P<sentence>[A-Z]{3})_(?P<emotion>[A-Z]{3})_(?P<level>[A-Z]{2})\.wav$")
SEX = {"Male": "M", "Female": "F"}


def read_demographics(path: Path) -> Dict[str, str]:
    """ActorID -> "M"/"F" from ``VideoDemographics.csv``; CorpusError naming the file and line."""
    if not path.is_file():
        raise CorpusError(f"CREMA-D: {path} not found (expected {LAYOUT})")
    genders: Dict[str, str] = {}
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = csv.DictReader(handle)
        missing = {"ActorID", "Sex"} - set(rows.fieldnames or ())
        if missing:
            raise CorpusError(f"{path}:1: missing column(s) {', '.join(sorted(missing))} "
                              "(expected ActorID,Age,Sex,Race,Ethnicity)")
        for number, row in enumerate(rows, 2):
            actor, sex = (row.get("ActorID") or "").strip(), (row.get("Sex") or "").strip()
            if not actor.isdigit() or sex not in SEX:
                raise CorpusError(f"{path}:{number}: expected an ActorID and Sex Male/Female, got "
                                  f"{actor!r}, {sex!r}")
            if actor in genders:
                raise CorpusError(f"{path}:{number}: ActorID {actor} is listed twice")
            genders[actor] = SEX[sex]
    return genders


def read_cremad(root: Path) -> CorpusRead:
    """Read CREMA-D from its root (the folder holding ``AudioWAV/`` and ``VideoDemographics.csv``)."""
    root = check_root(root, "CREMA-D", LAYOUT)
    wav_dir = root / "AudioWAV"
    files = sorted(p for p in wav_dir.glob("*.wav") if not is_resource_fork(p)) if wav_dir.is_dir() else []
    if not files:
        raise CorpusError(f"CREMA-D root {root}: no wav files in {wav_dir} (expected {LAYOUT})")
    genders = read_demographics(root / "VideoDemographics.csv")
    read = CorpusRead("cremad", str(root))
    for path in files:
        match = NAME.match(path.name)
        if (not match or match["emotion"] not in CREMAD_SOURCE or match["sentence"] not in SENTENCES
                or match["level"] not in LEVELS):
            read.leave_out(path, "file name does not follow CREMA-D's ActorID_SEN_EMO_LV.wav convention",
                           problem=True)
            continue
        if match["actor"] not in genders:
            read.leave_out(path, f"actor {match['actor']} is not in VideoDemographics.csv", problem=True)
            continue
        source = CREMAD_SOURCE[match["emotion"]]
        make_utterance(read, path, path.stem, match["actor"], genders[match["actor"]],
                       TO_FOUR_CLASS.get(source), source, LANGUAGE)
    return read
