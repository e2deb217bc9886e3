"""Deterministic, fold-safe augmentation of one utterance copy: draw a plan from the copy's seed, apply it.

A plan is a JSON list of steps holding every drawn value (factor, SNR, noise file and offset, babble
talkers, room), so the same (audio, SPEC, seed, copy) gives the same audio in any process, and the plan
itself keys the feature caches. Babble talkers come only from :func:`babble_pool`, the training
utterances of one split: no dev or test audio or speaker can reach a training copy.
"""
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np

from ..core.audio import load_audio
from ..core.corpora import Utterance
from ..core.folds import Split
from . import effects
from .spec import Augmentation, Spec, SpecError

Step = Dict[str, object]
#: A babble pool: (path, "corpus/speaker") of every training utterance of one split, sorted by path.
Pool = Tuple[Tuple[str, str], ...]


class AugmentError(RuntimeError):
    """A copy that cannot be made (e.g. babble with no other training speaker)."""


def speaker_key(utt: Utterance) -> str:
    return f"{utt.corpus}/{utt.speaker}"


def babble_pool(split: Split, by_id: Mapping[str, Utterance]) -> Pool:
    """The talkers babble may use for this split: its training utterances only (never dev or test)."""
    return tuple(sorted((by_id[i].path, speaker_key(by_id[i])) for i in split.train))


def check_material(spec: Spec, utterances: Sequence[Utterance]) -> None:
    """Refuse a noise or RIR folder holding audio of the corpora: it could put a dev or test speaker into a
    training copy (SpecError naming the file)."""
    corpus = {str(Path(u.path).resolve()) for u in utterances}
    for item in spec.items:
        found = next((f for f in item.files if str(Path(f).resolve()) in corpus), None)
        if found:
            raise SpecError(f"augmentation {item.name} parameter dir: {found} is an utterance of the corpora; "
                            f"a {item.name} folder must hold other audio (dev and test speakers must not leak in)")


def copy_seed(seed: int, audio_sha256: str, copy: int) -> int:
    """The seed of one copy of one file: fixed by the run's seed, the file's content and the copy number."""
    return int(hashlib.sha256(f"{seed}:{audio_sha256}:{copy}".encode()).hexdigest()[:16], 16)


def uniform(rng: np.random.Generator, bounds: Tuple[float, float]) -> float:
    return float(bounds[0]) if bounds[0] == bounds[1] else float(rng.uniform(*bounds))


def draw_babble(rng: np.random.Generator, item: Augmentation, speaker: str, pool: Pool) -> Step:
    others = sorted({s for _, s in pool if s != speaker})
    if not others:
        raise AugmentError(f"babble for a {speaker} utterance: the split's training set holds no other speaker")
    low, high = item.get("speakers")
    count = min(int(rng.integers(low, high + 1)), len(others))
    talkers = [others[k] for k in sorted(rng.choice(len(others), size=count, replace=False))]
    files = []
    for talker in talkers:
        own = [path for path, s in pool if s == talker]
        files.append(own[int(rng.integers(len(own)))])
    return {"name": "babble", "snr": uniform(rng, item.get("snr")), "files": files,
            "offsets": [int(rng.integers(2 ** 31)) for _ in files]}


def draw_step(rng: np.random.Generator, item: Augmentation, speaker: str, pool: Pool, seed: int) -> Step:
    """The drawn values of one augmentation of one copy."""
    name = item.name
    if name == "speed":
        factors = item.get("factors")
        return {"name": name, "factor": float(factors[int(rng.integers(len(factors)))])}
    if name == "noise":
        snr = uniform(rng, item.get("snr"))
        if item.files:
            return {"name": name, "snr": snr, "file": item.files[int(rng.integers(len(item.files)))],
                    "offset": int(rng.integers(2 ** 31))}
        colors = ("white", "pink", "brown")
        color = item.get("color") if item.get("color") != "any" else colors[int(rng.integers(3))]
        return {"name": name, "snr": snr, "color": color, "seed": int(rng.integers(2 ** 62))}
    if name == "babble":
        return draw_babble(rng, item, speaker, pool)
    if name == "reverb":
        if item.files:
            return {"name": name, "file": item.files[int(rng.integers(len(item.files)))]}
        rooms = int(item.get("rooms")[0])
        return {"name": name, "bank_seed": seed, "rt60": list(item.get("rt60")), "rooms": rooms,
                "room": int(rng.integers(rooms))}
    if name == "telephone":
        return {"name": name, "low": float(item.get("low")), "high": float(item.get("high"))}
    if name == "pitch":
        return {"name": name, "semitones": uniform(rng, item.get("semitones"))}
    raise AugmentError(f"unknown augmentation {name!r}")


