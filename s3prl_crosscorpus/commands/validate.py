"""``s3prl-crosscorpus validate BUNDLE.zip``: check a submission bundle; exit 0 when it is accepted."""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

from ..core.manifest import ManifestError
from ..submission.validate import provenance_lines, validate_bundle


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s3prl-crosscorpus validate",
                                     description="Check a submission bundle: complete, consistent, untampered; "
                                                 "metrics are recomputed from the predictions.")
    parser.add_argument("bundle", type=Path, help="the zip made by `submit`")
    parser.add_argument("--data", type=Path, help="DATA_DIR of `prepare`: also check each fold predicts exactly "
                                                  "the shared folds' test utterances")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    try:
        found = validate_bundle(args.bundle, args.data)
    except ManifestError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for warning in found.warnings:
        print(warning, file=sys.stderr)
    for problem in found.problems:
        print(f"problem: {problem}")
    for line in provenance_lines(found.bundle):
        print(f"provenance: {line}")
    print(f"{args.bundle}: {found.describe()}")
    return 0 if found.ok else 1


if __name__ == "__main__":
    sys.exit(main())
