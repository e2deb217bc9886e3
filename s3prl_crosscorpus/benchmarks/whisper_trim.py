"""Whisper exact vs trim: ``python -m s3prl_crosscorpus.benchmarks.whisper_trim [-k FOLDER] [--json FILE]``.

Encodes utterances of realistic lengths (2 to 8 s, synthetic voiced signals) with ``hf_whisper_custom``
(padded to 30 s, Whisper's own input) and ``hf_whisper_trim_custom`` (cut to the utterance) and prints,
per hidden state, how far the trimmed features are from the exact ones: max and mean absolute
difference, the mean difference relative to the mean feature magnitude, and the cosine similarity of
the mean-pooled vectors (what the linear head reads), plus the time of each mode. Without ``-k`` the
model is a tiny randomly initialised Whisper encoder with the real 30 s input (1500 positions):
the figures then describe the mechanism (attention over the padded frames), not a trained model.
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

#: Utterance lengths in seconds (IEMOCAP's mean is about 4.5 s, EmoDB's 2.8 s, RAVDESS's 3.7 s).
LENGTHS = (2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0)


def voiced(seconds: float, rng: np.random.Generator, rate: int = 16000) -> np.ndarray:
    """A synthetic voiced utterance: harmonics of a gliding f0 under a syllable-like envelope, plus noise."""
    t = np.arange(int(seconds * rate)) / rate
    f0 = rng.uniform(100, 250) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.3, 1.0) * t))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    wave = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = np.clip(np.sin(2 * np.pi * rng.uniform(2, 4) * t), 0, None) ** 0.5
    return (0.1 * envelope * wave + 0.003 * rng.standard_normal(len(t))).astype(np.float32)


def tiny_whisper(folder: Path) -> Path:
    """A random Whisper (2 encoder layers of width 48) reading Whisper's real 30 s, 80-bin input."""
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.WhisperConfig(d_model=48, encoder_layers=2, encoder_attention_heads=2, decoder_layers=1,
                                        decoder_attention_heads=2, encoder_ffn_dim=96, decoder_ffn_dim=96,
                                        num_mel_bins=80, max_source_positions=1500)
    transformers.WhisperModel(config).save_pretrained(folder)
    transformers.WhisperFeatureExtractor(feature_size=80).save_pretrained(folder)
    return folder


def compare(folder: Path, lengths=LENGTHS, seed: int = 0) -> Dict[str, object]:
    """Per hidden state: max / mean |exact - trim|, mean relative difference, cosine of mean-pooled vectors."""
    import torch

    from ..superb.upstreams import build_upstream

    exact = build_upstream("hf_whisper_custom", str(folder))
    trim = build_upstream("hf_whisper_trim_custom", str(folder))
    rng = np.random.default_rng(seed)
    waves = [torch.from_numpy(voiced(s, rng)) for s in lengths]
    outputs, seconds = {}, {}
    for name, upstream in (("exact", exact), ("trim", trim)):
        start = time.perf_counter()
        with torch.no_grad():
            outputs[name] = [upstream([w])["hidden_states"] for w in waves]
        seconds[name] = time.perf_counter() - start
    layers: List[dict] = []
    for layer in range(exact.num_layers):
        a = [o[layer][0].numpy() for o in outputs["exact"]]
        b = [o[layer][0].numpy() for o in outputs["trim"]]
        diff = np.concatenate([np.abs(x - y).ravel() for x, y in zip(a, b)])
        scale = np.concatenate([np.abs(x).ravel() for x in a]).mean()
        cosines = [float(np.dot(x.mean(0), y.mean(0)) / (np.linalg.norm(x.mean(0)) * np.linalg.norm(y.mean(0))))
                   for x, y in zip(a, b)]
        layers.append({"layer": layer, "max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()),
                       "mean_rel_diff": float(diff.mean() / scale), "min_pooled_cosine": min(cosines),
                       "mean_pooled_cosine": float(np.mean(cosines))})
    return {"model": str(folder), "lengths_seconds": list(lengths), "layers": layers, "seconds": seconds}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s3prl_crosscorpus.benchmarks.whisper_trim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", "--ckpt", type=Path, help="a Whisper folder made by save_pretrained (default: a tiny "
                                                         "random one)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    from .. import superb  # noqa: F401  (the stack's workarounds)

    with tempfile.TemporaryDirectory(prefix="whisper_trim_") as scratch:
        folder = args.ckpt or tiny_whisper(Path(scratch) / "tiny-whisper")
        report = compare(folder)
    report["random_model"] = args.ckpt is None
    print(f"{'random tiny' if args.ckpt is None else args.ckpt} Whisper, utterances of "
          f"{', '.join(f'{s:g}' for s in report['lengths_seconds'])} s: exact {report['seconds']['exact']:.2f} s, "
          f"trim {report['seconds']['trim']:.2f} s")
    print(f"{'hidden state':<14}{'max |diff|':>12}{'mean |diff|':>13}{'mean rel':>10}{'pooled cos (min/mean)':>24}")
    for row in report["layers"]:
        print(f"{row['layer']:<14}{row['max_abs_diff']:>12.4f}{row['mean_abs_diff']:>13.4f}"
              f"{100 * row['mean_rel_diff']:>9.1f}%{row['min_pooled_cosine']:>12.4f} / {row['mean_pooled_cosine']:.4f}")
    if args.json:
        from ..core.io_utils import write_json

        write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
