"""EmoDB (Berlin Database of Emotional Speech): ``ROOT/wav/03a01Fa.wav``."""
import re
from pathlib import Path

from ..labels import EMODB_SOURCE, four_class
from .common import CorpusError, CorpusRead, check_root, is_resource_fork, make_utterance

#: Speaker -> gender, from the corpus documentation.
EMODB_SPEAKERS = {"03": "M", "10": "M", "11": "M", "12": "M", "15": "M",
                  "08": "F", "09": "F", "13": "F", "14": "F", "16": "F"}
# chars 0-1 speaker, 2-4 text id, 5 emotion letter, 6 version
NAME = re.compile(r"^(?P<speaker>\d\d)(?P<text>[a-z]\d\d)(?P<emotion>[A-Z])(?P<version>[a-z])\.wav$")


def read_emodb(root: Path) -> CorpusRead:
    """Read EmoDB from its root (the folder holding ``wav/``)."""
    root = check_root(root, "EmoDB", "a folder with wav/03a01Fa.wav ...")
    wav_dir = root / "wav"
    files = sorted(p for p in wav_dir.glob("*.wav") if not is_resource_fork(p)) if wav_dir.is_dir() else []
    if not files:
        raise CorpusError(f"EmoDB root {root}: no wav files in {wav_dir} (expected wav/03a01Fa.wav ...)")
    read = CorpusRead("emodb", str(root))
    for path in files:
        match = NAME.match(path.name)
        if not match or match["emotion"] not in EMODB_SOURCE or match["speaker"] not in EMODB_SPEAKERS:
            read.leave_out(path, "file name does not follow EmoDB's SSTTTEV.wav convention", problem=True)
            continue
        source = EMODB_SOURCE[match["emotion"]]
        speaker = match["speaker"]
        make_utterance(read, path, path.stem, speaker, EMODB_SPEAKERS[speaker],
                       four_class("emodb", source), source)
    return read
