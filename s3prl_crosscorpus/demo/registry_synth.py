"""Synthetic trees of the registry corpora (CREMA-D, TESS, SAVEE, MSP-Podcast, EMOVO, ESD, ShEMO) in their
real layouts and file naming, read back by the same readers as the real corpora.

Each writer writes ``per_class`` files per speaker for each of the four classes plus one file of a class the
protocol leaves out, using the corpus' own speaker table and codes (imported from its reader). ``audio``:
``"voiced"`` writes the emotional synthetic speech of :mod:`.synth` (for the demo and the systems);
``"tiny"`` writes 32-sample wavs with distinct content, fast enough for full-size trees in tests (written
directly, not atomically: test fixtures only).
"""
import struct
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Sequence, Tuple

import numpy as np

from ..core.corpora import cremad, emovo, esd, msppodcast, savee, shemo, tess
from ..core.corpora.registry import REGISTRY_CORPORA
from ..core.labels import LABELS
from .synth import rng_for, speaker_voice, voiced, write_file, write_wav

AUDIO_MODES = ("voiced", "tiny")


class Writer:
    """Writes one wav per call in the chosen audio mode and counts them."""

    def __init__(self, audio: str, seed: int) -> None:
        if audio not in AUDIO_MODES:
            raise ValueError(f"audio must be one of {', '.join(AUDIO_MODES)}, got {audio!r}")
        self.audio, self.seed, self.count = audio, seed, 0

    def __call__(self, path: Path, emotion: str, gender: str, speaker_index: int, rate: int) -> None:
        """``emotion``: a 4-class label or "other"."""
        if self.audio == "tiny":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(tiny_wav_bytes(rate, rng_for(self.seed, path.name)))
        else:
            audio = voiced(emotion, speaker_voice(gender, speaker_index), rate, self.seed, path.name, None)
            write_wav(path, audio, rate)
        self.count += 1


def tiny_wav_bytes(rate: int, rng: np.random.Generator, frames: int = 32) -> bytes:
    """A 16-bit mono PCM wav of ``frames`` random samples (distinct content: no false duplicate audio)."""
    data = rng.integers(-2000, 2000, frames, dtype=np.int16).tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def code_for(label_map: Mapping[str, str], source_of: Mapping[str, str]) -> Dict[str, str]:
    """4-class label -> the corpus code the reader maps to it (first such code)."""
    codes: Dict[str, str] = {}
    for code, source in source_of.items():
        label = label_map.get(source)
        if label is not None and label not in codes:
            codes[label] = code
    return {label: codes[label] for label in LABELS}


def check_per_class(corpus: str, per_class: int, limit: int) -> None:
    """ValueError when ``per_class`` is outside 1 and what the corpus' naming allows."""
    if not 1 <= per_class <= limit:
        raise ValueError(f"{corpus}: per_class must be 1..{limit} (the corpus' naming allows {limit} files "
                         f"per speaker and class), got {per_class}")


# CREMA-D ---------------------------------------------------------------------------------------------------

#: Actor IDs 1001-1091 (README); 48 male, 43 female. Which actor is which sex is the corpus'
#: VideoDemographics.csv; the synthetic table spreads the 48 men over the ids (43 is coprime with 91).
CREMAD_ACTORS: Tuple[str, ...] = tuple(str(1001 + i) for i in range(91))
CREMAD_SYNTH_SEX: Dict[str, str] = {a: "Male" if (i * 43) % 91 < 48 else "Female"
                                    for i, a in enumerate(CREMAD_ACTORS)}
#: Published counts minus this many files per emotion code give the released folder (7,442 files);
#: which files of the full grid are absent in the release is not modelled.
CREMAD_ABSENT = {"NEU": 5, "ANG": 3, "DIS": 3, "FEA": 3, "HAP": 3, "SAD": 3}


def cremad_grid(code: str) -> List[Tuple[str, str]]:
    """(sentence, level) of one actor and emotion: 12 sentences; IEO at LO/MD/HI for the non-neutral ones."""
    if code == "NEU":
        return [(s, "XX") for s in cremad.SENTENCES]
    return [(s, "XX") for s in cremad.SENTENCES if s != "IEO"] + [("IEO", level) for level in ("LO", "MD", "HI")]


