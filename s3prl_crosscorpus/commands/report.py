"""``s3prl-crosscorpus report RESULTS --out report.html``: the whole study as one self-contained HTML page."""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

from ..core.manifest import ManifestError, manifest_fold_sha256
from ..results.stats import StatsConfig
from .leaderboard import add_stats_options, installed_fold_warning, results_parser
from .main import refuse


def parser() -> argparse.ArgumentParser:
    parser = results_parser(
        "report", "One self-contained HTML page (opens offline) of a results folder: settings and data, the "
                  "leaderboard with speaker-level intervals, plain-language verdicts, breakdowns, warnings, "
                  "provenance.", "folder of result files (<system>/<condition>/<corpus>/...)")
    parser.add_argument("--out", type=Path, default=Path("report.html"), help="the HTML file (default report.html)")
    parser.add_argument("--probe", type=Path, help="probe.json of `probe`, shown when given")
    add_stats_options(parser)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    from ..report.context import build_context
    from ..report.render import render_html, write_html

    try:
        config = StatsConfig(resamples=args.resamples, seed=args.seed)
        context = build_context(args.results_dir, args.data, args.probe, config,
                                argv=["s3prl-crosscorpus", "report", *(sys.argv[1:] if argv is None else argv)])
    except (ValueError, ManifestError) as err:  # Leaderboard/Result/Stats/ProbeError: each names its file
        return refuse(err)
    warning = installed_fold_warning(context["table"]["fold_file_sha256"],
                                     manifest_fold_sha256(args.data) if args.data else None)
    if warning:
        print(warning, file=sys.stderr)
    write_html(args.out, render_html(context))
    shown = sum(v["entry"]["available"] for v in context["verdicts"])
    print(f"wrote {args.out}: {len(context['table']['cells'])} cells, {shown} verdict(s), "
          f"{len(context['warnings'])} warning(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
