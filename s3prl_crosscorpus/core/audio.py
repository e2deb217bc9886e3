"""Audio I/O: every model in the project sees 16 kHz mono float32, read with soundfile."""
from math import gcd
from pathlib import Path
from typing import Union

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

TARGET_RATE = 16000


class AudioError(RuntimeError):
    """A file that cannot be used as audio; the message names the file."""


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Downmix (frames, channels) to (frames,) by averaging the channels."""
    return samples.mean(axis=1) if samples.ndim == 2 else samples


def resample(samples: np.ndarray, rate: int, target: int = TARGET_RATE) -> np.ndarray:
    """Polyphase resampling from ``rate`` to ``target`` (identity when equal)."""
    if rate == target:
        return samples
    g = gcd(rate, target)
    return resample_poly(samples, target // g, rate // g).astype(np.float32)


def load_audio(path: Union[str, Path], target: int = TARGET_RATE) -> np.ndarray:
    """Read ``path`` from its own sample rate and channel count as ``target`` Hz mono float32."""
    try:
        samples, rate = sf.read(str(path), dtype="float32", always_2d=False)
    except Exception as err:  # soundfile raises several types for broken files
        raise AudioError(f"{path}: cannot read audio ({err})") from err
    if samples.size == 0:
        raise AudioError(f"{path}: audio file holds no samples")
    samples = resample(to_mono(samples), rate, target)
    if not np.all(np.isfinite(samples)):
        raise AudioError(f"{path}: audio holds non-finite samples")
    return np.ascontiguousarray(samples, dtype=np.float32)
