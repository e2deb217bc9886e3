"""``prepare``: read the corpora into one manifest (``DATA_DIR/manifest.jsonl``) and load it back."""
import json
import logging
import os
from collections import Counter
from dataclasses import fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Set

from .progress import Progress as tqdm  # plain lines when not a terminal

from .. import __version__
from .corpora import READERS, REGISTRY, CorpusError, CorpusRead, Utterance
from .corpora.common import OPTIONAL_FIELD
from .corpora.registry import partitioned_corpora
from .corpora.documented import audio_differences
from .folds import FOLD_FILE, fold_file_sha256, manifest_folds
from .io_utils import atomic_open, read_json, sha256_file, write_json, write_jsonl
from .labels import CORPORA, LABELS, corpus_order, corpus_rank
from .speaker_folds import FOLD_FILE_V2_NAME, document_bytes, split_order

MANIFEST = "manifest.jsonl"
META = "manifest.meta.json"
MANIFEST_FIELDS = tuple(f.name for f in fields(Utterance))
#: The fields every manifest row holds (``partition`` is written only when set).
REQUIRED_FIELDS = tuple(f for f in MANIFEST_FIELDS if f != OPTIONAL_FIELD)
#: Every corpus a manifest may hold: the paper's three (labels.CORPORA), then the registry's.
KNOWN_CORPORA = CORPORA + tuple(name for name in REGISTRY if name not in CORPORA)

logger = logging.getLogger(__name__)
#: Meta files this process has warned about being absent (warned once each).
_MISSING_META_WARNED: Set[str] = set()


class ManifestError(RuntimeError):
    """A manifest that is missing, malformed, or made with another fold file."""


def content_duplicates(utts: Sequence[Utterance], progress: bool = True) -> List[List[str]]:
    """Groups of utterance ids whose files hold the same bytes (the same audio under several names)."""
    by_digest: Dict[str, List[str]] = {}
    for utt in tqdm(utts, desc="hashing audio for duplicates", unit="file", disable=not progress, leave=False):
        by_digest.setdefault(sha256_file(utt.path), []).append(utt.id)
    return [ids for ids in by_digest.values() if len(ids) > 1]


def check_unique_ids(utts: Sequence[Utterance], where: str) -> None:
    """Refuse a list of utterances in which an id occurs twice (it would be trained and scored twice)."""
    counts = Counter(u.id for u in utts)
    twice = sorted(i for i, n in counts.items() if n > 1)
    if twice:
        raise ManifestError(f"{where}: utterance id(s) listed more than once: {', '.join(twice[:5])}"
                            + (f" and {len(twice) - 5} more" if len(twice) > 5 else ""))


def check_official(official: Sequence[str], roots: Mapping[str, Path]) -> None:
    """Refuse an --official-partition name that is no registry corpus with a partition, or is not prepared."""
    offered = partitioned_corpora()
    for name in official:
        if name not in offered:
            what = f"{REGISTRY[name].display} has no official partition" if name in REGISTRY else \
                f"{name!r} is not a registry corpus"
            raise CorpusError(f"--official-partition {name}: {what} (corpora with one: {', '.join(offered)})")
        if name not in roots:
            raise CorpusError(f"--official-partition {name}: give its root too (--{name} DIR)")


def with_partition(read: CorpusRead, root: Path) -> CorpusRead:
    """``read`` with each utterance's official split (the registry's ``partitions``; "" for a row without one)."""
    splits = REGISTRY[read.corpus].partitions(Path(root))
    read.utterances = [replace(u, partition=splits.get(u.id, "")) for u in read.utterances]
    return read


