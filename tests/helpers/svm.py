"""Broken audio files for the SVM tests (garbage bytes, NaN samples, a missing file)."""
from pathlib import Path
from typing import Dict

import numpy as np
import soundfile as sf


def write_broken_files(folder: Path) -> Dict[str, Path]:
    """kind -> path: ``garbage`` (not a wav), ``nan`` (float wav holding NaN samples), ``missing``."""
    folder.mkdir(parents=True, exist_ok=True)
    garbage = folder / "garbage.wav"
    garbage.write_bytes(b"RIFF\x00\x00 this is not a wav file " * 40)
    nan = folder / "nan.wav"
    samples = (0.1 * np.sin(np.arange(16000) / 10)).astype(np.float32)
    samples[4000:4100] = np.nan
    sf.write(str(nan), samples, 16000, subtype="FLOAT")
    return {"garbage": garbage, "nan": nan, "missing": folder / "missing.wav"}


def functionals_like(n: int, dims: int, seed: int, signal: float = 0.35, informative: float = 0.2):
    """(X float32, y): rows shaped like openSMILE functionals of four emotion classes.

    Features have wildly different offsets and scales (so standardisation matters), share a
    low-rank correlated component, and a fraction ``informative`` of them shift with the class by
    ``signal`` standard deviations, so classes overlap as in real speech. The class structure
    and feature scales are fixed (seed 0) and shared by every draw; ``seed`` draws the rows.
    """
    fixed = np.random.default_rng(1234 + dims)
    means = fixed.standard_normal((4, dims)) * (fixed.random(dims) < informative) * signal
    mixing = fixed.standard_normal((10, dims)) * 0.4
    scale, offset = fixed.lognormal(0.0, 2.0, dims), fixed.normal(0.0, 100.0, dims)
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 4, n)
    X = means[classes] + rng.standard_normal((n, 10)) @ mixing + rng.standard_normal((n, dims))
    labels = np.array(["neu", "hap", "ang", "sad"])[classes]
    return (X * scale + offset).astype(np.float32), labels
