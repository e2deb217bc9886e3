"""``predict``: emotion label and class probabilities for new audio from a trained model.

``--model`` takes an SVM model (``fold<k>.model.joblib`` written by ``baseline-svm run``) or a
DNN checkpoint (``dev-best.ckpt`` written by ``run-downstream``). Audio of any sample rate and
channel count is read as 16 kHz mono by the same code as training.
"""
import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..core.audio import AudioError, length_problem, load_audio
from ..core.io_utils import atomic_open
from ..core.labels import LABELS

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


def expand_inputs(items: Sequence[str]) -> List[Path]:
    """Files as given, folders searched recursively for audio files (sorted)."""
    paths: List[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            found = sorted(p for p in item.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES
                           and not p.name.startswith("._"))
            if not found:
                raise FileNotFoundError(f"{item}: folder holds no audio files ({', '.join(AUDIO_SUFFIXES)})")
            paths.extend(found)
        elif item.exists():
            paths.append(item)
        else:
            raise FileNotFoundError(f"{item}: no such file or folder")
    return paths


def predict_svm(model_path: Path, paths: Sequence[Path]) -> Tuple[List[Optional[str]], np.ndarray]:
    from baseline_svm.model import load_model, predict_files

    return predict_files(load_model(model_path), paths, progress=len(paths) > 20)


def predict_dnn(ckpt: Path, paths: Sequence[Path], device: str) -> Tuple[List[Optional[str]], np.ndarray]:
    from ..superb.inference import DnnPredictor

    predictor = DnnPredictor.from_checkpoint(ckpt, device=device)
    labels: List[Optional[str]] = [None] * len(paths)
    proba = np.full((len(paths), len(LABELS)), np.nan)
    for i, path in enumerate(paths):
        try:
            wave = load_audio(path)
            problem = length_problem(len(wave), path)
            if problem is not None:
                raise AudioError(problem)
            proba[i] = predictor.predict_proba([wave])[0]
        except AudioError as err:  # the message names the file
            print(f"skipped {err}", file=sys.stderr)
            continue
        except (RuntimeError, AssertionError) as err:  # the upstream refused this clip
            print(f"skipped {path}: {err}", file=sys.stderr)
            continue
        labels[i] = LABELS[int(np.argmax(proba[i]))]
    return labels, proba


def predict(model: Path, paths: Sequence[Path], device: str = "cpu") -> List[dict]:
    """One row per file: path, label (None if the file could not be read), probabilities."""
    if not Path(model).is_file():
        raise FileNotFoundError(f"{model}: model file not found")
    if str(model).endswith(".joblib"):
        labels, proba = predict_svm(model, paths)
    else:
        labels, proba = predict_dnn(model, paths, device)
    return [{"path": str(p), "label": lab, **{c: (None if np.isnan(v) else round(float(v), 4))
                                              for c, v in zip(LABELS, row)}}
            for p, lab, row in zip(paths, labels, proba)]


def render(rows: List[dict], fmt: str) -> str:
    """Rows as an aligned table, CSV or JSON."""
    if fmt == "json":
        return json.dumps(rows, indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=["path", "label", *LABELS], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue().rstrip("\n")
    width = max(len(r["path"]) for r in rows)
    lines = [f"{'file':<{width}}  label  " + "  ".join(f"{c:>5}" for c in LABELS)]
    for r in rows:
        probs = "  ".join("    -" if r[c] is None else f"{r[c]:5.2f}" for c in LABELS)
        lines.append(f"{r['path']:<{width}}  {r['label'] or 'ERROR':<5}  {probs}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="s3prl-crosscorpus predict",
        description="Emotion label and class probabilities for new audio from a trained model: an SVM "
                    "fold<k>.model.joblib (written by baseline-svm run; unpickled, so only from a trusted source) "
                    "or a DNN dev-best.ckpt (written by run-downstream or train-cached). Audio of any sample rate "
                    "and channel count is read as 16 kHz mono by the same code as training.")
    parser.add_argument("--model", type=Path, required=True,
                        help="SVM fold<k>.model.joblib or DNN dev-best.ckpt")
    parser.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument("--output", "-o", type=Path, help="write here instead of standard output")
    parser.add_argument("--device", default="cpu", help="torch device for DNN checkpoints")
    args = parser.parse_args(argv)
    try:
        rows = predict(args.model, expand_inputs(args.inputs), args.device)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    text = render(rows, args.format)
    if args.output:
        with atomic_open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    else:
        print(text)
    return 1 if any(r["label"] is None for r in rows) else 0
