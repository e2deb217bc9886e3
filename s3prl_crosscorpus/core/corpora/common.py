"""Records shared by the corpus readers."""
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import List, Optional

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

    @property
    def seconds(self) -> float:
        return self.num_frames / self.sample_rate

    def to_dict(self) -> dict:
        return asdict(self)


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


def is_resource_fork(path: Path) -> bool:
    """macOS '._name' AppleDouble files that some corpus copies carry."""
    return path.name.startswith("._")


def make_utterance(read: CorpusRead, path: Path, utt_id: str, speaker: str, gender: str,
                   label: Optional[str], source_label: str) -> Optional[Utterance]:
    """Probe the wav header and build a record; broken or excluded files go to ``left_out``."""
    if label is None:
        read.leave_out(path, f"class not used: {source_label}")
        return None
    try:
        info = sf.info(str(path))
    except Exception as err:
        read.leave_out(path, f"unreadable wav ({err})", problem=True)
        return None
    if info.frames <= 0:
        read.leave_out(path, "empty wav (0 samples)", problem=True)
        return None
    utt = Utterance(
        id=f"{read.corpus}_{utt_id}", corpus=read.corpus, path=str(path.resolve()),
        speaker=speaker, gender=gender, language=CORPUS_LANGUAGE[read.corpus],
        label=label, source_label=source_label, sample_rate=int(info.samplerate),
        channels=int(info.channels), num_frames=int(info.frames),
    )
    read.utterances.append(utt)
    return utt
