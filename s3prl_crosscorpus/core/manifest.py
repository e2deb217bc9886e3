"""``prepare``: read the corpora into one manifest (``DATA_DIR/manifest.jsonl``) and load it back."""
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from .. import __version__
from .corpora import READERS, CorpusError, CorpusRead, Utterance
from .folds import FOLD_FILE, fold_file_sha256
from .io_utils import read_json, read_jsonl, write_json, write_jsonl
from .labels import CORPORA, LABELS

MANIFEST = "manifest.jsonl"
META = "manifest.meta.json"


class ManifestError(RuntimeError):
    """A manifest that is missing, malformed, or made with another fold file."""


def prepare(roots: Dict[str, Path], out: Path) -> List[CorpusRead]:
    """Read each corpus root and write ``out/manifest.jsonl`` and its metadata atomically."""
    unknown = set(roots) - set(CORPORA)
    if unknown:
        raise CorpusError(f"unknown corpus {sorted(unknown)}; choose from {CORPORA}")
    reads = [READERS[corpus](Path(roots[corpus])) for corpus in CORPORA if corpus in roots]
    utts = [u for read in reads for u in read.utterances]
    out = Path(out)
    write_jsonl(out / MANIFEST, (u.to_dict() for u in utts))
    write_json(out / META, {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "package_version": __version__,
        "fold_file": FOLD_FILE.name,
        "fold_file_sha256": fold_file_sha256(),
        "roots": {read.corpus: read.root for read in reads},
        "counts": {read.corpus: len(read.utterances) for read in reads},
        "left_out": {read.corpus: [vars(item) for item in read.left_out] for read in reads},
    })
    return reads


def load_manifest(data_dir: Path, check_folds: bool = True) -> List[Utterance]:
    """Read ``data_dir/manifest.jsonl``; refuse it if it was made with another fold file."""
    data_dir = Path(data_dir)
    path = data_dir / MANIFEST if data_dir.is_dir() or not data_dir.suffix else data_dir
    if not path.exists():
        raise ManifestError(f"{path}: manifest not found; run `s3prl-crosscorpus prepare ... --out {path.parent}`")
    meta_path = path.parent / META
    if check_folds and meta_path.exists():
        made_with = read_json(meta_path).get("fold_file_sha256")
        if made_with != fold_file_sha256():
            raise ManifestError(f"{path}: made with fold file sha256 {made_with}, but the installed fold file "
                                f"{FOLD_FILE} has {fold_file_sha256()}; re-run `prepare`")
    try:
        utts = [Utterance(**row) for row in read_jsonl(path)]
    except TypeError as err:
        raise ManifestError(f"{path}: a line does not have the manifest fields ({err})") from err
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
        reasons = Counter(item.reason.split(" (")[0] if not item.problem else "PROBLEM"
                          for item in read.left_out)
        if reasons:
            lines.append(f"         left out {len(read.left_out)}: "
                         + ", ".join(f"{reason} x{n}" for reason, n in sorted(reasons.items())))
        for item in read.problems:
            lines.append(f"         PROBLEM {item.path}: {item.reason}")
    return "\n".join(lines)

