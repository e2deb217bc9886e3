"""``s3prl-crosscorpus folds``: print the shared folds (test speakers, class counts) over a manifest."""
import argparse
import sys
from typing import List, Optional

from ..core.folds import DEFAULT_SEED, FoldError, describe
from ..core.manifest import ManifestError, load_manifest


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="s3prl-crosscorpus folds",
                                     description="Print the shared folds over a prepared manifest.")
    parser.add_argument("--data", required=True, help="folder holding manifest.jsonl (from `prepare`)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the dev draw")
    args = parser.parse_args(argv)
    try:
        print(describe(load_manifest(args.data), seed=args.seed))
    except (ManifestError, FoldError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
