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
