"""``s3prl-crosscorpus leaderboard RESULTS_DIR``: the paper-style table from result files."""
import argparse
import sys
from pathlib import Path
from typing import List, Optional, Tuple

from ..core.io_utils import atomic_open
from ..results.cells import Cell, LeaderboardError, installed_fold_warning, load_cells
from ..results.leaderboard import METRICS, render, summary
from ..results.schema import ResultError


def load_cells_or_report(results_dir: Path) -> Optional[Tuple[List[Cell], str]]:
    """``load_cells`` for a command: errors and the fold-file warning go to stderr; None on error."""
    try:
        cells, sha = load_cells(results_dir)
    except (LeaderboardError, ResultError) as err:
        print(f"error: {err}", file=sys.stderr)
        return None
    warning = installed_fold_warning(sha)
    if warning:
        print(warning, file=sys.stderr)
    return cells, sha


def write_text(text: str, output: Optional[Path]) -> None:
    """To ``output`` atomically (and say so on stderr), else to stdout."""
    if output:
        with atomic_open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        print(f"wrote {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="s3prl-crosscorpus leaderboard",
        description="Paper-style table (rows = systems, columns = evaluation corpus x condition) "
                    "from RESULTS_DIR/<system>/<condition>/<corpus>/fold<k>.json.")
    parser.add_argument("results_dir", type=Path, help="folder of result files")
    parser.add_argument("--format", choices=("md", "csv", "json"), default="md",
                        help="md: the paper's layout; csv: one row per cell; json: every metric and fold")
    parser.add_argument("--metric", choices=METRICS, default="uar", help="metric of the md and csv tables")
    parser.add_argument("-o", "--output", type=Path, help="write here (atomically) instead of stdout")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    loaded = load_cells_or_report(args.results_dir)
    if loaded is None:
        return 1
    cells, sha = loaded
    write_text(render(summary(cells, sha), args.format, args.metric), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
