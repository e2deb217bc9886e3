"""SAVEE (Surrey Audio-Visual Expressed Emotion): ``ROOT/AudioData/DC/a01.wav`` (or the flat ``DC_a01.wav`` copy).

Where each fact comes from (SAVEE documentation, Haq & Jackson, "Speaker-dependent audio-visual emotion
recognition", AVSP 2009, and the corpus page kahlan.eps.surrey.ac.uk/savee):

- four native English male speakers DC, JE, JK, KL, postgraduate students and researchers aged 27-31.
- seven classes coded ``a`` anger, ``d`` disgust, ``f`` fear, ``h`` happiness, ``n`` neutral, ``sa`` sadness,
  ``su`` surprise, followed by a two-digit sentence number.
- 120 utterances per speaker: 15 per emotion and 30 neutral, 480 in all, so the 4-class set holds 300
  (neu 120, hap 60, ang 60, sad 60).
- layout: the audio release is ``AudioData/<speaker>/<code><NN>.wav``; the widely used flat copy (Kaggle
  "savee-database") names files ``<speaker>_<code><NN>.wav`` in one folder (``ALL/``). Both are read.

Four speakers cannot give five speaker-independent folds: SAVEE is a test-only corpus (see the registry).
"""
import re
from pathlib import Path
from typing import Dict, List

from .common import CorpusError, CorpusRead, check_root, is_resource_fork, make_utterance
from .ravdess import pick_copy

LANGUAGE = "en"
LAYOUT = "AudioData/DC/a01.wav ... (speakers DC JE JK KL) or a flat folder of DC_a01.wav ..."
SAVEE_SPEAKERS: Dict[str, str] = {"DC": "M", "JE": "M", "JK": "M", "KL": "M"}
SAVEE_SOURCE: Dict[str, str] = {"a": "anger", "d": "disgust", "f": "fear", "h": "happiness", "n": "neutral",
                                "sa": "sadness", "su": "surprise"}
TO_FOUR_CLASS: Dict[str, str] = {"neutral": "neu", "happiness": "hap", "anger": "ang", "sadness": "sad"}
IN_FOLDER = re.compile(r"^(?P<emotion>sa|su|[adfhn])(?P<number>\d\d)\.wav$")
FLAT = re.compile(r"^(?P<speaker>[A-Z]{2})_(?P<emotion>sa|su|[adfhn])(?P<number>\d\d)\.wav$")


def candidate_files(root: Path) -> List[Path]:
    """wav files in speaker folders (``AudioData/DC/``, ``DC/``) and flat folders (root, ``ALL/``, ...)."""
    folders = [root] + sorted(p for p in root.iterdir() if p.is_dir())
    folders += sorted(p for p in (root / "AudioData").iterdir() if p.is_dir()) if (root / "AudioData").is_dir() else []
    return sorted({p for folder in folders for p in folder.glob("*.wav") if not is_resource_fork(p)})


def read_savee(root: Path) -> CorpusRead:
    """Read SAVEE from its root; a file present in both layouts is read once."""
    root = check_root(root, "SAVEE", LAYOUT)
    copies: Dict[str, List[Path]] = {}
    odd: List[Path] = []
    for path in sorted(candidate_files(root), key=lambda p: (len(p.relative_to(root).parts), str(p))):
        flat, nested = FLAT.match(path.name), IN_FOLDER.match(path.name)
        if flat and flat["speaker"] in SAVEE_SPEAKERS:
            key = f"{flat['speaker']}_{flat['emotion']}{flat['number']}"
        elif nested and path.parent.name in SAVEE_SPEAKERS:
            key = f"{path.parent.name}_{path.stem}"
        else:
            odd.append(path)
            continue
        copies.setdefault(key, []).append(path)
    if not copies:
        raise CorpusError(f"SAVEE root {root}: no SAVEE wav files found (expected {LAYOUT})")
    read = CorpusRead("savee", str(root))
    for path in odd:
        read.leave_out(path, "file name does not follow SAVEE's <speaker>/<code><NN>.wav convention", problem=True)
    for key in sorted(copies):
        speaker, code = key.split("_")
        source = SAVEE_SOURCE[code.rstrip("0123456789")]
        label = TO_FOUR_CLASS.get(source)
        path = pick_copy(read, copies[key]) if label is not None else copies[key][0]
        make_utterance(read, path, key, speaker, SAVEE_SPEAKERS[speaker], label, source, LANGUAGE)
        if label is None:
            for other in copies[key][1:]:
                read.leave_out(other, f"class not used: {source}")
    return read
