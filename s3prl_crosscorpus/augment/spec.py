"""The augmentation SPEC: ``name[:key=value...][,name...]``, e.g. ``speed,noise:snr=0..10,reverb``.

Each named augmentation has typed parameters with defaults; a SPEC is parsed (and its folders checked)
before any work, and written back in one canonical form that names the system and keys the caches.
"""
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import soundfile as sf

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
#: Applied to every copy in the order given; each one's draws come from the copy's own seed.
NAMES = ("speed", "noise", "babble", "reverb", "telephone", "pitch")
#: name -> parameter -> (kind, default). Kinds: range (``lo..hi`` or one number), floats (``a/b/c``),
#: irange (whole-number range), float, path (a folder), choice:<a|b>.
PARAMETERS: Dict[str, Dict[str, Tuple[str, object]]] = {
    "speed": {"factors": ("floats", (0.9, 1.0, 1.1))},
    "noise": {"snr": ("range", (5.0, 20.0)), "dir": ("path", None), "color": ("choice:white|pink|brown|any", "any")},
    "babble": {"snr": ("range", (13.0, 20.0)), "speakers": ("irange", (3, 6))},
    "reverb": {"rt60": ("range", (0.2, 0.8)), "rooms": ("irange", (8, 8)), "dir": ("path", None)},
    "telephone": {"low": ("float", 300.0), "high": ("float", 3400.0)},
    "pitch": {"semitones": ("range", (-2.0, 2.0))},
}
#: Printed whenever a SPEC holds ``pitch``.
PITCH_WARNING = ("warning: pitch shift changes F0, which carries emotion (arousal in particular); augmented copies "
                 "may no longer sound like their label")


class SpecError(ValueError):
    """A SPEC that cannot be used: unknown name or parameter, bad value, empty or unreadable folder."""


@dataclass(frozen=True)
class Augmentation:
    """One named augmentation with all of its parameters (defaults filled in); ``files`` of a folder."""

    name: str
    params: Tuple[Tuple[str, object], ...]
    files: Tuple[str, ...] = ()  # audio files of ``dir`` (sorted), when given

    def get(self, key: str):
        return dict(self.params)[key]


@dataclass(frozen=True)
class Spec:
    """A parsed SPEC: the augmentations in application order."""

    items: Tuple[Augmentation, ...]

    @property
    def names(self) -> Tuple[str, ...]:
        return tuple(a.name for a in self.items)

    def canonical(self) -> str:
        """Every parameter spelt out, folders by absolute path: the text the caches and results record."""
        return ",".join(":".join([a.name] + [f"{k}={format_value(v, kind_of(a.name, k))}" for k, v in a.params
                                             if v is not None])
                        for a in self.items)

    def identity(self) -> str:
        """sha256 of the canonical form with each folder replaced by its listing (name and size of every
        file): moving a noise folder keeps the identity, adding a file changes it."""
        parts = [{"name": a.name, "params": {k: format_value(v, kind_of(a.name, k)) for k, v in a.params
                             if k != "dir" and v is not None},
                  "files": [[Path(f).name, os.path.getsize(f)] for f in a.files]} for a in self.items]
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def short(self) -> str:
        """The system-name form: names joined by ``+``, each non-default parameter appended as ``-KEYVALUE``
        (``speed+noise-snr0..10``), a folder as 8 hex digits of its listing; no ``/``, blank or quote."""
        parts = []
        for a in self.items:
            text = a.name
            for key, value in a.params:
                if key == "dir" and value is not None:
                    listing = [[Path(f).name, os.path.getsize(f)] for f in a.files]
                    text += f"-dir{hashlib.sha256(json.dumps(listing).encode()).hexdigest()[:8]}"
                elif value != PARAMETERS[a.name][key][1]:
                    text += f"-{key}{format_value(value, kind_of(a.name, key)).replace('/', '-')}"
            parts.append(text)
        return "+".join(parts)

    def provenance(self) -> dict:
        """What a result records about the augmentation."""
        return {"canonical": self.canonical(), "identity": self.identity(),
                "augmentations": [{"name": a.name, "params": {k: json_value(v) for k, v in a.params},
                                   "files": len(a.files)} for a in self.items]}


def format_value(value, kind: str = "") -> str:
    """A parameter value as the SPEC writes it: ``lo..hi`` for a range, ``a/b/c`` for a list."""
    if isinstance(value, tuple) and kind == "floats":
        return "/".join(f"{v:g}" for v in value)
    if isinstance(value, tuple):
        return f"{value[0]:g}" if value[0] == value[1] else f"{value[0]:g}..{value[1]:g}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def kind_of(name: str, key: str) -> str:
    return PARAMETERS[name][key][0]


def json_value(value):
    return list(value) if isinstance(value, tuple) else value


