"""RAVDESS speech, audio-only: ``ROOT/Actor_NN/03-01-EE-II-SS-RR-NN.wav``."""
import re
from pathlib import Path

from ..labels import RAVDESS_SOURCE, four_class
from .common import CorpusError, CorpusRead, check_root, is_resource_fork, make_utterance

NAME = re.compile(r"^(?P<modality>\d\d)-(?P<channel>\d\d)-(?P<emotion>\d\d)-(?P<intensity>\d\d)"
                  r"-(?P<statement>\d\d)-(?P<repetition>\d\d)-(?P<actor>\d\d)\.wav$")


def ravdess_gender(actor: int) -> str:
    """Odd actors are male, even actors female."""
    return "M" if actor % 2 else "F"


def read_ravdess(root: Path) -> CorpusRead:
    """Read RAVDESS speech from its root; duplicated copies of a file are read once."""
    root = check_root(root, "RAVDESS", "a folder with Actor_01/03-01-01-01-01-01-01.wav ...")
    files = sorted(p for p in root.rglob("Actor_*/*.wav") if not is_resource_fork(p))
    if not files:
        raise CorpusError(f"RAVDESS root {root}: no Actor_NN/*.wav files found")
    read = CorpusRead("ravdess", str(root))
    seen = {}
    for path in files:
        match = NAME.match(path.name)
        if not match or match["emotion"] not in RAVDESS_SOURCE:
            read.leave_out(path, "file name does not follow RAVDESS' MM-VV-EE-II-SS-RR-AA.wav convention",
                           problem=True)
            continue
        if match["modality"] != "03" or match["channel"] != "01":
            read.leave_out(path, "not audio-only speech (modality 03, vocal channel 01)")
            continue
        if path.name in seen:
            read.leave_out(path, f"duplicate (same file name as {seen[path.name]})")
            continue
        seen[path.name] = path
        actor = int(match["actor"])
        source = RAVDESS_SOURCE[match["emotion"]]
        make_utterance(read, path, path.stem, f"Actor_{actor:02d}", ravdess_gender(actor),
                       four_class("ravdess", source), source)
    return read
