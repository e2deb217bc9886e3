"""``submit``: pack a results folder into a leaderboard submission bundle (one zip).

Layout::

    bundle.json                                   format, versions, fold-file hash, runs, summary, sha256 of every file
    summary.md                                    the UAR, WA and macro-F1 tables
    <system>/<condition>/<corpus>/fold<k>.json    the result files (metrics, configs, seeds travel with them)
    <system>/<condition>/<corpus>/test_fold<k>_predict.txt   SUPERB style "<utt_id> <label>" lines
    <system>/<condition>/<corpus>/test_fold<k>_truth.txt
    plots/*.png                                   optional
"""
import argparse
import hashlib
import json
import sys
import tempfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

from ..core.folds import CONDITIONS
from ..core.io_utils import atomic_open
from ..core.labels import CORPORA, LABELS
from ..results.leaderboard import (METRICS, Cell, LeaderboardError, collect_cells, installed_fold_warning, load_checked,
                          render_markdown, summary)
from ..results.schema import ResultError, package_versions

BUNDLE_FORMAT = "s3prl-crosscorpus-bundle"
BUNDLE_VERSION = 1
MANIFEST = "bundle.json"
SUMMARY_MD = "summary.md"
PLOTS_DIR = "plots"
#: Distributions whose versions the bundle records (those installed).
VERSION_DISTS = ("numpy", "scikit-learn", "torch", "s3prl", "opensmile", "matplotlib", "jsonschema")


class BundleError(ValueError):
    """Results that cannot make a complete, consistent submission."""


def cell_dir(system: str, condition: str, corpus: str) -> str:
    return f"{system}/{condition}/{corpus}"


def result_member(result: Mapping) -> str:
    return f"{cell_dir(result['system'], result['condition'], result['test_corpus'])}/fold{result['fold']}.json"


def superb_member(result: Mapping, kind: str) -> str:
    """``test_fold<k>_predict.txt`` / ``test_fold<k>_truth.txt``, s3prl's emotion-task names."""
    folder = cell_dir(result["system"], result["condition"], result["test_corpus"])
    return f"{folder}/test_fold{result['fold']}_{kind}.txt"


def superb_lines(result: Mapping, column: str) -> str:
    """``<utt_id> <label>`` per test utterance; ``column`` is "prediction" or "label"."""
    return "".join(f"{row['id']} {row[column]}\n" for row in result["predictions"])


def run_record(result: Mapping) -> dict:
    """What reproduces one fold: seed, chosen hyperparameters, configuration, versions, sizes."""
    return {key: result.get(key) for key in ("system", "family", "features", "head", "condition", "test_corpus",
                                             "fold", "train_corpora", "seed", "hyperparameters", "config",
                                             "dev", "sizes", "versions")}


def summary_markdown(table: Mapping) -> str:
    """summary.md: the table once per metric (UAR with the paper's figures)."""
    return "\n".join(render_markdown(table, metric) for metric in METRICS)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_names(source: str, result: Mapping) -> None:
    """Member names split on "/" and SUPERB lines on whitespace: names holding them would be misread."""
    if "/" in result["system"]:
        raise BundleError(f"{source}: system name {result['system']!r} contains '/'")
    for row in result["predictions"]:
        if row["id"] != "".join(row["id"].split()):
            raise BundleError(f"{source}: utterance id {row['id']!r} contains whitespace")


def check_complete(cells: List[Cell]) -> None:
    """A submission needs every fold of every cell."""
    incomplete = [f"{c.system} {c.condition} {c.corpus} misses fold(s) {', '.join(map(str, c.missing))}"
                  for c in cells if not c.complete]
    if incomplete:
        raise BundleError("a submission needs every fold of every cell:\n  " + "\n  ".join(incomplete))


def bundle_files(pairs: List[Tuple[Path, dict]], cells: List[Cell], table: Mapping, plots: bool
                 ) -> Dict[str, bytes]:
    """Every member of the bundle except bundle.json."""
    files: Dict[str, bytes] = {}
    for path, result in pairs:
        check_names(str(path), result)
        files[result_member(result)] = path.read_bytes()
        files[superb_member(result, "predict")] = superb_lines(result, "prediction").encode()
        files[superb_member(result, "truth")] = superb_lines(result, "label").encode()
    files[SUMMARY_MD] = summary_markdown(table).encode()
    if plots:
        from ..results.plots import plot_all  # matplotlib only when plots are wanted

        with tempfile.TemporaryDirectory() as tmp:
            for png in plot_all(cells, table, Path(tmp)):
                files[f"{PLOTS_DIR}/{png.name}"] = png.read_bytes()
    return files


def manifest(results: List[Mapping], cells: List[Cell], table: Mapping, files: Mapping[str, bytes]) -> dict:
    """bundle.json: everything needed to check and reproduce the submission."""
    return {
        "format": BUNDLE_FORMAT, "format_version": BUNDLE_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "package_versions": package_versions(*VERSION_DISTS),
        "fold_file_sha256": table["fold_file_sha256"], "labels": list(LABELS),
        "systems": list(dict.fromkeys(c.system for c in cells)),
        "conditions": [k for k in CONDITIONS if any(c.condition == k for c in cells)],
        "corpora": [k for k in CORPORA if any(c.corpus == k for c in cells)],
        "runs": [run_record(r) for r in sorted(results, key=result_member)],
        "summary": table,
        "files": {name: sha256_bytes(data) for name, data in sorted(files.items())},
    }


def write_bundle(out: Path, meta: Mapping, files: Mapping[str, bytes]) -> Path:
    """Write the zip atomically: bundle.json first, then the files in name order."""
    with atomic_open(out, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, json.dumps(meta, indent=2) + "\n")
        for name in sorted(files):
            zf.writestr(name, files[name])
    return Path(out)


def build_bundle(results_dir: Path, out: Path, plots: bool = True) -> dict:
    """Pack ``results_dir`` into ``out``; refuse incomplete cells, mixed fold files and duplicates."""
    pairs = load_checked(results_dir)
    cells = collect_cells(result for _, result in pairs)
    check_complete(cells)
    table = summary(cells, pairs[0][1]["fold_file_sha256"])
    files = bundle_files(pairs, cells, table, plots)
    meta = manifest([result for _, result in pairs], cells, table, files)
    write_bundle(out, meta, files)
    return meta


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="s3prl-crosscorpus submit",
                                     description="Pack RESULTS_DIR into a submission bundle (zip) and validate it.")
    parser.add_argument("results_dir", type=Path, help="folder of result files")
    parser.add_argument("-o", "--out", type=Path, required=True, help="the bundle to write, e.g. BUNDLE.zip")
    parser.add_argument("--no-plots", action="store_true", help="leave the PNG plots out")
    args = parser.parse_args(argv)
    try:
        meta = build_bundle(args.results_dir, args.out, plots=not args.no_plots)
    except (BundleError, LeaderboardError, ResultError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    warning = installed_fold_warning(meta["fold_file_sha256"])
    if warning:
        print(warning, file=sys.stderr)
    from .validate import validate_bundle

    found = validate_bundle(args.out)  # a bundle that fails its own validation is a bug, not a submission
    for problem in found.problems:
        print(f"problem: {problem}", file=sys.stderr)
    print(f"wrote {args.out} ({len(meta['runs'])} fold results, {len(meta['files'])} files); "
          f"validate: {found.describe()}")
    return 0 if found.ok else 1
