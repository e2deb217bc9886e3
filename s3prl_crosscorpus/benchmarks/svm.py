"""``python -m s3prl_crosscorpus.benchmarks.svm``: the SVM grid search (kernel vs GridSearchCV), and the pipeline.

``search`` (default, GitHub issue 10): on the same synthetic functionals (random rows with
class structure, shaped like GeMAPS, eGeMAPS and ComParE), seconds of the exact kernel search
and of scikit-learn's ``GridSearchCV`` over the same grid, their ratio, and the projected wall
time of the paper's Table-3 grid (3 feature sets x 3 corpora x 2 conditions x 5 folds) at the
real corpus sizes. Where the ``GridSearchCV`` search would take too long (more than
``--full-sklearn-max`` training rows) a few grid points are timed and the full search projected;
the output says so. ``pipeline``: extraction throughput and full-grid wall time on synthetic corpora.
"""
import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from s3prl_crosscorpus.core.folds import FOLDS
from s3prl_crosscorpus.core.io_utils import write_json
from s3prl_crosscorpus.core.labels import LABELS
from s3prl_crosscorpus.core.manifest import load_manifest, prepare
from s3prl_crosscorpus.core.metrics import uar
from s3prl_crosscorpus.core.names import SVM_SYSTEMS
from s3prl_crosscorpus.demo.synth import synthesize
from s3prl_crosscorpus.results.leaderboard import load_cells, render_markdown, summary

from baseline_svm.features import FEATURE_SETS, cache_folder, default_jobs, extract
from baseline_svm.model import GRIDS, SVMEmotionClassifier, build_pipeline, grid_values
from baseline_svm.run import RunConfig, run

CONDITIONS = ("matched", "extended")
#: (train, dev) rows of one fold's model at the real corpus sizes (80% of a corpus trains, 10% of that is dev).
#: Extended trains one model per fold on the union of the three training partitions.
REAL_SIZES: Dict[str, Tuple[int, int]] = {"emodb": (243, 28), "ravdess": (484, 54), "iemocap": (3982, 443),
                                          "extended": (4709, 525)}
#: The two scales the issue asks about.
SCALES = ("ravdess", "iemocap")


def synthetic_functionals(n: int, dims: int, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """float32 rows shaped like openSMILE functionals of 4 overlapping classes (fixed structure per ``dims``)."""
    fixed = np.random.default_rng(dims)
    means = fixed.standard_normal((4, dims)) * (fixed.random(dims) < 0.2) * 0.25
    mixing = fixed.standard_normal((10, dims)) * 0.4
    scale, offset = fixed.lognormal(0.0, 2.0, dims), fixed.normal(0.0, 100.0, dims)
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 4, n)
    X = means[classes] + rng.standard_normal((n, 10)) @ mixing + rng.standard_normal((n, dims))
    return (X * scale + offset).astype(np.float32), np.array(LABELS)[classes]


def time_point(X, y, X_dev, y_dev, C: float, gamma: float) -> float:
    """Seconds of what GridSearchCV does per point: fit the rbf pipeline on train, score dev UAR."""
    start = time.perf_counter()
    uar(y_dev, build_pipeline(C, gamma).fit(X, y).predict(X_dev))
    return time.perf_counter() - start


def fitted_search(search: str, X, y, X_dev, y_dev, grid: str, n_jobs: int) -> SVMEmotionClassifier:
    return SVMEmotionClassifier(grid=grid, search=search, n_jobs=n_jobs).fit(X, y, X_dev=X_dev, y_dev=y_dev)


def project_sklearn(kernel_point_s: np.ndarray, sampled: Dict[int, float], n_jobs: int) -> float:
    """GridSearchCV seconds from a few timed points: t_sklearn(p) = a + b t_kernel(p), fitted on them, summed."""
    index = sorted(sampled)
    if len(index) > 1 and np.ptp(kernel_point_s[index]) > 0:
        b, a = np.polyfit(kernel_point_s[index], [sampled[i] for i in index], 1)
    else:
        a, b = float(np.mean([sampled[i] for i in index])), 0.0
    return float(np.sum(np.maximum(a + b * kernel_point_s, min(sampled.values()) * 0.5))) / n_jobs


def measure(feature_set: str, size: Tuple[int, int], grid: str, n_jobs: int, full_sklearn: bool,
            points: int) -> dict:
    """Both searches on the same rows; GridSearchCV measured in full, or projected from ``points`` timed points.

    The timed points sit at quantiles of the kernel search's per-point times (up to the slowest point).
    """
    dims, (n_train, n_dev) = FEATURE_SETS[feature_set], size
    X, y = synthetic_functionals(n_train, dims, seed=0)
    X_dev, y_dev = synthetic_functionals(n_dev, dims, seed=1)
    kernel = fitted_search("kernel", X, y, X_dev, y_dev, grid, n_jobs)
    results = kernel.cv_results_
    per_point = results["mean_fit_time"] + results["mean_score_time"]
    ranked = np.argsort(per_point, kind="stable")
    picks = sorted({int(ranked[round(q * (len(ranked) - 1))]) for q in np.linspace(0.1, 1.0, points)})
    sampled = {i: time_point(X, y, X_dev, y_dev, **results["params"][i]) for i in picks}
    row = {"feature_set": feature_set, "train": n_train, "dev": n_dev, "kernel_s": kernel.search_seconds_,
           "best_dev_uar": kernel.best_score_, "sampled_point_s": list(sampled.values()),
           "sklearn_projected_s": project_sklearn(per_point, sampled, n_jobs), "sklearn_s": None}
    if full_sklearn:
        reference = fitted_search("sklearn", X, y, X_dev, y_dev, grid, n_jobs)
        row["sklearn_s"] = reference.search_seconds_
        row["max_table_difference"] = float(np.max(np.abs(reference.cv_results_["mean_test_score"]
                                                          - results["mean_test_score"])))
        row["same_choice"] = reference.best_params_ == kernel.best_params_
    return row


