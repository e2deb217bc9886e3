"""``s3prl-crosscorpus submit RESULTS_DIR -o BUNDLE.zip``: pack results into a submission bundle and validate it."""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

from ..core.io_utils import WriteError, os_error_text
from ..results.cells import LeaderboardError
from ..results.schema import ResultError
from ..submission.bundle import BundleError, submit_bundle
from .leaderboard import add_stats_options, results_parser, stats_setup, warn_unavailable


def parser() -> argparse.ArgumentParser:
    parser = results_parser("submit", "Pack RESULTS_DIR into a submission bundle (zip) with its speaker-level "
                                      "statistics, and validate it.")
    parser.add_argument("-o", "--out", type=Path, required=True, help="the bundle to write, e.g. BUNDLE.zip")
    parser.add_argument("--no-plots", action="store_true", help="leave the PNG plots out")
    parser.add_argument("--study", type=Path, help="the study file the results were made from: recorded in the "
                                                   "bundle, which must hold exactly the cells it asks for")
    add_stats_options(parser)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    setup = stats_setup(args)
    if setup is None:
        return 2
    try:  # a bundle that fails its own validation is a bug, not a submission: it is not left at -o
        meta, found = submit_bundle(args.results_dir, args.out, not args.no_plots, *setup, data_dir=args.data,
                                    study=args.study)
    except (BundleError, LeaderboardError, ResultError, WriteError) as err:  # WriteError: full disk..., named
        print(f"error: {os_error_text(err) if isinstance(err, WriteError) else err}", file=sys.stderr)
        return 2
    for warning in found.warnings:  # the fold-file warning, with --data's fold table counted as installed
        print(warning, file=sys.stderr)
    warn_unavailable(meta["summary"]["statistics"])
    for problem in found.problems:
        print(f"problem: {problem}", file=sys.stderr)
    if not found.ok:
        print(f"error: the bundle failed its own validation and was not written to {args.out}: {found.describe()}",
              file=sys.stderr)
        return 1
    print(f"wrote {args.out} ({len(meta['runs'])} fold results, {len(meta['files'])} files); "
          f"validate: {found.describe()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