def prepare(roots: Dict[str, Path], out: Path, progress: bool = True,
            reads: Sequence[CorpusRead] = (), official: Sequence[str] = ()) -> List[CorpusRead]:
    """Read each corpus root and write ``out/manifest.jsonl`` and its metadata atomically.

    The metadata records the manifest's SHA-256, so a manifest and a meta file from different runs
    (a failure between the two writes) are refused on load. Files holding identical audio under
    different names are kept and recorded (``content_duplicates``). A corpus without a single usable
    utterance is an error (nothing is written). ``reads``: corpora already read (CSV, audformat). With
    corpora beyond the paper's three, their folds go to ``out/folds_v2.json`` (:mod:`.speaker_folds`).
    ``official``: registry corpora of ``roots`` whose official partition replaces speaker folds (each row
    records its split in ``partition``).
    """
    unknown = set(roots) - set(READERS)
    if unknown:
        raise CorpusError(f"unknown corpus {sorted(unknown)}; choose from {', '.join(corpus_order(READERS))}")
    twice = sorted(set(roots) & {read.corpus for read in reads})
    if twice:
        raise CorpusError(f"corpus {twice[0]} is given twice; give each corpus name once")
    check_official(official, roots)
    reads = sorted([READERS[corpus](Path(root)) for corpus, root in roots.items()] + list(reads),
                   key=lambda read: corpus_rank(read.corpus))
    reads = [with_partition(read, roots[read.corpus]) if read.corpus in official else read for read in reads]
    for read in reads:
        if not read.utterances:
            first = read.problems[0] if read.problems else None
            raise CorpusError(f"{read.corpus} root {read.root}: no usable utterance "
                              f"({len(read.problems)} problem file(s)"
                              + (f", e.g. {first.path}: {first.reason}" if first else "") + ")")
    utts = [u for read in reads for u in read.utterances]
    check_unique_ids(utts, f"corpora {', '.join(roots)}")
    duplicates = content_duplicates(utts, progress)
    out = Path(out)
    table = manifest_folds(utts)
    if table.sha256 != fold_file_sha256():
        with atomic_open(out / FOLD_FILE_V2_NAME, "wb") as handle:
            handle.write(document_bytes(table.document))
    write_jsonl(out / MANIFEST, (u.to_dict() for u in utts))
    write_json(out / META, {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "package_version": __version__,
        "fold_file": FOLD_FILE.name,
        "fold_file_sha256": fold_file_sha256(),
        "fold_table": {"file": table.name, "sha256": table.sha256, "schemes": table.schemes,
                       "test_only": table.test_only},
        "manifest_sha256": sha256_file(out / MANIFEST),
        "roots": {read.corpus: read.root for read in reads},
        "counts": {read.corpus: len(read.utterances) for read in reads},
        "content_duplicates": duplicates,
        "left_out": {read.corpus: [vars(item) for item in read.left_out] for read in reads},
        # A copy unlike the published corpus: the leaderboard marks its paper comparison.
        "documented_differences": {read.corpus: found for read in reads
                                   if (found := audio_differences(read.corpus, read.utterances))},
    })
    for read in reads:
        read.content_duplicates = [ids for ids in duplicates if any(i.startswith(read.corpus + "_") for i in ids)]
    return reads


def recorded_fold_table(data_dir: Path) -> dict:
    """The fold table entry ``prepare`` recorded in DATA_DIR's meta file (empty when it records none); read
    there, not recomputed: a 150k-row manifest takes seconds to load."""
    meta_path = manifest_path(data_dir).parent / META
    try:
        return dict(read_json(meta_path).get("fold_table") or {})
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


def manifest_fold_sha256(data_dir: Path) -> Optional[str]:
    """The fold-table hash that ``prepare`` recorded for a DATA_DIR (None when it records none)."""
    return recorded_fold_table(data_dir).get("sha256")


def manifest_test_only(data_dir: Path) -> Dict[str, str]:
    """The test-only corpora (too few speakers for folds) and why, as ``prepare`` recorded them (none without a
    meta file: the runs then fail with their own message)."""
    return dict(recorded_fold_table(data_dir).get("test_only") or {})


def manifest_path(data_dir: Path) -> Path:
    """``DATA_DIR/manifest.jsonl``, or the file itself when a manifest file is given."""
    data_dir = Path(data_dir)
    return data_dir / MANIFEST if data_dir.is_dir() or not data_dir.suffix else data_dir


def manifest_digest(data_dir: Path) -> Optional[str]:
    """sha256 of DATA_DIR's manifest.jsonl (None when there is none). Hashed each time, never cached by mtime:
    a manifest re-made within one mtime tick, or copied with its old mtime, must still differ (a few ms)."""
    try:
        return sha256_file(manifest_path(data_dir))
    except OSError:
        return None


def check_meta(path: Path, check_folds: bool) -> dict:
    """Refuse a manifest made with another fold file, or one that its meta file does not describe; the meta."""
    meta_path = path.parent / META
    if not meta_path.exists():
        warn_missing_meta(meta_path)
        return {}
    try:
        meta = read_json(meta_path)
    except ValueError as err:
        raise ManifestError(f"{meta_path}: not valid JSON ({err}); re-run `prepare`") from err
    if not isinstance(meta, dict):
        raise ManifestError(f"{meta_path}: not a JSON object; re-run `prepare`")
    if check_folds and meta.get("fold_file_sha256") != fold_file_sha256():
        raise ManifestError(f"{path}: made with fold file sha256 {meta.get('fold_file_sha256')}, but the installed "
                            f"fold file {FOLD_FILE} has {fold_file_sha256()}; re-run `prepare`")
    recorded = meta.get("manifest_sha256")
    if recorded and recorded != sha256_file(path):
        raise ManifestError(f"{path} does not match {meta_path} (the two come from different `prepare` runs, "
                            "or one was edited); re-run `prepare`")
    return meta


def known_corpora(meta: dict) -> Set[str]:
    """Corpora a manifest may hold: the paper's, the registered readers', and those its `prepare` read
    (CSV, audformat: recorded in the meta file)."""
    return set(CORPORA) | set(READERS) | set(meta.get("counts") or {})


def warn_missing_meta(meta_path: Path) -> None:
    """Log once per process and file that a manifest without its meta file was read unchecked."""
    key = str(Path(meta_path).resolve())
    if key in _MISSING_META_WARNED:
        return
    _MISSING_META_WARNED.add(key)
    logger.warning(f"warning: {meta_path} is missing: the fold-file and manifest checks were skipped "
                   "(a manifest written by `prepare` has one; re-run `prepare` to check them)")


