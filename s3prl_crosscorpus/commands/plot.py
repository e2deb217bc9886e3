"""``s3prl-crosscorpus plot RESULTS_DIR``: confusion matrices and the matched-vs-extended chart as PNG files."""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

from ..results.leaderboard import METRICS, summary
from .leaderboard import load_cells_or_report


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s3prl-crosscorpus plot",
                                     description="Confusion matrices (summed over folds) and a chart of "
                                                 "matched vs extended (vs loco) per system and corpus.")
    parser.add_argument("results_dir", type=Path, help="folder of result files")
    parser.add_argument("--out", type=Path, help="folder for the PNG files (default RESULTS_DIR/plots)")
    parser.add_argument("--metric", choices=METRICS, default="uar", help="metric of the comparison chart")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    loaded = load_cells_or_report(args.results_dir)
    if loaded is None:
        return 1
    from ..results.plots import plot_all  # matplotlib only when plotting

    cells, sha = loaded
    paths = plot_all(cells, summary(cells, sha), args.out or args.results_dir / "plots", args.metric)
    print(f"wrote {len(paths)} PNG files to {paths[0].parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