def sklearn_seconds(row: dict) -> Tuple[float, bool]:
    """(seconds, projected?) of the GridSearchCV search of a row."""
    return (row["sklearn_s"], False) if row["sklearn_s"] is not None else (row["sklearn_projected_s"], True)


def power_law(rows: List[dict], n: int, seconds) -> float:
    """Seconds at ``n`` training rows from t = a n^b through two measured sizes."""
    (n1, t1), (n2, t2) = [(r["train"], seconds(r)) for r in rows]
    exponent = np.log(t2 / t1) / np.log(n2 / n1)
    return float(t2 * (n / n2) ** exponent)


def complete(rows: Dict[Tuple[str, str], dict]) -> bool:
    """Every feature set measured at both scales (what the Table-3 projection needs)."""
    return all((f, s) in rows for f in FEATURE_SETS for s in SCALES)


def table3(rows: Dict[Tuple[str, str], dict]) -> dict:
    """Projected search seconds of the Table-3 grid: per feature set 5 folds x (3 matched + 1 extended model)."""
    totals = {"kernel": 0.0, "sklearn": 0.0}
    for feature_set in FEATURE_SETS:
        scaled = [rows[(feature_set, s)] for s in SCALES]
        for size in REAL_SIZES:
            if (feature_set, size) in rows:
                row = rows[(feature_set, size)]
                kernel, sklearn = row["kernel_s"], sklearn_seconds(row)[0]
            else:
                kernel = power_law(scaled, REAL_SIZES[size][0], lambda r: r["kernel_s"])
                sklearn = power_law(scaled, REAL_SIZES[size][0], lambda r: sklearn_seconds(r)[0])
            totals["kernel"] += len(FOLDS) * kernel
            totals["sklearn"] += len(FOLDS) * sklearn
    return totals


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def search_report(rows: Dict[Tuple[str, str], dict], settings: dict) -> str:
    lines = [f"exact grid search, kernel vs GridSearchCV: {settings['grid']} grid ({settings['grid_points']} points), "
             f"n_jobs={settings['n_jobs']} ({settings['cores']} cores), synthetic functionals (4 classes), same rows "
             f"for both", "",
             f"{'features':<13} {'size':<8} {'train':>5} {'dev':>4} {'kernel s':>9} {'sklearn s':>10} "
             f"{'ratio':>6}  {'projected':>9}  check"]
    for (feature_set, scale), row in rows.items():
        sklearn, projected = sklearn_seconds(row)
        check = ("sklearn not run in full" if projected else
                 f"tables equal (max diff {row['max_table_difference']:.0e}), same choice: {row['same_choice']}")
        lines.append(f"{feature_set:<13} {scale:<8} {row['train']:>5} {row['dev']:>4} {row['kernel_s']:9.2f} "
                     f"{sklearn:10.1f}{'*' if projected else ' '} {sklearn / row['kernel_s']:5.0f}x  "
                     f"{row['sklearn_projected_s']:9.1f}  {check}")
    lines += ["", "* projected, not measured: GridSearchCV would take too long here. 'projected' = the sum over "
                  "all grid points of a + b x (that point's kernel-search seconds), a and b fitted on "
                  f"{settings['points']} points timed with the rbf pipeline (at quantiles of the per-point times, "
                  "up to the slowest), divided by n_jobs. Where sklearn ran in full, compare the two columns."]
    if not complete(rows):
        return "\n".join(lines + ["(the Table-3 projection needs every feature set at both scales)"])
    totals = table3(rows)
    lines += [f"Table-3 grid (3 feature sets x 3 corpora x 2 conditions x 5 folds = 60 models, real train/dev "
              f"sizes {', '.join(f'{k} {v[0]}/{v[1]}' for k, v in REAL_SIZES.items())}), search only, sizes not "
              f"measured projected by a power law through the two scales:",
              f"  kernel search {hours(totals['kernel'])}, GridSearchCV {hours(totals['sklearn'])} "
              f"({totals['sklearn'] / totals['kernel']:.0f}x); the final refit + Platt scaling is the same for both "
              f"and not included."]
    return "\n".join(lines)