def row_problem(row: object, known: Optional[Set[str]] = None) -> Optional[str]:
    """What is wrong with one manifest row, or None; ``known``: the corpora it may name (default: the paper's
    and the registered readers')."""
    if not isinstance(row, dict):
        return "not a JSON object"
    missing = [f for f in REQUIRED_FIELDS if f not in row]
    if missing:
        return f"missing field(s) {', '.join(missing)}"
    extra = sorted(set(row) - set(MANIFEST_FIELDS))
    if extra:
        return f"unknown field(s) {', '.join(extra)}"
    known = known_corpora({}) if known is None else known
    if row["corpus"] not in known:
        return (f"unknown corpus {row['corpus']!r} (known: {', '.join(corpus_order(known))}; others come from "
                "`prepare --csv/--audformat`, recorded in manifest.meta.json)")
    if row["label"] not in LABELS:
        return f"unknown label {row['label']!r} (known: {', '.join(LABELS)})"
    for key in ("sample_rate", "channels", "num_frames"):
        if not isinstance(row[key], int) or isinstance(row[key], bool) or row[key] <= 0:
            return f"{key} must be a positive integer, got {row[key]!r}"
    if not isinstance(row["path"], str) or not row["path"]:
        return f"path must be a file name, got {row['path']!r}"
    if not isinstance(row.get(OPTIONAL_FIELD, ""), str):
        return f"{OPTIONAL_FIELD} must be the corpus' official split name, got {row[OPTIONAL_FIELD]!r}"
    return None


def load_manifest(data_dir: Path, check_folds: bool = True, check_paths: bool = True) -> List[Utterance]:
    """Read ``data_dir/manifest.jsonl``, checking every row (fields, corpus, label, audio file present),
    unique ids, the fold file and the meta file; every error names the file and line."""
    path = manifest_path(data_dir)
    if not path.exists():
        raise ManifestError(f"{path}: manifest not found; run `s3prl-crosscorpus prepare ... --out {path.parent}`")
    known = known_corpora(check_meta(path, check_folds))
    utts: List[Utterance] = []
    first_line: Dict[str, int] = {}
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as err:
                raise ManifestError(f"{path}:{number}: not UTF-8 text ({err.reason} at byte {err.start})") from err
            except json.JSONDecodeError as err:
                raise ManifestError(f"{path}:{number}: not a JSON line ({err.msg})") from err
            problem = row_problem(row, known)
            if problem:
                raise ManifestError(f"{path}:{number}: {problem}")
            if row["id"] in first_line:
                raise ManifestError(f"{path}:{number}: utterance id {row['id']!r} already on line "
                                    f"{first_line[row['id']]}; re-run `prepare`")
            if check_paths and not os.path.isfile(row["path"]):
                raise ManifestError(f"{path}:{number}: audio file {row['path']} of {row['id']} does not exist "
                                    "(corpus moved? re-run `prepare` with the new roots)")
            first_line[row["id"]] = number
            utts.append(Utterance(**row))
    if not utts:
        raise ManifestError(f"{path}: manifest holds no utterances")
    return utts


def summary(reads: Sequence[CorpusRead]) -> str:
    """Per corpus: counts per class, speakers, hours, and what was left out and why."""
    lines = []
    for read in reads:
        counts = Counter(u.label for u in read.utterances)
        hours = sum(u.seconds for u in read.utterances) / 3600
        lines.append(f"{read.corpus:8s} {len(read.utterances):5d} utterances  "
                     + " ".join(f"{lab} {counts[lab]}" for lab in LABELS)
                     + f"  | {len({u.speaker for u in read.utterances})} speakers, {hours:.2f} h")
        splits = Counter(u.partition for u in read.utterances)
        if any(u.partition for u in read.utterances):
            roles = (REGISTRY[read.corpus].partition_roles or {}) if read.corpus in REGISTRY else {}
            lines.append("         official partition, utterances per split: "
                         + ", ".join(f"{name or '(none)'} {splits[name]}" + f" ({roles.get(name) or 'in no set'})"
                                     for name in split_order(splits, roles)))
        reasons = Counter(item.reason.split(" (")[0] if not item.problem else "PROBLEM"
                          for item in read.left_out)
        if reasons:
            lines.append(f"         left out {len(read.left_out)}: "
                         + ", ".join(f"{reason} x{n}" for reason, n in sorted(reasons.items())))
        for item in read.problems:
            lines.append(f"         PROBLEM {item.path}: {item.reason}")
        for difference in audio_differences(read.corpus, read.utterances):
            lines.append(f"         UNLIKE THE PUBLISHED CORPUS: {difference}; its paper comparison is marked")
        for ids in read.content_duplicates:
            lines.append(f"         DUPLICATE AUDIO (kept, check they do not sit in train and test): {' = '.join(ids)}")
    return "\n".join(lines)

