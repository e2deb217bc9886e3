"""IEMOCAP: ``SessionN/dialog/EmoEvaluation/<dialog>.txt`` + ``SessionN/sentences/wav/<dialog>/<utt>.wav``."""
import re
from pathlib import Path
from typing import Dict, Iterator, Tuple

from ..labels import IEMOCAP_SOURCE, four_class
from .common import CorpusError, CorpusRead, check_root, is_resource_fork, make_utterance

# "[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]"
SUMMARY = re.compile(r"^\[\s*[\d.]+\s*-\s*[\d.]+\s*\]\s+(?P<utt>Ses\d\d[FM]_\S+)\s+(?P<code>\w+)\s+\[[^\]]*\]\s*$")
UTT_ID = re.compile(r"^Ses(?P<session>\d\d)[FM]_.+_(?P<gender>[FM])\d+$")


def iemocap_speaker(utt_id: str) -> Tuple[str, str]:
    """``Ses01F_impro01_M003`` -> (``Ses01M``, ``M``): session plus the last field's first letter."""
    match = UTT_ID.match(utt_id)
    if not match:
        raise ValueError(f"not an IEMOCAP utterance id: {utt_id}")
    return f"Ses{match['session']}{match['gender']}", match["gender"]


def summary_lines(path: Path) -> Iterator[Tuple[int, str]]:
    """Yield (line number, line) for each line that starts an utterance block (``[``)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if line.startswith("["):
                yield number, line.rstrip("\n")


def read_iemocap(root: Path) -> CorpusRead:
    """Read IEMOCAP's categorical summary labels from its root (the folder holding SessionN/)."""
    root = check_root(root, "IEMOCAP", "a folder with Session1..Session5/")
    label_files = sorted(p for p in root.glob("Session[1-5]/dialog/EmoEvaluation/*.txt")
                         if not is_resource_fork(p))
    if not label_files:
        raise CorpusError(f"IEMOCAP root {root}: no SessionN/dialog/EmoEvaluation/*.txt label files found")
    read = CorpusRead("iemocap", str(root))
    first_seen: Dict[str, str] = {}
    for label_file in label_files:
        session_dir = label_file.parents[2]
        for number, line in summary_lines(label_file):
            match = SUMMARY.match(line)
            if not match or match["code"] not in IEMOCAP_SOURCE or not UTT_ID.match(match["utt"]):
                read.leave_out(label_file, f"line {number} does not parse as an utterance summary: {line!r}",
                               problem=True)
                continue
            utt, code = match["utt"], match["code"]
            if utt in first_seen:
                read.leave_out(label_file, f"line {number}: {utt} is listed again (first at {first_seen[utt]}); "
                                           "the first entry is kept", problem=True)
                continue
            first_seen[utt] = f"{label_file}:{number}"
            wav = session_dir / "sentences" / "wav" / utt.rsplit("_", 1)[0] / f"{utt}.wav"
            if four_class("iemocap", code) is not None and not wav.exists():
                read.leave_out(wav, f"missing wav for {utt} listed in {label_file}", problem=True)
                continue
            speaker, gender = iemocap_speaker(utt)
            make_utterance(read, wav, utt, speaker, gender, four_class("iemocap", code), code)
    return read
