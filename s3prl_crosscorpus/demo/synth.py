"""Synthetic EmoDB, RAVDESS and IEMOCAP trees in the real layouts, with emotional prosody.

The audio is a harmonic "voiced speech" signal: syllables with a pitch contour, vowel
formants and an energy envelope. Emotion moves pitch level and range, loudness, tempo
and spectral tilt (anger loud, bright and fast; sadness low, soft, slow and dark), the
speaker moves pitch and loudness, so a working classifier learns the classes well
above chance without the task being trivial. :class:`Difficulty` weakens the emotion cues and
adds per-utterance jitter (down to labels that carry no acoustic information); ``class_counts``
makes the classes imbalanced.
"""
import hashlib
import io
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Tuple

import numpy as np
import soundfile as sf
from s3prl_crosscorpus.core.progress import Progress as tqdm  # plain lines when not a terminal

from ..core.corpora.emodb import EMODB_SPEAKERS
from ..core.corpora.ravdess import ravdess_gender
from ..core.io_utils import atomic_open
from ..core.labels import EMODB_SOURCE, IEMOCAP_SOURCE, LABELS, RAVDESS_SOURCE, four_class

#: Prosody per synthetic emotion: pitch factor, pitch range (semitones), gain,
#: syllable seconds, spectral tilt (higher = darker). Excluded classes get their own.
PROSODY: Dict[str, tuple] = {
    "neu": (1.00, 1.5, 0.20, 0.20, 1.40),
    "hap": (1.35, 5.0, 0.35, 0.16, 1.05),
    "ang": (1.25, 3.0, 0.55, 0.13, 0.75),
    "sad": (0.85, 0.8, 0.10, 0.30, 1.80),
    "other": (1.10, 2.5, 0.30, 0.18, 1.20),
}
VOWEL_FORMANTS = ((730, 1090), (530, 1840), (270, 2290), (570, 840), (300, 870), (660, 1720))


@dataclass(frozen=True)
class Difficulty:
    """How hard the synthetic task is (the defaults give the corpora of earlier versions).

    ``emotion_strength``: each emotion's prosody moves this fraction of the way from neutral's to
    its own (1 = full, 0.3 = hard, 0 = every class sounds neutral: the labels carry no acoustic
    information); ``prosody_noise``: factor on the per-utterance jitter of tempo, pitch, pitch
    range and loudness.
    """

    emotion_strength: float = 1.0
    prosody_noise: float = 1.0


#: The limits of :class:`Difficulty` (beyond them the prosody stops being speech-like).
STRENGTH_RANGE = (0.0, 1.0)
NOISE_RANGE = (0.0, 4.0)


def check_difficulty(difficulty: Difficulty) -> None:
    """ValueError naming the option and its range when a :class:`Difficulty` field is out of range."""
    for name, value, (low, high) in (("emotion_strength", difficulty.emotion_strength, STRENGTH_RANGE),
                                     ("prosody_noise", difficulty.prosody_noise, NOISE_RANGE)):
        if not low <= value <= high:
            raise ValueError(f"{name} must be in [{low:g}, {high:g}], got {value:g}")


def prosody_of(emotion: str, strength: float = 1.0) -> Tuple[float, ...]:
    """``emotion``'s PROSODY moved ``strength`` of the way from neutral's (1: exactly PROSODY's)."""
    target, neutral = PROSODY.get(emotion, PROSODY["other"]), PROSODY["neu"]
    return tuple(strength * e + (1 - strength) * n for e, n in zip(target, neutral))


@dataclass(frozen=True)
class Voice:
    f0: float
    gain: float


def speaker_voice(gender: str, index: int) -> Voice:
    """A speaker's base pitch and loudness, spread across speakers of one gender."""
    base = 115.0 if gender == "M" else 205.0
    return Voice(f0=base * (1 + 0.06 * ((index * 7) % 5 - 2)), gain=1 + 0.08 * ((index * 3) % 5 - 2))


