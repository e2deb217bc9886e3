"""``s3prl-crosscorpus folds``: print the shared folds (test speakers, class counts) over a manifest."""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

from ..core.folds import DEFAULT_SEED, FOLD_FILE, FoldError, describe, manifest_folds
from ..core.io_utils import WriteError, atomic_open
from ..core.manifest import ManifestError, load_manifest
from ..core.speaker_folds import document_bytes


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="s3prl-crosscorpus folds",
                                     description="Print the shared folds over a prepared manifest.")
    parser.add_argument("--data", required=True, help="folder holding manifest.jsonl (from `prepare`)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the dev draw")
    parser.add_argument("--write", type=Path, metavar="FILE",
                        help="also write the manifest's fold file (folds_v1.json's content for the paper's corpora "
                             "only; else version 2 with every corpus) to FILE; its sha256 is what results record")
    args = parser.parse_args(argv)
    try:
        utts = load_manifest(args.data)
        print(describe(utts, seed=args.seed))
        if args.write:
            table = manifest_folds(utts)
            with atomic_open(args.write, "wb") as handle:
                handle.write(document_bytes(table.document) if table.name != "folds_v1.json"
                             else FOLD_FILE.read_bytes())
            print(f"wrote {args.write} (sha256 {table.sha256})")
    except (ManifestError, FoldError, WriteError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