def synth_cremad(root: Path, per_class: int, write: Writer, full: bool = False) -> None:
    """``AudioWAV/`` + ``VideoDemographics.csv``; ``full``: every emotion's whole grid, trimmed to the
    published per-class counts (7,442 files, 4,900 in the four classes)."""
    check_per_class("cremad", per_class, 12)
    codes = code_for(cremad.TO_FOUR_CLASS, cremad.CREMAD_SOURCE)
    plan: List[Tuple[str, str, str, str]] = []  # actor, emotion label, code, file name
    for i, actor in enumerate(CREMAD_ACTORS):
        wanted = ([(label, code, len(cremad_grid(code))) for label, code in codes.items()]
                  + [("other", "DIS", 14), ("other", "FEA", 14)] if full
                  else [(label, code, per_class) for label, code in codes.items()] + [("other", "DIS", 1)])
        for label, code, n in wanted:
            if full and i < CREMAD_ABSENT[code]:
                n -= 1
            plan.extend((actor, label, code, f"{actor}_{s}_{code}_{lv}.wav") for s, lv in cremad_grid(code)[:n])
    for actor, label, _, name in plan:
        sex = CREMAD_SYNTH_SEX[actor]
        write(root / "AudioWAV" / name, label, sex[0], CREMAD_ACTORS.index(actor), 16000)
    rows = "".join(f"{a},{20 + i % 50},{CREMAD_SYNTH_SEX[a]},Caucasian,Not Hispanic\n"
                   for i, a in enumerate(CREMAD_ACTORS))
    write_file(root / "VideoDemographics.csv", ("ActorID,Age,Sex,Race,Ethnicity\n" + rows).encode())


# TESS ------------------------------------------------------------------------------------------------------

TESS_WORDS = ("back", "bar", "base", "bath", "bean", "beg", "bite", "boat", "bone", "book", "bought", "burn")
#: Folder names as in the widely used copy (case varies between copies; the reader ignores it).
TESS_FOLDERS = {("OAF", "angry"): "OAF_angry", ("OAF", "happy"): "OAF_happy", ("OAF", "neutral"): "OAF_neutral",
                ("OAF", "sad"): "OAF_Sad", ("OAF", "ps"): "OAF_Pleasant_surprise",
                ("YAF", "angry"): "YAF_angry", ("YAF", "happy"): "YAF_happy", ("YAF", "neutral"): "YAF_neutral",
                ("YAF", "sad"): "YAF_sad", ("YAF", "ps"): "YAF_pleasant_surprised"}


def synth_tess(root: Path, per_class: int, write: Writer) -> None:
    """``OAF_*``/``YAF_*`` folders; plus one pleasant-surprise file per speaker and one nested duplicate copy."""
    check_per_class("tess", per_class, len(TESS_WORDS))
    codes = code_for(tess.TO_FOUR_CLASS, tess.TESS_SOURCE)
    for s, speaker in enumerate(sorted(tess.TESS_SPEAKERS)):
        for label, code in list(codes.items()) + [("other", "ps")]:
            for word in TESS_WORDS[:per_class if label != "other" else 1]:
                name = f"{speaker}_{word}_{code}.wav"
                write(root / TESS_FOLDERS[(speaker, code)] / name, label, "F", s, 24414)
    first = root / "OAF_angry" / f"OAF_{TESS_WORDS[0]}_angry.wav"
    write_file(root / "TESS Toronto emotional speech set data" / "OAF_angry" / first.name, first.read_bytes())


# SAVEE -----------------------------------------------------------------------------------------------------

def synth_savee(root: Path, per_class: int, write: Writer) -> None:
    """``AudioData/<speaker>/<code><NN>.wav``, twice as many neutral files as the corpus has (30 vs 15);
    plus one surprise file per speaker. ``per_class=15`` gives the whole 4-class set."""
    check_per_class("savee", per_class, 15)
    codes = code_for(savee.TO_FOUR_CLASS, savee.SAVEE_SOURCE)
    for s, speaker in enumerate(sorted(savee.SAVEE_SPEAKERS)):
        for label, code in list(codes.items()) + [("other", "su")]:
            n = 2 * per_class if label == "neu" else per_class if label != "other" else 1
            for k in range(1, n + 1):
                write(root / "AudioData" / speaker / f"{code}{k:02d}.wav", label, "M", s, 44100)


# MSP-Podcast -----------------------------------------------------------------------------------------------

MSP_SYNTH_SPEAKERS = 12
#: Split_Set of synthetic speaker s (alternately female, male): each speaker in one split, as in the real corpus
#: (speaker-independent partitions: core/corpora/msppodcast.py), and both genders in every split.
MSP_SPLITS = ("Train",) * 6 + ("Development",) * 2 + ("Test1",) * 2 + ("Test2",) * 2


def synth_msppodcast(root: Path, per_class: int, write: Writer) -> None:
    """``Audios/`` + ``Labels/labels_consensus.csv`` for 12 speakers (Split_Set: 6 Train, 2 Development, 2 Test1,
    2 Test2, speaker-disjoint); per speaker also one row of class O; plus ``Unknown``-speaker rows (one per
    class) and one speaker whose Gender is Unknown (both Train, as unannotated speakers are in the release)."""
    check_per_class("msppodcast", per_class, 99)
    codes = code_for(msppodcast.TO_FOUR_CLASS, msppodcast.MSP_SOURCE)
    rows = ["FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set"]
    speakers = [(str(100 + 7 * s), "Male" if s % 2 else "Female", MSP_SPLITS[s])
                for s in range(MSP_SYNTH_SPEAKERS)]
    speakers += [("Unknown", "Unknown", "Train"), (str(100 + 7 * MSP_SYNTH_SPEAKERS), "Unknown", "Train")]
    for s, (speaker, gender, split) in enumerate(speakers, 1):
        plan = [(label, code, per_class) for label, code in codes.items()] + [("other", "O", 1)]
        for label, code, n in plan:
            for k in range(n if speaker != "Unknown" and gender != "Unknown" else 1):
                name = f"MSP-PODCAST_{s:04d}_{len(rows):04d}.wav"
                write(root / msppodcast.AUDIO_DIR / name, label, gender[0] if gender != "Unknown" else "F", s, 16000)
                rows.append(f"{name},{code},4.2,3.8,4.0,{speaker},{gender},{split}")
    write_file(root / msppodcast.LABELS_FILE, ("\n".join(rows) + "\n").encode())


