"""``s3prl-crosscorpus prepare``: read the corpus roots into ``DATA_DIR/manifest.jsonl``."""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

from ..core.corpora import REGISTRY, CorpusError
from ..core.manifest import KNOWN_CORPORA, MANIFEST, ManifestError, prepare, summary


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="s3prl-crosscorpus prepare",
                                     description="Read the corpora into DATA_DIR/manifest.jsonl.")
    for corpus in KNOWN_CORPORA:  # the paper's three, then the registry's (docs/corpus-registry.md)
        info = REGISTRY[corpus]
        parser.add_argument(f"--{corpus}", type=Path, metavar="DIR",
                            help=f"{info.display} root as distributed: {info.layout}")
    parser.add_argument("--out", type=Path, required=True, metavar="DATA_DIR")
    args = parser.parse_args(argv)
    roots = {c: getattr(args, c) for c in KNOWN_CORPORA if getattr(args, c) is not None}
    if not roots:
        parser.error("give at least one corpus root: " + ", ".join(f"--{c}" for c in KNOWN_CORPORA))
    try:
        reads = prepare(roots, args.out)
    except (CorpusError, ManifestError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(summary(reads))
    print(f"wrote {args.out / MANIFEST}")
    return 0
