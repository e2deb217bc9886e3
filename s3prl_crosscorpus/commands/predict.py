"""``predict``: emotion label and class probabilities for new audio from a trained model.

``--model`` takes an SVM model (``fold<k>.model.skops`` written by ``baseline-svm run``; an old
pickled ``.joblib`` only with ``--trust-pickle``) or a DNN checkpoint (``dev-best.ckpt`` written by
``run-downstream``). Audio of any sample rate and channel count is read as 16 kHz mono by the same
code as training. A file longer than ``--max-seconds`` (its header says) is not read. A model with
corpus/speaker normalisation needs to be told which files share a speaker (``--speaker-of``,
``--speaker-per-folder``, ``--same-speaker``): each group is normalised with its own files only.
"""
import argparse
import csv
import io
import json
import re
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..core.audio import AudioError, length_problem, load_audio
from ..core.io_utils import atomic_open
from ..core.labels import LABELS
from ..core.normalise import MIN_GROUP_UTTERANCES, transductive_refusal

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


#: Emotion is labelled per utterance; corpus utterances last under 35 s (IEMOCAP's longest).
DEFAULT_MAX_SECONDS = 60.0
SVM_SUFFIXES = (".skops", ".joblib", ".pkl", ".pickle")
GROUPING_HINT = ("with --speaker-of REGEX|CSV, --speaker-per-folder or --same-speaker "
                 f"(at least {MIN_GROUP_UTTERANCES} files per speaker for meaningful statistics)")


class GroupingError(ValueError):
    """A speaker grouping that cannot be applied (bad regex, CSV or unmatched file); the message says which."""


