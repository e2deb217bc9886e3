"""The signal effects, each a pure function of 16 kHz mono float32 audio and already drawn values."""
from fractions import Fraction
from functools import lru_cache
from typing import Sequence, Tuple

import numpy as np
from scipy.fft import next_fast_len
from scipy.signal import butter, fftconvolve, resample_poly, sosfilt

from ..core.audio import TARGET_RATE, load_audio

#: Version of the signal effects: part of every copy's cache key, bump it when an effect's output changes.
EFFECTS_VERSION = 1


def power(signal: np.ndarray) -> float:
    return float(np.mean(np.square(signal, dtype=np.float64))) if signal.size else 0.0


def speed(signal: np.ndarray, factor: float) -> np.ndarray:
    """Kaldi/ESPnet speed perturbation (sox ``speed``): resample by 1/factor and play at the old rate, so tempo
    and pitch both change; 1.1 is 10% faster and shorter."""
    if factor == 1.0:
        return signal
    ratio = Fraction(factor).limit_denominator(100)
    return resample_poly(signal, ratio.denominator, ratio.numerator).astype(np.float32)


def fit_length(noise: np.ndarray, length: int, offset: int) -> np.ndarray:
    """``length`` samples of ``noise`` from ``offset`` on, repeated as often as needed."""
    if noise.size == 0:
        return np.zeros(length, dtype=np.float32)
    reps = int(np.ceil((offset % noise.size + length) / noise.size)) + 1
    return np.tile(noise, reps)[offset % noise.size:offset % noise.size + length]


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``signal`` plus ``noise`` scaled so that 10 log10(P_signal / P_noise) = snr_db (silence: unchanged)."""
    p_signal, p_noise = power(signal), power(noise)
    if p_signal == 0.0 or p_noise == 0.0:
        return signal
    scale = np.sqrt(p_signal / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (signal + scale * noise).astype(np.float32)


def colored_noise(length: int, color: str, seed: int) -> np.ndarray:
    """White, pink (1/f) or brown (1/f^2) Gaussian noise, shaped in the frequency domain."""
    rng = np.random.default_rng(seed)
    if color == "white" or length < 2:
        return rng.standard_normal(length).astype(np.float32)
    size = next_fast_len(length, real=True)  # a prime length would make the FFT 40x slower
    spectrum = np.fft.rfft(rng.standard_normal(size))
    freqs = np.fft.rfftfreq(size)
    freqs[0] = freqs[1]
    spectrum /= np.sqrt(freqs) if color == "pink" else freqs
    return np.fft.irfft(spectrum, n=size)[:length].astype(np.float32)


def telephone(signal: np.ndarray, low: float, high: float) -> np.ndarray:
    """Narrow-band telephone channel: band-pass (4th-order Butterworth), 8 kHz, G.711 mu-law 8 bit, back to 16 kHz."""
    sos = butter(4, [low, high], btype="bandpass", fs=TARGET_RATE, output="sos")
    narrow = resample_poly(sosfilt(sos, signal), 1, 2)
    peak = float(np.max(np.abs(narrow))) or 1.0
    x = np.clip(narrow / peak, -1.0, 1.0)
    mu = 255.0
    coded = np.round((np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)) * 127.0) / 127.0
    decoded = np.sign(coded) * np.expm1(np.abs(coded) * np.log1p(mu)) / mu * peak
    return resample_poly(decoded, 2, 1)[:signal.size].astype(np.float32)


def reverberate(signal: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve with an impulse response, aligned on its direct path, at the input's power."""
    if rir.size == 0 or not np.any(rir):
        return signal
    start = int(np.argmax(np.abs(rir)))
    wet = fftconvolve(signal, rir)[start:start + signal.size]
    p_in, p_out = power(signal), power(wet)
    return (wet * np.sqrt(p_in / p_out) if p_out > 0 else wet).astype(np.float32)


@lru_cache(maxsize=16)
def simulated_rooms(seed: int, rt60: Tuple[float, float], rooms: int) -> Tuple[np.ndarray, ...]:
    """A bank of ``rooms`` shoebox-room impulse responses (pyroomacoustics image method), drawn from ``seed``:
    room sizes 3-10 x 3-8 x 2.5-4 m, RT60 uniform in ``rt60``, source and microphone >= 0.5 m from the walls.
    Simulated once per process; each copy picks one."""
    import pyroomacoustics as pra

    rng = np.random.default_rng(seed)
    bank = []
    for _ in range(rooms):
        dims = np.array([rng.uniform(3, 10), rng.uniform(3, 8), rng.uniform(2.5, 4)])
        target = float(rng.uniform(*rt60)) if rt60[1] > rt60[0] else float(rt60[0])
        try:
            absorption, order = pra.inverse_sabine(target, dims)
        except ValueError:  # a room too large for so short a time: the most absorbing walls the model allows
            absorption, order = 1.0, 0
        room = pra.ShoeBox(dims, fs=TARGET_RATE, materials=pra.Material(absorption), max_order=min(order, 30))
        room.add_source(rng.uniform(0.5, dims - 0.5))
        room.add_microphone(rng.uniform(0.5, dims - 0.5))
        room.compute_rir()
        bank.append(np.asarray(room.rir[0][0], dtype=np.float32))
    return tuple(bank)


@lru_cache(maxsize=64)
def file_audio(path: str) -> np.ndarray:
    """A noise or RIR file as 16 kHz mono (kept per process: the same files serve many copies)."""
    return load_audio(path)


def pitch(signal: np.ndarray, semitones: float) -> np.ndarray:
    """Pitch shift by ``semitones`` without changing the tempo (audiomentations' PitchShift, fixed amount)."""
    if semitones == 0.0:
        return signal
    from audiomentations import PitchShift

    shift = PitchShift(min_semitones=semitones, max_semitones=semitones, p=1.0)
    return np.asarray(shift(samples=signal, sample_rate=TARGET_RATE), dtype=np.float32)


def babble(length: int, sources: Sequence[np.ndarray], offsets: Sequence[int]) -> np.ndarray:
    """The sum of several talkers, each at unit power, cut or repeated to ``length``."""
    total = np.zeros(length, dtype=np.float64)
    for source, offset in zip(sources, offsets):
        part = fit_length(source, length, offset).astype(np.float64)
        p = power(part)
        if p > 0:
            total += part / np.sqrt(p)
    return total.astype(np.float32)