def search_benchmark(args: argparse.Namespace) -> int:
    n_jobs = args.n_jobs
    sizes = ["emodb"] * (not args.skip_emodb) + list(SCALES)
    rows: Dict[Tuple[str, str], dict] = {}
    for feature_set in args.feature_sets:
        for size in sizes:
            print(f"timing {feature_set} at {size} scale {REAL_SIZES[size]} ...", flush=True)
            full = REAL_SIZES[size][0] <= args.full_sklearn_max or FEATURE_SETS[feature_set] <= args.full_sklearn_dims
            rows[(feature_set, size)] = measure(feature_set, REAL_SIZES[size], args.grid, n_jobs, full, args.points)
    settings = {"grid": args.grid, "grid_points": len(GRIDS[args.grid]["log2_C"]) * len(GRIDS[args.grid]["log2_gamma"]),
                "cores": os.cpu_count(), "n_jobs": n_jobs, "full_sklearn_max": args.full_sklearn_max,
                "full_sklearn_dims": args.full_sklearn_dims, "points": args.points}
    print(search_report(rows, settings))
    if args.json:
        write_json(args.json, {"settings": settings, "rows": [{"scale": s, **r} for (_, s), r in rows.items()],
                               "table3_search_s": table3(rows) if complete(rows) else None})
    return 0


# ----- pipeline mode: extraction throughput and the full grid on synthetic corpora -----

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


def full_grid(data_dir: Path, out: Path, cache: Path, grid: str, n_jobs: int, search: str) -> Dict[str, dict]:
    """Every (feature set, condition) over all test corpora and folds; wall seconds each."""
    utts = load_manifest(data_dir)
    rows = {}
    for feature_set in FEATURE_SETS:
        for condition in CONDITIONS:
            start = time.perf_counter()
            report = run(RunConfig(data_dir=data_dir, out=out, feature_set=feature_set, condition=condition,
                                   test_corpus="all", folds=FOLDS, grid=grid, n_jobs=n_jobs, cache_dir=cache,
                                   search=search), utts)
            rows[f"{SVM_SYSTEMS[feature_set]} {condition}"] = {"results": len(report.written),
                                                               "wall_s": time.perf_counter() - start}
    return rows


def pipeline_report(extraction: Dict[str, dict], grid_rows: Dict[str, dict], settings: dict) -> str:
    lines = [f"synthetic corpora: per_class={settings['per_class']}, {settings['files']} files; "
             f"{settings['cores']} cores, n_jobs={settings['n_jobs']}, grid={settings['grid']} "
             f"({settings['grid_points']} points), search={settings['search']}", "",
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


def pipeline_benchmark(args: argparse.Namespace) -> int:
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
        grid_rows = {} if args.skip_grid else full_grid(work / "data", results, cache, args.grid, n_jobs, args.search)
        settings = {"per_class": args.per_class, "files": len(paths), "cores": os.cpu_count(), "n_jobs": n_jobs,
                    "grid": args.grid, "search": args.search,
                    "grid_points": len(GRIDS[args.grid]["log2_C"]) * len(GRIDS[args.grid]["log2_gamma"])}
        print(pipeline_report(extraction, grid_rows, settings))
        if grid_rows:
            cells, sha = load_cells(results)
            print("\nsynthetic corpora (the paper's figures show the layout only):\n" + render_markdown(summary(cells, sha)))
        write_json(work / "benchmark.json", {"settings": settings, "extraction": extraction, "grid": grid_rows})
    finally:
        if args.out is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s3prl_crosscorpus.benchmarks.svm",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("mode", nargs="?", choices=("search", "pipeline"), default="search")
    parser.add_argument("--grid", choices=list(GRIDS), default="libsvm")
    parser.add_argument("--n-jobs", type=int, default=None,
                        help="workers (search mode: of both searches, default 1 = single-core timings; "
                             "pipeline mode: default all cores)")
    search = parser.add_argument_group("search mode")
    search.add_argument("--feature-sets", nargs="+", choices=list(FEATURE_SETS), default=list(FEATURE_SETS))
    search.add_argument("--full-sklearn-max", type=int, default=1000,
                        help="GridSearchCV runs in full up to this many training rows (default %(default)s) ...")
    search.add_argument("--full-sklearn-dims", type=int, default=100,
                        help="... or up to this many dimensions (default %(default)s: GeMAPS, eGeMAPS); "
                             "otherwise it is projected from timed points")
    search.add_argument("--points", type=int, default=3, help="grid points timed for the projection (default 3)")
    search.add_argument("--skip-emodb", action="store_true", help="leave out the EmoDB-size measurement")
    search.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    pipeline = parser.add_argument_group("pipeline mode")
    pipeline.add_argument("--out", type=Path, default=None, help="work folder to keep (default: a temporary one)")
    pipeline.add_argument("--per-class", type=int, default=3, help="synthetic utterances per speaker and class (1..4)")
    pipeline.add_argument("--skip-grid", action="store_true", help="measure extraction throughput only")
    pipeline.add_argument("--search", choices=("kernel", "sklearn"), default="kernel")
    args = parser.parse_args(argv)
    if args.mode == "search" and args.n_jobs is None:
        args.n_jobs = 1
    return search_benchmark(args) if args.mode == "search" else pipeline_benchmark(args)


if __name__ == "__main__":
    raise SystemExit(main())