def too_long(path: Path, max_seconds: float) -> Optional[str]:
    """Why a file is not read (its header gives more than ``max_seconds``), before any sample is read."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception:  # unreadable headers are reported by the reader, with the rest
        return None
    seconds = info.frames / info.samplerate if info.samplerate else 0.0
    if seconds <= max_seconds:
        return None
    return (f"{path}: {seconds:.1f} s long, above the {max_seconds:g} s limit of predict (emotion is labelled per "
            f"utterance: cut the recording into utterances, or raise --max-seconds)")


def groups_from_csv(table: Path, paths: Sequence[Path]) -> List[str]:
    """The speaker of every file from a CSV with columns path,speaker (paths as given or resolved)."""
    try:
        with open(table, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise GroupingError(f"{table}: cannot read the speaker table ({err})") from None
    if not rows or not {"path", "speaker"} <= set(rows[0]):
        raise GroupingError(f"{table}: a speaker table needs a header with columns path,speaker")
    found: Dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        if not (row.get("path") or "").strip() or not (row.get("speaker") or "").strip():
            raise GroupingError(f"{table}: line {line}: empty path or speaker")
        found[str(Path(row["path"].strip()).resolve())] = row["speaker"].strip()
    missing = [p for p in paths if str(p.resolve()) not in found]
    if missing:
        raise GroupingError(f"{table}: no speaker for {missing[0]}" + (f" and {len(missing) - 1} more file(s)"
                                                                        if len(missing) > 1 else ""))
    return [found[str(p.resolve())] for p in paths]


def groups_from_regex(pattern: str, paths: Sequence[Path]) -> List[str]:
    """The speaker of every file: the one group of ``pattern`` searched in its path."""
    try:
        regex = re.compile(pattern)
    except re.error as err:
        raise GroupingError(f"--speaker-of {pattern!r}: not a regular expression ({err})") from None
    if regex.groups != 1:
        raise GroupingError(f"--speaker-of {pattern!r}: needs exactly one group (...) that captures the speaker, "
                            f"has {regex.groups}")
    speakers = []
    for path in paths:
        match = regex.search(path.as_posix())
        if not match or not match.group(1):
            raise GroupingError(f"{path}: --speaker-of {pattern!r} does not match its path")
        speakers.append(match.group(1))
    return speakers


def speaker_groups(paths: Sequence[Path], speaker_of: Optional[str] = None, per_folder: bool = False,
                   same: bool = False) -> Optional[List[str]]:
    """The speaker of every file as the user said (None: not said)."""
    if speaker_of is not None:
        if speaker_of.lower().endswith(".csv") and Path(speaker_of).is_file():
            return groups_from_csv(Path(speaker_of), paths)
        return groups_from_regex(speaker_of, paths)
    if per_folder:
        return [p.parent.as_posix() for p in paths]
    if same:
        return ["all"] * len(paths)
    return None


def predict_svm(model_path: Path, paths: Sequence[Path], groups: Optional[Sequence[str]] = None,
                trust_pickle: bool = False) -> Tuple[List[Optional[str]], np.ndarray, Dict[int, str]]:
    from baseline_svm.model import load_model, predict_files

    model = load_model(model_path, trust_pickle=trust_pickle)
    if model["normalisation"] != "global" and groups is None:
        raise GroupingError(f"{model_path}: {transductive_refusal(model['normalisation'])} {GROUPING_HINT}")
    return predict_files(model, paths, progress=len(paths) > 20, groups=groups)


def predict_dnn(ckpt: Path, paths: Sequence[Path], device: str, groups: Optional[Sequence[str]] = None
                ) -> Tuple[List[Optional[str]], np.ndarray, Dict[int, str]]:
    from ..superb.inference import DnnPredictor, UngroupedError

    try:
        predictor = DnnPredictor.from_checkpoint(ckpt, device=device, grouped=groups is not None)
    except UngroupedError as err:
        raise GroupingError(f"{err} {GROUPING_HINT}") from None
    labels: List[Optional[str]] = [None] * len(paths)
    proba = np.full((len(paths), len(LABELS)), np.nan)
    waves: Dict[int, np.ndarray] = {}
    for i, path in enumerate(paths):
        try:
            wave = load_audio(path)
            problem = length_problem(len(wave), path)
            if problem is not None:
                raise AudioError(problem)
            waves[i] = wave
        except AudioError as err:  # the message names the file
            print(f"skipped {err}", file=sys.stderr)
    if predictor.normalisation == "global":
        for i, wave in waves.items():
            try:
                proba[i] = predictor.predict_proba([wave])[0]
            except (RuntimeError, AssertionError) as err:  # the upstream refused this clip
                print(f"skipped {paths[i]}: {err}", file=sys.stderr)
        notes: Dict[int, str] = {}
    else:
        from baseline_svm.model import group_notes

        rows, notes = group_notes([str(p) for p in paths], [str(g) for g in groups], list(waves),
                                  predictor.normalisation)
        for group in dict.fromkeys(str(groups[i]) for i in rows):  # one group at a time: a failure stays in it
            members = [i for i in rows if str(groups[i]) == group]
            try:
                proba[members] = predictor.predict_proba_grouped([waves[i] for i in members], [group] * len(members))
            except (RuntimeError, AssertionError) as err:  # the upstream refused a clip of this group
                print(f"skipped the {len(members)} file(s) of speaker {group!r} ({paths[members[0]]}, ...): {err}",
                      file=sys.stderr)
    for i in range(len(paths)):
        if not np.isnan(proba[i]).any():
            labels[i] = LABELS[int(np.argmax(proba[i]))]
    return labels, proba, notes


def predict(model: Path, paths: Sequence[Path], device: str = "cpu", groups: Optional[Sequence[str]] = None,
            trust_pickle: bool = False, max_seconds: float = DEFAULT_MAX_SECONDS) -> List[dict]:
    """One row per file: path, (speaker,) label (None if not predicted), probabilities (, warning).

    Files longer than ``max_seconds`` are named on stderr and not read; notes on small speaker
    groups are printed as ``WARNING`` lines and kept in the row's ``warning`` field.
    """
    if not Path(model).is_file():
        raise FileNotFoundError(f"{model}: model file not found")
    long = {i: why for i, p in enumerate(paths) if (why := too_long(p, max_seconds)) is not None}
    for why in long.values():
        print(f"skipped {why}", file=sys.stderr)
    keep = [i for i in range(len(paths)) if i not in long]
    kept_paths = [paths[i] for i in keep]
    kept_groups = None if groups is None else [groups[i] for i in keep]
    if Path(model).suffix.lower() in SVM_SUFFIXES:
        found, found_proba, found_notes = predict_svm(model, kept_paths, kept_groups, trust_pickle)
    else:
        found, found_proba, found_notes = predict_dnn(model, kept_paths, device, kept_groups)
    labels: List[Optional[str]] = [None] * len(paths)
    proba = np.full((len(paths), len(LABELS)), np.nan)
    notes: Dict[int, str] = {}
    for row, i in enumerate(keep):
        labels[i], proba[i] = found[row], found_proba[row]
        if row in found_notes:
            notes[i] = found_notes[row]
            if found[row] is None:
                print(f"skipped {notes[i]}", file=sys.stderr)
    for warning in dict.fromkeys(notes[i] for i in notes if labels[i] is not None):  # once per group
        print(f"WARNING: {warning}", file=sys.stderr)
    return output_rows(paths, groups, labels, proba, notes)


def output_rows(paths: Sequence[Path], groups: Optional[Sequence[str]], labels: Sequence[Optional[str]],
                proba: np.ndarray, notes: Dict[int, str]) -> List[dict]:
    """path, speaker (when grouped), label, probabilities rounded to 4 places, warning (when grouped)."""
    rows = []
    for i, path in enumerate(paths):
        row = {"path": str(path), **({} if groups is None else {"speaker": str(groups[i])}), "label": labels[i],
               **{c: (None if np.isnan(v) else round(float(v), 4)) for c, v in zip(LABELS, proba[i])}}
        if groups is not None:
            row["warning"] = notes.get(i) if labels[i] is not None else None
        rows.append(row)
    return rows


def render(rows: List[dict], fmt: str) -> str:
    """Rows as an aligned table, CSV or JSON."""
    if fmt == "json":
        return json.dumps(rows, indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["path", "label", *LABELS],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue().rstrip("\n")
    width = max(len(r["path"]) for r in rows)
    grouped = "speaker" in rows[0]
    speaker_width = max([7] + [len(r["speaker"]) for r in rows]) if grouped else 0
    head = f"{'speaker':<{speaker_width}}  " if grouped else ""
    lines = [f"{'file':<{width}}  {head}label  " + "  ".join(f"{c:>5}" for c in LABELS)]
    for r in rows:
        probs = "  ".join("    -" if r[c] is None else f"{r[c]:5.2f}" for c in LABELS)
        speaker = f"{r['speaker']:<{speaker_width}}  " if grouped else ""
        label = "ERROR" if r["label"] is None else r["label"] + ("!" if r.get("warning") else "")
        lines.append(f"{r['path']:<{width}}  {speaker}{label:<5}  {probs}")
    if any(r.get("warning") for r in rows):
        lines.append("! too few files of this speaker for meaningful normalisation statistics (see the warnings)")
    return "\n".join(lines)


def positive_seconds(text: str) -> float:
    """An argparse type: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="s3prl-crosscorpus predict",
        description="Emotion label and class probabilities for new audio from a trained model: an SVM "
                    "fold<k>.model.skops (written by baseline-svm run) or a DNN dev-best.ckpt (written by "
                    "run-downstream or train-cached). Audio of any sample rate and channel count is read as 16 kHz "
                    "mono by the same code as training; files over --max-seconds are not read. A speaker-norm or "
                    "corpus-norm model needs to know which files share a speaker (corpus): --speaker-of, "
                    "--speaker-per-folder or --same-speaker; each group is normalised with its own files only, "
                    f"at least {MIN_GROUP_UTTERANCES} per group for meaningful statistics.")
    parser.add_argument("--model", type=Path, required=True,
                        help="SVM fold<k>.model.skops (an old pickled .joblib only with --trust-pickle) or DNN "
                             "dev-best.ckpt")
    parser.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR", help="audio files, or folders searched "
                        f"recursively for {', '.join(AUDIO_SUFFIXES)}")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table",
                        help="output format (default %(default)s)")
    parser.add_argument("--output", "-o", type=Path, help="write here instead of standard output")
    parser.add_argument("--device", default="cpu", help="torch device for DNN checkpoints (default %(default)s)")
    parser.add_argument("--trust-pickle", action="store_true",
                        help="load an old pickled SVM model (.joblib): pickle files can run code when loaded, so "
                             "only for a file you made; `baseline-svm resave-model` converts it to .skops")
    parser.add_argument("--max-seconds", type=positive_seconds, default=DEFAULT_MAX_SECONDS, metavar="S",
                        help="files longer than this (from their header) are not read and get no prediction; "
                             "emotion is labelled per utterance (default %(default)g)")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--speaker-of", metavar="REGEX|CSV",
                     help="who the speaker (for a corpus-norm model: the corpus) of each file is: a regular "
                          "expression whose one group, searched in the path, is the speaker (e.g. "
                          "'(Actor_[0-9]+)/'), or a CSV file with columns path,speaker")
    who.add_argument("--speaker-per-folder", action="store_true",
                     help="the files of each folder are one speaker (recorded as the folder's path)")
    who.add_argument("--same-speaker", action="store_true", help="all files of this call are one speaker")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        paths = expand_inputs(args.inputs)
        groups = speaker_groups(paths, args.speaker_of, args.speaker_per_folder, args.same_speaker)
        rows = predict(args.model, paths, args.device, groups, args.trust_pickle, args.max_seconds)
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
