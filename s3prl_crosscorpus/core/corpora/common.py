"""Records shared by the corpus readers."""
import os
import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, List, Optional, Tuple

import soundfile as sf

from ..labels import CORPUS_LANGUAGE


class CorpusError(RuntimeError):
    """A corpus root that cannot be read at all; the message names the path."""


@dataclass(frozen=True)
class Utterance:
    """One line of the manifest."""

    id: str
    corpus: str
    path: str
    speaker: str
    gender: str  # "M" or "F"
    language: str
    label: str  # one of labels.LABELS
    source_label: str
    sample_rate: int
    channels: int
    num_frames: int
    #: The corpus' official split (MSP-Podcast's Split_Set: Train, Development, Test1, ...) when the corpus was
    #: prepared with its official partition (``prepare --official-partition NAME``), else "". Written to the
    #: manifest only when set, so a manifest without official partitions keeps its bytes (and results' hash).
    partition: str = ""

    @property
    def seconds(self) -> float:
        return self.num_frames / self.sample_rate

    def to_dict(self) -> dict:
        """The manifest row: every field, ``partition`` only when set."""
        row = asdict(self)
        if not row[OPTIONAL_FIELD]:
            del row[OPTIONAL_FIELD]
        return row


#: The one manifest field a row may lack (its default, "", is not written).
OPTIONAL_FIELD = "partition"


@dataclass(frozen=True)
class LeftOut:
    """A file not in the manifest, and why. ``problem`` marks broken input, not protocol."""

    path: str
    reason: str
    problem: bool = False


@dataclass
class CorpusRead:
    corpus: str
    root: str
    utterances: List[Utterance] = field(default_factory=list)
    left_out: List[LeftOut] = field(default_factory=list)
    content_duplicates: List[List[str]] = field(default_factory=list)  # ids with identical audio (set by prepare)

    def leave_out(self, path: Path, reason: str, problem: bool = False) -> None:
        self.left_out.append(LeftOut(str(path), reason, problem))

    @property
    def problems(self) -> List[LeftOut]:
        return [item for item in self.left_out if item.problem]


def check_root(root: Path, corpus: str, expected: str) -> Path:
    """Fail clearly when a corpus root is missing or not a folder."""
    root = Path(root).expanduser()
    if not root.exists():
        raise CorpusError(f"{corpus} root {root} does not exist (expected {expected})")
    if not root.is_dir():
        raise CorpusError(f"{corpus} root {root} is not a folder (expected {expected})")
    return root.resolve()


def folders_named(root: Path, wanted: Callable[[str], bool]) -> List[Path]:
    """Folders whose name is ``wanted`` in ``root`` and in its direct sub-folders (copies that nest the set once)."""
    found = [p for p in root.iterdir() if p.is_dir() and wanted(p.name)]
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not wanted(p.name)):
        found.extend(p for p in sub.iterdir() if p.is_dir() and wanted(p.name))
    return sorted(found)


def is_resource_fork(path: Path) -> bool:
    """macOS '._name' AppleDouble files that some corpus copies carry."""
    return path.name.startswith("._")


def riff_data_shortfall(path: Path) -> Optional[Tuple[int, int]]:
    """(announced, present) bytes of a RIFF/WAVE file's data chunk when fewer are present, else None.

    libsndfile silently reads what is there, so a cut-off copy would pass for a shorter recording.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        offset = 12
        while offset + 8 <= size:
            handle.seek(offset)
            chunk, length = handle.read(4), struct.unpack("<I", handle.read(4))[0]
            if chunk == b"data":
                present = size - offset - 8
                if length not in (0, 0xFFFFFFFF) and present < length:  # 0 / -1: streamed, size unknown
                    return length, present
                return None
            offset += 8 + length + (length & 1)
    return None


def wav_problem(path: Path) -> Optional[str]:
    """Why a wav cannot be used (unreadable, empty, truncated), or None when it looks whole."""
    try:
        info = sf.info(str(path))
    except Exception as err:  # soundfile raises several types for broken files
        return f"unreadable wav ({err})"
    if info.frames <= 0:
        return "empty wav (0 samples)"
    shortfall = riff_data_shortfall(Path(path))
    if shortfall:
        return (f"truncated wav: its header announces {shortfall[0]} bytes of audio but the file holds "
                f"{shortfall[1]} (a partial copy?)")
    return None


def make_utterance(read: CorpusRead, path: Path, utt_id: str, speaker: str, gender: str,
                   label: Optional[str], source_label: str, language: Optional[str] = None) -> Optional[Utterance]:
    """Probe the wav header and build a record; broken or excluded files go to ``left_out``.

    ``language``: the corpus' language code; the paper corpora take theirs from labels.CORPUS_LANGUAGE.
    """
    if label is None:
        read.leave_out(path, f"class not used: {source_label}")
        return None
    problem = wav_problem(path)
    if problem:
        read.leave_out(path, problem, problem=True)
        return None
    info = sf.info(str(path))
    utt = Utterance(
        id=f"{read.corpus}_{utt_id}", corpus=read.corpus, path=str(path.resolve()),
        speaker=speaker, gender=gender, language=language or CORPUS_LANGUAGE[read.corpus],
        label=label, source_label=source_label, sample_rate=int(info.samplerate),
        channels=int(info.channels), num_frames=int(info.frames),
    )
    read.utterances.append(utt)
    return utt