def rng_for(*keys: object) -> np.random.Generator:
    digest = hashlib.sha256("/".join(map(str, keys)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def synth_utterance(emotion: str, voice: Voice, rate: int, rng: np.random.Generator,
                    difficulty: Difficulty = Difficulty()) -> np.ndarray:
    """One utterance of 4-7 syllables at ``rate`` Hz, float32 in [-1, 1]."""
    pitch, semis, gain, syll, tilt = prosody_of(emotion, difficulty.emotion_strength)
    jitter = lambda scale: 1 + scale * difficulty.prosody_noise * rng.standard_normal()  # noqa: E731
    n_syll = int(rng.integers(4, 8))
    syll_len = syll * max(0.3, jitter(0.12))  # the floor only matters for a large prosody_noise
    n = int(rate * (n_syll * syll_len + 0.2))
    t = np.arange(n) / rate
    f0_mean = voice.f0 * pitch * max(0.5, jitter(0.06))
    # Pitch: one accent per syllable plus declination across the utterance.
    accents = np.sin(np.pi * np.clip(t / syll_len % 1.0, 0, 1)) * rng.uniform(0.3, 1.0, n_syll + 2)[
        np.minimum((t / syll_len).astype(int), n_syll + 1)]
    f0 = f0_mean * 2 ** ((semis * jitter(0.15) * (accents - 0.5) - 1.5 * t / t[-1]) / 12)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    # Vowel formants change per syllable; harmonic amplitude = tilt * formant envelope.
    syll_index = np.minimum((t / syll_len).astype(int), n_syll - 1)
    vowels = np.array(VOWEL_FORMANTS)[rng.integers(0, len(VOWEL_FORMANTS), n_syll)][syll_index]
    signal = np.zeros(n)
    for h in range(1, int(min(4000, rate / 2 - 200) // (f0_mean * 1.3)) + 1):
        freq = h * f0
        envelope = sum(np.exp(-0.5 * ((freq - vowels[:, k]) / (90 + 40 * k)) ** 2) for k in range(2))
        signal += h ** -tilt * (0.15 + envelope) * np.sin(h * phase)
    # Energy: a raised-cosine envelope per syllable with short pauses between syllables.
    in_syll = (t / syll_len) % 1.0
    env = np.where(t < n_syll * syll_len, np.sin(np.pi * np.clip(in_syll / 0.85, 0, 1)) ** 2, 0.0)
    signal = signal * env / (np.abs(signal).max() + 1e-9)
    signal += 0.02 * rng.standard_normal(n) * env  # breathiness
    out = gain * jitter(0.15) * voice.gain * signal + 0.002 * rng.standard_normal(n)
    return np.clip(out, -1, 1).astype(np.float32)


@dataclass(frozen=True)
class Channel:
    """A recording channel applied to every file of one corpus (off unless given to :func:`synthesize`).

    ``gain``: amplitude factor; ``tilt``: spectral tilt in dB per octave around 1 kHz (negative =
    darker); ``band``: (low, high) pass band in Hz; ``noise``: RMS of a white noise floor.
    """

    gain: float = 1.0
    tilt: float = 0.0
    band: Optional[Tuple[float, float]] = None
    noise: float = 0.0


def apply_channel(audio: np.ndarray, rate: int, channel: Channel, rng: np.random.Generator) -> np.ndarray:
    """``audio`` through ``channel``: tilt and band limit in the frequency domain, gain, noise floor."""
    freqs = np.fft.rfftfreq(len(audio), 1.0 / rate)
    response = 10 ** (channel.tilt * np.log2(np.maximum(freqs, 20.0) / 1000.0) / 20)
    if channel.band is not None:
        response = response * ((freqs >= channel.band[0]) & (freqs <= channel.band[1]))
    shaped = np.fft.irfft(np.fft.rfft(audio.astype(np.float64)) * response, len(audio))
    out = channel.gain * shaped + channel.noise * rng.standard_normal(len(audio))
    return np.clip(out, -1, 1).astype(np.float32)


def voiced(emotion: str, voice: Voice, rate: int, seed: int, name: str, channel: Optional[Channel],
           difficulty: Difficulty = Difficulty()) -> np.ndarray:
    """One synthetic utterance, through the corpus' channel when it has one."""
    audio = synth_utterance(emotion, voice, rate, rng_for(seed, name), difficulty)
    return audio if channel is None else apply_channel(audio, rate, channel, rng_for(seed, name, "channel"))


@contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold Ctrl-C until the block ends: soundfile encodes to memory through a cffi callback, where a
    KeyboardInterrupt is swallowed ("Exception ignored from cffi callback") and surfaces as an AssertionError
    traceback instead of the one-line interrupt. Main thread only (signal masks are per thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)  # a pending Ctrl-C is raised here, as usual


def write_wav(path: Path, audio: np.ndarray, rate: int, channels: int = 1) -> None:
    """16-bit PCM WAV, atomically: no partial file on a full disk (WriteError naming ``path``)."""
    data = np.stack([audio, 0.9 * audio], axis=1) if channels == 2 else audio
    buffer = io.BytesIO()  # the same bytes as sf.write(path, ...); encoded in memory so that the OS write is ours
    with sigint_deferred():
        sf.write(buffer, data, rate, subtype="PCM_16", format="WAV")
    write_file(path, buffer.getvalue())


def write_file(path: Path, data: bytes) -> None:
    """``data`` into ``path`` atomically (temporary file + rename, via core.io_utils)."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)


EMODB_TEXTS = ("a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10")
EMODB_VERSIONS = "abcdef"


def codes_by_label(corpus: str, source_of: Mapping[str, str]) -> Dict[str, Tuple[str, ...]]:
    """4-class label -> the corpus' file/label codes that the readers map to it (from labels.py)."""
    codes: Dict[str, List[str]] = {label: [] for label in LABELS}
    for code, source in source_of.items():
        label = four_class(corpus, source)
        if label is not None:
            codes[label].append(code)
    return {label: tuple(found) for label, found in codes.items()}


EMODB_LETTER = {label: codes[0] for label, codes in codes_by_label("emodb", EMODB_SOURCE).items()}


def synth_emodb(root: Path, counts: Mapping[str, int], seed: int, channel: Optional[Channel] = None,
                difficulty: Difficulty = Difficulty()) -> int:
    """EmoDB: ``wav/SSTTTEV.wav`` at 16 kHz, ``counts[label]`` files per speaker and class; each speaker
    also says one boredom/fear/disgust file."""
    count = 0
    for s, (speaker, gender) in enumerate(sorted(EMODB_SPEAKERS.items())):
        voice = speaker_voice(gender, s)
        for emotion, letter in list(EMODB_LETTER.items()) + [("other", "LAE"[s % 3])]:
            for i in range(counts[emotion] if emotion != "other" else 1):
                text, version = EMODB_TEXTS[i % len(EMODB_TEXTS)], EMODB_VERSIONS[i // len(EMODB_TEXTS)]
                name = f"{speaker}{text}{letter}{version}.wav"
                audio = voiced(emotion, voice, 16000, seed, name, channel, difficulty)
                write_wav(root / "wav" / name, audio, 16000)
                count += 1
    return count


RAVDESS_CODE = {label: codes[0] for label, codes in codes_by_label("ravdess", RAVDESS_SOURCE).items()}


def ravdess_combos(emotion: str) -> List[Tuple[str, str, str]]:
    """(intensity, statement, repetition) codes of one actor and emotion: neutral has no strong intensity."""
    intensities = ("01",) if emotion == "neu" else ("01", "02")
    return [(i, s, r) for i in intensities for s in ("01", "02") for r in ("01", "02")]


def synth_ravdess(root: Path, counts: Mapping[str, int], seed: int, channel: Optional[Channel] = None,
                  difficulty: Difficulty = Difficulty()) -> int:
    """RAVDESS: ``Actor_NN/03-01-EE-II-SS-RR-NN.wav`` at 48 kHz, ``counts[label]`` files per actor and class;
    some stereo, calm, song and a duplicate."""
    count = 0
    for actor in range(1, 25):
        voice = speaker_voice(ravdess_gender(actor), actor)
        for emotion, code in list(RAVDESS_CODE.items()) + [("other", "02")]:  # 02 = calm, left out
            combos = ravdess_combos(emotion)
            for k, (intensity, statement, rep) in enumerate(combos[:counts[emotion] if emotion != "other" else 1]):
                name = f"03-01-{code}-{intensity}-{statement}-{rep}-{actor:02d}.wav"
                audio = voiced(emotion, voice, 48000, seed, name, channel, difficulty)
                write_wav(root / f"Actor_{actor:02d}" / name, audio, 48000, channels=2 if (actor + k) % 5 == 0 else 1)
                count += 1
        if actor % 6 == 1:  # a song file (vocal channel 02), left out
            name = f"03-02-03-01-01-01-{actor:02d}.wav"
            audio = voiced("hap", voice, 48000, seed, name, channel, difficulty)
            write_wav(root / f"Actor_{actor:02d}" / name, audio, 48000)
    # Real copies often hold the speech archive twice; the reader keeps one.
    first = sorted((root / "Actor_01").glob("*.wav"))[0]
    write_wav(root / "audio_speech_actors_01-24" / "Actor_01" / first.name, sf.read(str(first))[0], 48000)
    return count


IEMOCAP_CODES = codes_by_label("iemocap", {code: code for code in IEMOCAP_SOURCE})  # hap: hap and exc
IEMOCAP_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
EVALUATOR = {"neu": "Neutral", "hap": "Happiness", "exc": "Excited", "ang": "Anger", "sad": "Sadness",
             "fru": "Frustration", "xxx": "Other", "sur": "Surprise"}


def synth_iemocap(root: Path, counts: Mapping[str, int], seed: int, channel: Optional[Channel] = None,
                  difficulty: Difficulty = Difficulty()) -> int:
    """IEMOCAP: two dialogs per session with EmoEvaluation files, evaluator lines and sub-folders;
    ``counts[label]`` turns per speaker and class."""
    count = 0
    for session in range(1, 6):
        sdir = root / f"Session{session}"
        dialogs = [f"Ses{session:02d}F_impro01", f"Ses{session:02d}M_script01_1"]
        blocks: Dict[str, List[str]] = {d: [] for d in dialogs}
        for g, gender in enumerate("FM"):
            voice = speaker_voice(gender, session * 2 + g)
            plan = [(e, codes[i % len(codes)]) for e, codes in IEMOCAP_CODES.items() for i in range(counts[e])]
            plan += [("other", "fru"), ("other", "xxx"), ("other", "sur")]
            for i, (emotion, code) in enumerate(plan):
                dialog = dialogs[i % 2]
                utt = f"{dialog}_{gender}{i:03d}"
                audio = voiced(emotion, voice, 16000, seed, utt, channel, difficulty)
                write_wav(sdir / "sentences" / "wav" / dialog / f"{utt}.wav", audio, 16000)
                start = 2.0 * i
                blocks[dialog].append(
                    f"[{start:.4f} - {start + len(audio) / 16000:.4f}]\t{utt}\t{code}\t[2.5000, 3.0000, 2.5000]\n"
                    f"C-E2:\t{EVALUATOR[code]};\t()\nC-E3:\t{EVALUATOR[code]};\t()\n"
                    f"A-E3:\tval 3; act 2; dom  2;\t()\n\n")
                count += 1
        evaluation = sdir / "dialog" / "EmoEvaluation"
        for dialog, dialog_blocks in blocks.items():
            write_file(evaluation / f"{dialog}.txt", (IEMOCAP_HEADER + "".join(dialog_blocks)).encode())
            write_file(evaluation / f"._{dialog}.txt", b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X")
            for sub, suffix in (("Categorical", "_e2_cat"), ("Attribute", "_e4_atr"), ("Self-evaluation", "")):
                write_file(evaluation / sub / f"{dialog}{suffix}.txt", f"{dialog}_F000 :Neutral; ()\n".encode())
    return count


#: IEMOCAP turns per speaker and class at most (turn numbers have three digits).
IEMOCAP_MAX_PER_CLASS = 100


def count_limits(corpus: str) -> Dict[str, int]:
    """label -> the most files per speaker and class that ``corpus``'s real naming allows."""
    if corpus == "ravdess":  # 4 neutral, 8 of each other class per actor (see ravdess_combos)
        return {label: len(ravdess_combos(label)) for label in LABELS}
    if corpus == "emodb":  # text x version codes
        return {label: len(EMODB_TEXTS) * len(EMODB_VERSIONS) for label in LABELS}
    return {label: IEMOCAP_MAX_PER_CLASS for label in LABELS}


def class_counts_for(per_class: int, class_counts: Optional[Mapping[str, int]],
                     corpora: Tuple[str, ...]) -> Dict[str, int]:
    """label -> files per speaker and class: ``class_counts`` where given, else ``per_class``; ValueError
    for an unknown label or a count outside 1 and the limit of a corpus in ``corpora``."""
    given = dict(class_counts or {})
    unknown = sorted(set(given) - set(LABELS))
    if unknown:
        raise ValueError(f"class_counts: unknown label {unknown}; choose from {', '.join(LABELS)}")
    counts = {label: given.get(label, per_class) for label in LABELS}
    for label, count in given.items():
        if not isinstance(count, (int, np.integer)) or isinstance(count, bool) or count < 1:
            raise ValueError(f"class_counts: {label}={count!r} must be a whole number >= 1")
        for corpus in corpora:
            limit = count_limits(corpus)[label]
            if count > limit:
                raise ValueError(f"class_counts: {label}={count} is above the {corpus} limit of {limit} "
                                 f"files per speaker for {label}")
    return counts


def synthesize(out: Path, per_class: int = 3, seed: int = 0, channels: Optional[Mapping[str, Channel]] = None,
               corpora: Tuple[str, ...] = ("emodb", "ravdess", "iemocap"), *,
               emotion_strength: float = 1.0, prosody_noise: float = 1.0,
               class_counts: Optional[Mapping[str, int]] = None) -> Dict[str, Path]:
    """Write ``out/emodb``, ``out/ravdess``, ``out/iemocap``; ``per_class`` is per speaker and class.

    ``channels``: corpus -> :class:`Channel` applied to all of its files (none by default: the
    corpora are then exactly those of earlier versions). ``corpora``: which trees to write.
    ``emotion_strength``, ``prosody_noise``: see :class:`Difficulty` (defaults: the corpora of earlier
    versions). ``class_counts``: label -> files per speaker and class, replacing ``per_class`` for those
    labels (e.g. ``{"neu": 4, "hap": 2, "ang": 1, "sad": 1}``; RAVDESS allows 4 neutral and 8 of
    each other class, EmoDB 60, IEMOCAP 100).
    """
    if not 1 <= per_class <= 4:
        raise ValueError("--utterances-per-class must be 1..4 (RAVDESS has 4 neutral files per actor)")
    out = Path(out)
    writers = {"emodb": synth_emodb, "ravdess": synth_ravdess, "iemocap": synth_iemocap}
    unknown = sorted(set(corpora) - set(writers)) + sorted(set(channels or {}) - set(writers))
    if unknown:
        raise ValueError(f"unknown corpus {unknown}; choose from {', '.join(writers)}")
    difficulty = Difficulty(emotion_strength=emotion_strength, prosody_noise=prosody_noise)
    check_difficulty(difficulty)
    writers = {corpus: writer for corpus, writer in writers.items() if corpus in corpora}
    counts = class_counts_for(per_class, class_counts, tuple(writers))
    for corpus, writer in tqdm(writers.items(), desc="synthesising corpora", unit="corpus"):
        writer(out / corpus, counts, seed, (channels or {}).get(corpus), difficulty)
    return {corpus: out / corpus for corpus in writers}
