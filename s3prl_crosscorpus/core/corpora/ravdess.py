"""RAVDESS speech, audio-only: ``ROOT/Actor_NN/03-01-EE-II-SS-RR-NN.wav``."""
import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from ..io_utils import sha256_file
from ..labels import RAVDESS_SOURCE, four_class
from .common import CorpusError, CorpusRead, check_root, is_resource_fork, make_utterance, wav_problem

NAME = re.compile(r"^(?P<modality>\d\d)-(?P<channel>\d\d)-(?P<emotion>\d\d)-(?P<intensity>\d\d)"
                  r"-(?P<statement>\d\d)-(?P<repetition>\d\d)-(?P<actor>\d\d)\.wav$")


def ravdess_gender(actor: int) -> str:
    """Odd actors are male, even actors female."""
    return "M" if actor % 2 else "F"


def actor_folders(root: Path) -> List[Path]:
    """``Actor_NN`` folders in ``root`` and in its direct sub-folders (e.g. ``audio_speech_actors_01-24/``).

    The search is bounded on purpose: a wrong root such as ``/`` must not walk a whole filesystem.
    """
    found = [p for p in root.glob("Actor_*") if p.is_dir()]
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("Actor_")):
        found.extend(p for p in sub.glob("Actor_*") if p.is_dir())
    return sorted(found)


def pick_copy(read: CorpusRead, copies: Sequence[Path]) -> Optional[Path]:
    """The copy of a file name to read: the first readable one; identical copies are left out as
    duplicates, copies with other content are PROBLEMs naming both files."""
    usable = [p for p in copies if wav_problem(p) is None]
    if not usable:
        return copies[0]  # make_utterance reports why it cannot be read
    chosen = usable[0]
    digest = sha256_file(chosen)
    for other in copies:
        if other == chosen:
            continue
        if other not in usable:
            read.leave_out(other, f"broken copy of {chosen.name} ({wav_problem(other)}); read {chosen} instead",
                           problem=True)
        elif sha256_file(other) == digest:
            read.leave_out(other, f"duplicate (same file name and content as {chosen})")
        else:
            read.leave_out(other, f"same file name as {chosen} but different audio; read {chosen} only, "
                                  "check which copy is right", problem=True)
    return chosen


def read_ravdess(root: Path) -> CorpusRead:
    """Read RAVDESS speech from its root; copies of a file under several folders are read once."""
    root = check_root(root, "RAVDESS", "a folder with Actor_01/03-01-01-01-01-01-01.wav ...")
    folders = actor_folders(root)
    files = sorted(p for folder in folders for p in folder.glob("*.wav") if not is_resource_fork(p))
    if not files:
        raise CorpusError(f"RAVDESS root {root}: no Actor_NN/*.wav files found (looked in Actor_NN folders of "
                          "the root and of its direct sub-folders)")
    read = CorpusRead("ravdess", str(root))
    copies: Dict[str, List[Path]] = {}
    for path in sorted(files, key=lambda p: (len(p.relative_to(root).parts), str(p))):  # shallowest copy first
        copies.setdefault(path.name, []).append(path)
    for name in sorted(copies, key=lambda n: str(copies[n][0])):  # manifest order = path order
        match = NAME.match(name)
        if not match or match["emotion"] not in RAVDESS_SOURCE:
            for path in copies[name]:
                read.leave_out(path, "file name does not follow RAVDESS' MM-VV-EE-II-SS-RR-AA.wav convention",
                               problem=True)
            continue
        if match["modality"] != "03" or match["channel"] != "01":
            for path in copies[name]:
                read.leave_out(path, "not audio-only speech (modality 03, vocal channel 01)")
            continue
        source = RAVDESS_SOURCE[match["emotion"]]
        label = four_class("ravdess", source)
        path = pick_copy(read, copies[name]) if label is not None else copies[name][0]
        actor = int(match["actor"])
        make_utterance(read, path, path.stem, f"Actor_{actor:02d}", ravdess_gender(actor), label, source)
        if label is None:
            for other in copies[name][1:]:
                read.leave_out(other, f"class not used: {source}")
    return read