def parse_number(text: str, where: str, whole: bool = False) -> float:
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        raise SpecError(f"{where}: {text!r} is not a {'whole ' if whole else ''}number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise SpecError(f"{where}: {text!r} is not a finite number")
    return value


def parse_range(text: str, where: str, whole: bool = False) -> tuple:
    """``lo..hi`` (lo <= hi) or one number (a range of one value)."""
    lo, sep, hi = text.partition("..")
    if not sep:
        value = parse_number(text, where, whole)
        return value, value
    if not lo or not hi:
        raise SpecError(f"{where}: {text!r} is not a range LOW..HIGH")
    low, high = parse_number(lo, where, whole), parse_number(hi, where, whole)
    if low > high:
        raise SpecError(f"{where}: {text!r} is not a range (low {lo} > high {hi})")
    return low, high


def audio_files(folder: str, where: str, check_files: bool = True) -> Tuple[str, ...]:
    """The audio files under ``folder`` (recursively, sorted), each checked readable; refuses none.
    ``check_files`` False (a model used for inference only): a missing folder is no error."""
    root = Path(folder).expanduser()
    if not check_files:
        return tuple(sorted(str(p.resolve()) for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)) \
            if root.is_dir() else ()
    if not root.is_dir():
        raise SpecError(f"{where}: {folder} is not a folder")
    if not os.access(root, os.R_OK | os.X_OK):
        raise SpecError(f"{where}: {folder} cannot be read")
    files = sorted(str(p.resolve()) for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if not files:
        raise SpecError(f"{where}: {folder} holds no audio files ({', '.join(AUDIO_SUFFIXES)})")
    for path in files:
        try:
            if sf.info(path).frames == 0:
                raise SpecError(f"{where}: {path} holds no samples")
        except SpecError:
            raise
        except Exception as err:  # soundfile raises several types for broken files
            raise SpecError(f"{where}: {path} cannot be read as audio ({err})") from None
    return files


def parse_value(kind: str, text: str, where: str):
    if kind == "range":
        return parse_range(text, where)
    if kind == "irange":
        value = parse_range(text, where, whole=True)
        if value[0] < 1:
            raise SpecError(f"{where}: {text!r} must be at least 1")
        return value
    if kind == "float":
        return parse_number(text, where)
    if kind == "floats":
        values = tuple(parse_number(t, where) for t in text.split("/"))
        if any(v <= 0 for v in values):
            raise SpecError(f"{where}: factors must be > 0, got {text!r}")
        return values
    if kind.startswith("choice:"):
        allowed = kind.split(":", 1)[1].split("|")
        if text not in allowed:
            raise SpecError(f"{where}: {text!r} is not one of {', '.join(allowed)}")
        return text
    return text  # path: checked by audio_files


def parse_item(text: str, check_files: bool = True) -> Augmentation:
    name, *pairs = text.strip().split(":")
    if name not in PARAMETERS:
        raise SpecError(f"unknown augmentation {name!r} in the SPEC; choose from {', '.join(NAMES)}")
    known = PARAMETERS[name]
    given: Dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        where = f"augmentation {name} parameter {key}"
        if key not in known:
            raise SpecError(f"unknown parameter {key!r} of augmentation {name}; it takes {', '.join(known)}")
        if not sep or not value:
            raise SpecError(f"{where}: needs a value ({key}=VALUE)")
        if key in given:
            raise SpecError(f"{where}: given twice")
        given[key] = parse_value(known[key][0], value, where)
    files: Tuple[str, ...] = ()
    if given.get("dir") is not None:
        files = audio_files(str(given["dir"]), f"augmentation {name} parameter dir", check_files)
        given["dir"] = str(Path(str(given["dir"])).expanduser().resolve())
        if name == "reverb" and ("rt60" in given or "rooms" in given):
            raise SpecError("augmentation reverb: rt60 and rooms describe simulated rooms; with dir= the RIR files "
                            "are used as they are")
    if name == "telephone":
        low, high = given.get("low", known["low"][1]), given.get("high", known["high"][1])
        if not 0 < float(low) < float(high) < 8000:  # type: ignore[arg-type]
            raise SpecError(f"augmentation telephone: need 0 < low < high < 8000 Hz, got low={low} high={high}")
    params = tuple((k, given.get(k, default)) for k, (_, default) in known.items())
    return Augmentation(name, params, files)


def parse_spec(text: Optional[str], check_files: bool = True) -> Optional[Spec]:
    """A SPEC string -> Spec (None for none/empty); raises SpecError naming the problem (``check_files``
    False: folders are not required, for a model that only predicts)."""
    if text is None or text.strip() in ("", "none"):
        return None
    items = [t for t in text.split(",")]
    if any(not t.strip() for t in items):
        raise SpecError(f"empty augmentation in the SPEC {text!r}")
    parsed = tuple(parse_item(t, check_files) for t in items)
    names = [a.name for a in parsed]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SpecError(f"augmentation {twice[0]} is given twice in the SPEC {text!r}")
    return Spec(parsed)


def spec_warnings(spec: Optional[Spec]) -> List[str]:
    """Warnings to print and to record in the results (pitch carries emotion)."""
    return [PITCH_WARNING] if spec is not None and "pitch" in spec.names else []


def describe_parameters() -> List[str]:
    """One line per augmentation with its parameters and defaults (for --help and the docs)."""
    return [f"{name}: " + ", ".join(f"{k}={format_value(d, kind) if d is not None else '(none)'}"
                                    for k, (kind, d) in PARAMETERS[name].items()) for name in NAMES]


def check_copies(copies: int) -> int:
    if copies < 1:
        raise SpecError(f"--augment-copies must be >= 1, got {copies}")
    return copies



#: Degradations of test audio (``--test-degrade``, ``datarc.test_degrade``): channel effects only.
DEGRADATIONS = ("noise", "reverb", "telephone")


def check_degrade(spec: Spec) -> Spec:
    """A test-degradation SPEC holds channel effects only (no speed, pitch or babble)."""
    other = [n for n in spec.names if n not in DEGRADATIONS]
    if other:
        raise SpecError(f"a test degradation takes {', '.join(DEGRADATIONS)}; {other[0]} changes the speech itself")
    return spec