# EMOVO -----------------------------------------------------------------------------------------------------

def synth_emovo(root: Path, per_class: int, write: Writer) -> None:
    """``<speaker>/<emotion>-<speaker>-<sentence>.wav``; plus one disgust file per speaker."""
    check_per_class("emovo", per_class, len(emovo.SENTENCES))
    codes = code_for(emovo.TO_FOUR_CLASS, emovo.EMOVO_SOURCE)
    for s, (speaker, gender) in enumerate(sorted(emovo.EMOVO_SPEAKERS.items())):
        for label, code in list(codes.items()) + [("other", "dis")]:
            for sentence in emovo.SENTENCES[:per_class if label != "other" else 1]:
                write(root / speaker / f"{code}-{speaker}-{sentence}.wav", label, gender, s, 48000)


# ESD -------------------------------------------------------------------------------------------------------

#: First utterance number of each emotion folder (350 per emotion, in this order).
ESD_FIRST = {"Neutral": 1, "Angry": 351, "Happy": 701, "Sad": 1051, "Surprise": 1401}


def synth_esd(root: Path, per_class: int, write: Writer) -> None:
    """``<speaker>/<Emotion>/<split>/<speaker>_<NNNNNN>.wav`` for the ten English speakers; plus one Surprise
    file per speaker and one Mandarin speaker folder (left out)."""
    check_per_class("esd", per_class, 350)
    codes = code_for(esd.TO_FOUR_CLASS, esd.ESD_SOURCE)
    speakers = sorted(esd.ESD_SPEAKERS.items()) + [("0001", "F")]
    for s, (speaker, gender) in enumerate(speakers):
        for label, emotion in list(codes.items()) + [("other", "Surprise")]:
            for k in range(per_class if label != "other" else 1):
                split = esd.SPLITS[k % len(esd.SPLITS)]
                name = f"{speaker}_{ESD_FIRST[emotion] + k:06d}.wav"
                write(root / speaker / emotion / split / name, label, gender, s, 16000)


# ShEMO -----------------------------------------------------------------------------------------------------

#: Speaker codes: 31 female (F01-F31), 56 male (M01-M56), as the README's 87 (31 female, 56 male).
SHEMO_SPEAKERS: Tuple[str, ...] = tuple(f"F{i:02d}" for i in range(1, 32)) + tuple(f"M{i:02d}" for i in range(1, 57))


def synth_shemo(root: Path, per_class: int, write: Writer) -> None:
    """``female/``/``male/`` with ``GSSENN.wav``; plus one surprise file per speaker."""
    check_per_class("shemo", per_class, 99)
    codes = code_for(shemo.TO_FOUR_CLASS, shemo.SHEMO_SOURCE)
    for s, speaker in enumerate(SHEMO_SPEAKERS):
        folder = "female" if speaker[0] == "F" else "male"
        for label, code in list(codes.items()) + [("other", "W")]:
            for k in range(1, (per_class if label != "other" else 1) + 1):
                write(root / folder / f"{speaker}{code}{k:02d}.wav", label, speaker[0], s, 44100)


WRITERS: Dict[str, Callable[..., None]] = {
    "cremad": synth_cremad, "tess": synth_tess, "savee": synth_savee, "msppodcast": synth_msppodcast,
    "emovo": synth_emovo, "esd": synth_esd, "shemo": synth_shemo,
}


def synthesize_registry(out: Path, corpora: Sequence[str] = REGISTRY_CORPORA, per_class: int = 2, seed: int = 0,
                        audio: str = "voiced", full_cremad: bool = False) -> Dict[str, Path]:
    """Write ``out/<name>`` for each registry corpus in ``corpora``; returns name -> root.

    ``full_cremad``: the whole CREMA-D name grid at the published counts instead of ``per_class``.
    """
    unknown = sorted(set(corpora) - set(WRITERS))
    if unknown:
        raise ValueError(f"unknown registry corpus {unknown}; choose from {', '.join(WRITERS)}")
    write = Writer(audio, seed)
    roots: Dict[str, Path] = {}
    for name in corpora:
        root = Path(out) / name
        if name == "cremad":
            synth_cremad(root, per_class, write, full=full_cremad)
        else:
            WRITERS[name](root, per_class, write)
        roots[name] = root
    return roots
