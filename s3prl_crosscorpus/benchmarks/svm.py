"""``python -m s3prl_crosscorpus.benchmarks.svm``: extraction throughput and full-grid wall time on synthetic corpora.

Synthesises the three corpora, prepares a manifest, extracts every feature set with a cold
cache (files per second), then runs the full grid (3 feature sets x 2 conditions x 3 test
corpora x 5 folds) on the warm cache and prints both tables.
"""
import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

from s3prl_crosscorpus.core.folds import FOLDS
from s3prl_crosscorpus.core.io_utils import write_json
from s3prl_crosscorpus.results.leaderboard import load_cells, render_markdown, summary
from s3prl_crosscorpus.core.manifest import load_manifest, prepare
from s3prl_crosscorpus.demo.synth import synthesize

from baseline_svm.features import FEATURE_SETS, cache_folder, default_jobs, extract
from baseline_svm.model import GRIDS
from baseline_svm.run import SYSTEMS, RunConfig, run

CONDITIONS = ("matched", "extended")


def throughput(paths: List[str], cache: Path, n_jobs: int) -> Dict[str, dict]:
    """Cold-cache extraction of every file per feature set, then a warm (cached) pass."""
    rows = {}
    for feature_set in FEATURE_SETS:
        shutil.rmtree(cache_folder(cache, feature_set), ignore_errors=True)
        cold = extract(paths, feature_set, cache_dir=cache, n_jobs=n_jobs)
        warm = extract(paths, feature_set, cache_dir=cache, n_jobs=n_jobs, progress=False)
        rows[feature_set] = {"files": len(paths), "cold_s": cold.seconds, "cold_files_per_s": len(paths) / cold.seconds,
                             "warm_s": warm.seconds, "excluded": len(cold.excluded)}
    return rows


def full_grid(data_dir: Path, out: Path, cache: Path, grid: str, n_jobs: int) -> Dict[str, dict]:
    """Every (feature set, condition) over all test corpora and folds; wall seconds each."""
    utts = load_manifest(data_dir)
    rows = {}
    for feature_set in FEATURE_SETS:
        for condition in CONDITIONS:
            start = time.perf_counter()
            report = run(RunConfig(data_dir=data_dir, out=out, feature_set=feature_set, condition=condition,
                                   test_corpus="all", folds=FOLDS, grid=grid, n_jobs=n_jobs, cache_dir=cache),
                         utts)
            rows[f"{SYSTEMS[feature_set]} {condition}"] = {"results": len(report.written),
                                                           "wall_s": time.perf_counter() - start}
    return rows


def uar_table(out: Path) -> str:
    """The leaderboard of the benchmark's results: mean ± std test UAR over folds, in %."""
    cells, sha = load_cells(out)
    return render_markdown(summary(cells, sha))


def report(extraction: Dict[str, dict], grid_rows: Dict[str, dict], settings: dict) -> str:
    lines = [f"synthetic corpora: per_class={settings['per_class']}, {settings['files']} files; "
             f"{settings['cores']} cores, n_jobs={settings['n_jobs']}, grid={settings['grid']} "
             f"({settings['grid_points']} points)", "",
             f"{'feature set':<14} {'files':>6} {'cold s':>8} {'files/s':>8} {'cached s':>9}"]
    for name, row in extraction.items():
        lines.append(f"{name:<14} {row['files']:>6} {row['cold_s']:8.1f} {row['cold_files_per_s']:8.1f} "
                     f"{row['warm_s']:9.2f}")
    if grid_rows:
        lines += ["", f"{'experiment':<26} {'results':>7} {'wall s':>8}"]
        for name, row in grid_rows.items():
            lines.append(f"{name:<26} {row['results']:>7} {row['wall_s']:8.1f}")
        total = sum(r["wall_s"] for r in grid_rows.values())
        lines.append(f"{'full grid (warm cache)':<26} {sum(r['results'] for r in grid_rows.values()):>7} "
                     f"{total:8.1f}")
        lines.append(f"{'full grid + extraction':<26} {'':>7} "
                     f"{total + sum(r['cold_s'] for r in extraction.values()):8.1f}")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s3prl_crosscorpus.benchmarks.svm", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="work folder to keep (default: a temporary one)")
    parser.add_argument("--per-class", type=int, default=3, help="synthetic utterances per speaker and class (1..4)")
    parser.add_argument("--grid", choices=list(GRIDS), default="libsvm")
    parser.add_argument("--n-jobs", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--skip-grid", action="store_true", help="measure extraction throughput only")
    args = parser.parse_args(argv)
    work = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="svm-benchmark-"))
    n_jobs = args.n_jobs or default_jobs()
    try:
        roots = synthesize(work / "corpora", per_class=args.per_class, seed=0)
        prepare(roots, work / "data")
        paths = [u.path for u in load_manifest(work / "data")]
        cache = work / "cache"
        extraction = throughput(paths, cache, n_jobs)
        results = work / "results"
        shutil.rmtree(results, ignore_errors=True)
        grid_rows = {} if args.skip_grid else full_grid(work / "data", results, cache, args.grid, n_jobs)
        settings = {"per_class": args.per_class, "files": len(paths), "cores": os.cpu_count(), "n_jobs": n_jobs,
                    "grid": args.grid, "grid_points": len(GRIDS[args.grid]["log2_C"]) * len(GRIDS[args.grid]["log2_gamma"])}
        print(report(extraction, grid_rows, settings))
        if grid_rows:
            print("\nsynthetic corpora (the paper's figures show the layout only):\n" + uar_table(results))
        write_json(work / "benchmark.json", {"settings": settings, "extraction": extraction, "grid": grid_rows})
    finally:
        if args.out is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
