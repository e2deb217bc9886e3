"""Audio I/O: every model in the project sees 16 kHz mono float32, read with soundfile."""
from math import gcd
from pathlib import Path
from typing import Optional, Union

import numpy as np
import soundfile as sf

TARGET_RATE = 16000
#: Shortest input (16 kHz samples) the s3prl upstreams accept: the 400-sample receptive field of the first
#: convolutions of wav2vec2/HuBERT/WavLM, and a 25 ms fbank/MFCC window. Shorter clips stop them mid-run.
MIN_SAMPLES = 400


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
    from scipy.signal import resample_poly  # here: scipy.signal takes a second to import

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


def length_problem(num_samples_16k: int, path: Union[str, Path], min_samples: int = MIN_SAMPLES) -> Optional[str]:
    """Why a clip of ``num_samples_16k`` samples at 16 kHz is too short for the upstreams, or None."""
    if num_samples_16k >= min_samples:
        return None
    return (f"{path}: too short for the upstream ({num_samples_16k} samples at {TARGET_RATE} Hz = "
            f"{1000 * num_samples_16k / TARGET_RATE:.1f} ms; at least {min_samples} are needed)")


def audio_problem(path: Union[str, Path], min_samples: int = MIN_SAMPLES) -> Optional[str]:
    """Why ``path`` cannot go through an upstream (unreadable, empty, non-finite, too short), or None.

    Decodes the file without resampling (resampling keeps finite samples finite), so checking a
    whole corpus costs a read of each file.
    """
    try:
        samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises several types for broken files
        return f"{path}: cannot read audio ({err})"
    if samples.size == 0:
        return f"{path}: audio file holds no samples"
    if not np.all(np.isfinite(samples)):
        return f"{path}: audio holds non-finite samples"
    return length_problem(-(-len(samples) * TARGET_RATE // rate), path, min_samples)
