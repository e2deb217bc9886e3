"""``s3prl-crosscorpus compare RESULTS_DIR A B``: does B beat A? Paired speaker-level test on the same utterances."""
import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

from ..results.significance import render_comparison, requested_pairs, statistics
from ..results.stats import StatsError
from .leaderboard import (add_stats_options, load_cells_or_report, results_parser, stats_setup,
                          warn_unavailable, write_text)
from .main import refuse


def parser() -> argparse.ArgumentParser:
    parser = results_parser(
        "compare", "Compare two systems (or two conditions) on the same test utterances: difference of pooled UAR "
                   "(B - A) with a paired speaker-bootstrap interval and a paired speaker-level randomisation "
                   "test, Holm-corrected across the comparisons printed.")
    parser.add_argument("a", metavar="A", help="SYSTEM or SYSTEM/CONDITION (e.g. ComParE-SVM/matched)")
    parser.add_argument("b", metavar="B", help="SYSTEM or SYSTEM/CONDITION; without a condition, a side takes the "
                                               "other side's, or every condition both have")
    parser.add_argument("--corpus", metavar="CORPUS", help="only this test corpus (default: every corpus both have)")
    parser.add_argument("--format", choices=("md", "json"), default="md", help="md table or every figure as JSON")
    parser.add_argument("-o", "--output", type=Path, help="write here (atomically) instead of stdout")
    add_stats_options(parser)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    setup = stats_setup(args)
    loaded = load_cells_or_report(args.results_dir)
    if loaded is None or setup is None:
        return 2  # bad input, named on stderr
    cells, _ = loaded
    try:
        pairs = requested_pairs(cells, args.a, args.b, args.corpus)
    except StatsError as err:
        return refuse(err)
    involved = list({id(c): c for pair in pairs for c in pair}.values())
    found = statistics(involved, pairs, *setup, speakers_name="manifest")
    warn_unavailable(found)
    write_text(render_comparison(found) if args.format == "md" else json.dumps(found, indent=2) + "\n", args.output)
    return 0 if any(c["available"] for c in found["comparisons"]) else 1


if __name__ == "__main__":
    sys.exit(main())