def draw_plan(spec: Spec, audio_sha256: str, copy: int, seed: int, speaker: str = "", pool: Pool = ()) -> List[Step]:
    """Every drawn value of one copy: a function of (spec, file content, copy, seed, the split's pool) only."""
    rng = np.random.default_rng(copy_seed(seed, audio_sha256, copy))
    return [draw_step(rng, item, speaker, pool, seed) for item in spec.items]


def apply_step(signal: np.ndarray, step: Mapping) -> np.ndarray:
    name = step["name"]
    if name == "speed":
        return effects.speed(signal, float(step["factor"]))
    if name == "noise":
        if "file" in step:
            noise = effects.fit_length(effects.file_audio(str(step["file"])), signal.size, int(step["offset"]))
        else:
            noise = effects.colored_noise(signal.size, str(step["color"]), int(step["seed"]))
        return effects.mix_at_snr(signal, noise, float(step["snr"]))
    if name == "babble":
        sources = [effects.file_audio(str(f)) for f in step["files"]]
        return effects.mix_at_snr(signal, effects.babble(signal.size, sources, step["offsets"]), float(step["snr"]))
    if name == "reverb":
        if "file" in step:
            rir = effects.file_audio(str(step["file"]))
        else:
            bank = effects.simulated_rooms(int(step["bank_seed"]), tuple(step["rt60"]), int(step["rooms"]))
            rir = bank[int(step["room"])]
        return effects.reverberate(signal, rir)
    if name == "telephone":
        return effects.telephone(signal, float(step["low"]), float(step["high"]))
    if name == "pitch":
        return effects.pitch(signal, float(step["semitones"]))
    raise AugmentError(f"unknown augmentation step {name!r}")


def apply_plan(signal: np.ndarray, plan: Sequence[Mapping]) -> np.ndarray:
    """The plan's steps in order; the result is finite float32."""
    out = np.asarray(signal, dtype=np.float32)
    for step in plan:
        out = apply_step(out, step)
    if not np.all(np.isfinite(out)):
        raise AugmentError(f"augmentation {[s['name'] for s in plan]} produced non-finite samples")
    return np.ascontiguousarray(out, dtype=np.float32)


def augmented_audio(path: str, plan: Sequence[Mapping]) -> np.ndarray:
    """One augmented copy of a file, read as 16 kHz mono."""
    return apply_plan(load_audio(path), plan)


def plan_key(audio_sha256: str, spec: Spec, plan: Sequence[Mapping]) -> str:
    """The cache key of one copy: sha256 of (file content, the SPEC's identity, the drawn plan, the effects' version)."""
    text = json.dumps({"audio": audio_sha256, "spec": spec.identity(), "plan": list(plan),
                       "effects": effects.EFFECTS_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Copy:
    """One augmented training copy: its source utterance, copy number, plan and cache key."""

    utt_id: str
    path: str
    copy: int
    plan: Tuple[Mapping, ...]
    key: str


def training_copies(spec: Spec, copies: int, seed: int, split: Split, by_id: Mapping[str, Utterance],
                    digests: Mapping[str, str]) -> List[Copy]:
    """The ``copies`` augmented copies of every training utterance of ``split`` (never dev or test) that has a
    digest (files that could not be read have none), babble drawn from this split's training speakers."""
    pool = babble_pool(split, by_id) if "babble" in spec.names else ()
    out = []
    for utt_id in split.train:
        utt = by_id[utt_id]
        digest = digests.get(utt.path)
        if digest is None:
            continue
        for k in range(copies):
            plan = tuple(draw_plan(spec, digest, k, seed, speaker_key(utt), pool))
            out.append(Copy(utt_id, utt.path, k, plan, plan_key(digest, spec, plan)))
    return out
