"""``s3prl-crosscorpus leaderboard RESULTS_DIR``: the paper-style table from result files (``--stats``: which
differences mean something)."""
import argparse
import sys
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

from ..core.io_utils import atomic_open
from ..core.manifest import ManifestError, manifest_fold_sha256
from ..results.cells import Cell, LeaderboardError, installed_fold_warning, load_cells
from ..results.leaderboard import METRICS, render, summary
from ..results.schema import ResultError
from ..results.significance import table_statistics
from ..results.speakers import documented_differences, manifest_speakers
from ..results.stats import DEFAULT_RESAMPLES, DEFAULT_SEED, StatsConfig, StatsError


def load_cells_or_report(results_dir: Path, data_dir: Optional[Path] = None) -> Optional[Tuple[List[Cell], str]]:
    """``load_cells`` for a command: errors and the fold-file warning go to stderr; None on error. The fold
    table of ``data_dir``'s manifest (corpora beyond the paper's) counts as installed."""
    try:
        cells, sha = load_cells(results_dir)
    except (LeaderboardError, ResultError) as err:
        print(f"error: {err}", file=sys.stderr)
        return None
    warning = installed_fold_warning(sha, manifest_fold_sha256(data_dir) if data_dir else None)
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


def results_parser(command: str, description: str,
                   results_help: str = "folder of result files") -> argparse.ArgumentParser:
    """The parser of a sub-command that reads a results folder: its name, description and RESULTS_DIR."""
    parser = argparse.ArgumentParser(prog=f"s3prl-crosscorpus {command}", description=description)
    parser.add_argument("results_dir", type=Path, help=results_help)
    return parser


def add_stats_options(parser: argparse.ArgumentParser) -> None:
    """--data, --resamples, --seed: shared by every command that computes the speaker-level statistics."""
    parser.add_argument("--data", type=Path, help="DATA_DIR of `prepare`: its manifest names the speaker of "
                                                  "predictions that do not record one (else the ids' corpus naming)")
    parser.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES,
                        help=f"bootstrap resamples and random speaker swaps (default {DEFAULT_RESAMPLES})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"seed of the resampling; same seed, same numbers (default {DEFAULT_SEED})")


def stats_setup(args: argparse.Namespace) -> Optional[Tuple[StatsConfig, Optional[Dict[str, str]]]]:
    """(config, speaker map of --data) from the options; None after reporting a bad option or manifest."""
    try:
        config = StatsConfig(resamples=args.resamples, seed=args.seed)
        return config, (manifest_speakers(args.data) if args.data else None)
    except (StatsError, ManifestError) as err:
        print(f"error: {err}", file=sys.stderr)
        return None


def warn_unavailable(statistics: Mapping) -> None:
    """Name every cell and comparison without figures on stderr (the markdown notes repeat them)."""
    entries = statistics["cells"] + statistics["comparisons"]
    for reason in dict.fromkeys(e["reason"] for e in entries if not e["available"]):
        print(f"warning: no statistics: {reason}", file=sys.stderr)


def parser() -> argparse.ArgumentParser:
    parser = results_parser("leaderboard", "Paper-style table (rows = systems, columns = evaluation corpus x "
                                           "condition) from RESULTS_DIR/<system>/<condition>/<corpus>/fold<k>.json.")
    parser.add_argument("--format", choices=("md", "csv", "json"), default="md",
                        help="md: the paper's layout; csv: one row per cell; json: every metric and fold")
    parser.add_argument("--metric", choices=METRICS, default="uar", help="metric of the md and csv tables")
    parser.add_argument("-o", "--output", type=Path, help="write here (atomically) instead of stdout")
    parser.add_argument("--stats", action="store_true",
                        help="add the pooled UAR with its 95%% speaker-bootstrap interval and paired tests of "
                             "extended and loco vs matched (Holm-corrected)")
    add_stats_options(parser)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    options = parser()
    args = options.parse_args(argv)
    if args.stats and args.metric != "uar":
        options.error("--stats tests UAR; use it with --metric uar")
    setup = stats_setup(args) if args.stats else (None, None)
    loaded = load_cells_or_report(args.results_dir, args.data)
    if loaded is None or setup is None:
        return 2  # bad input, named on stderr
    cells, sha = loaded
    statistics = None
    if args.stats:
        statistics = table_statistics(cells, *setup, speakers_name="manifest")
        warn_unavailable(statistics)
    differs = documented_differences(args.data) if args.data else None
    write_text(render(summary(cells, sha, statistics, differs), args.format, args.metric), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
