"""``s3prl-crosscorpus plot RESULTS_DIR``: confusion matrices and the matched-vs-extended chart as PNG files."""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

from ..results.leaderboard import METRICS, summary
from ..results.significance import table_statistics
from .leaderboard import add_stats_options, load_cells_or_report, results_parser, stats_setup, warn_unavailable


def parser() -> argparse.ArgumentParser:
    parser = results_parser("plot", "Confusion matrices (summed over folds) and a chart of matched vs extended "
                                    "(vs loco) per system and corpus, with the pooled UAR's speaker-bootstrap "
                                    "intervals.")
    parser.add_argument("--out", type=Path, help="folder for the PNG files (default RESULTS_DIR/plots)")
    parser.add_argument("--metric", choices=METRICS, default="uar", help="metric of the comparison chart")
    parser.add_argument("--no-stats", action="store_true", help="leave the speaker-bootstrap intervals out")
    add_stats_options(parser)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    wanted = args.metric == "uar" and not args.no_stats  # the intervals are about UAR
    setup = stats_setup(args) if wanted else (None, None)
    loaded = load_cells_or_report(args.results_dir)
    if loaded is None or setup is None:
        return 2  # bad input, named on stderr
    from ..results.plots import plot_all  # matplotlib only when plotting

    cells, sha = loaded
    statistics = table_statistics(cells, *setup, speakers_name="manifest") if wanted else None
    if statistics:
        warn_unavailable(statistics)
    paths = plot_all(cells, summary(cells, sha, statistics), args.out or args.results_dir / "plots", args.metric)
    print(f"wrote {len(paths)} PNG files to {paths[0].parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
