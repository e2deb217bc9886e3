"""``leaderboard``: the paper's table (rows = systems, columns = evaluation corpus x condition) from result files.

Each cell is the mean over the five folds with the sample standard deviation across folds, the
paper's UAR beside it and our difference. A cell with missing folds is marked, never averaged as
if complete; results computed with different fold files are refused.
"""
import argparse
import csv
import io
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..core.folds import CONDITIONS, FOLD_FILE, FOLDS, fold_file_sha256
from ..core.io_utils import atomic_open
from ..core.labels import CORPORA, CORPUS_DISPLAY
from .paper import PAPER_METRIC, paper_uar, system_rank
from .schema import ResultError, load_result_files

METRICS: Tuple[str, ...] = ("uar", "wa", "macro_f1")
METRIC_NAMES: Dict[str, str] = {"uar": "UAR", "wa": "WA", "macro_f1": "macro-F1"}
SPREAD = "sample standard deviation across folds (ddof=1)"
SUMMARY_FORMAT = "s3prl-crosscorpus-leaderboard"
SUMMARY_VERSION = 1
#: (source name, result) pairs: the source is a file path or a bundle member, used in messages.
Named = Tuple[str, Mapping]


class LeaderboardError(ValueError):
    """Results that cannot go into one table (mixed fold files, duplicates, nothing found)."""


@dataclass
class Cell:
    """All folds of one (system, condition, test corpus) found so far."""

    system: str
    family: str
    condition: str
    corpus: str
    fold_metrics: Dict[int, Mapping] = field(default_factory=dict)  # fold -> the result's "metrics"

    @property
    def missing(self) -> List[int]:
        return [k for k in FOLDS if k not in self.fold_metrics]

    @property
    def complete(self) -> bool:
        return not self.missing

    def percent(self, metric: str) -> Dict[int, float]:
        """fold -> metric in %, in fold order."""
        return {k: 100.0 * float(self.fold_metrics[k][metric]) for k in sorted(self.fold_metrics)}

    def confusion(self) -> np.ndarray:
        """Confusion matrix counts summed over the folds present (rows reference, columns prediction)."""
        return np.sum([np.asarray(m["confusion_matrix"]) for m in self.fold_metrics.values()], axis=0)


def cell_key(result: Mapping) -> Tuple[str, str, str, int]:
    return (result["system"], result["condition"], result["test_corpus"], int(result["fold"]))


def fold_hash_problems(items: Sequence[Named]) -> List[str]:
    """One problem naming example files of each fold-file hash when results use more than one fold file."""
    groups: Dict[str, List[str]] = defaultdict(list)
    for name, result in items:
        groups[result["fold_file_sha256"]].append(name)
    if len(groups) <= 1:
        return []
    lines = [f"results were computed with {len(groups)} different fold files and cannot be compared:"]
    for sha, names in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        lines.append(f"  fold file sha256 {sha[:12]}… in {len(names)} file(s), e.g. {shown}")
    return ["\n".join(lines)]


def duplicate_problems(items: Sequence[Named]) -> List[str]:
    """Two results claiming the same (system, condition, test corpus, fold)."""
    seen: Dict[Tuple, List[str]] = defaultdict(list)
    for name, result in items:
        seen[cell_key(result)].append(name)
    return [f"{' and '.join(names)} are both {system} {condition} {corpus} fold {fold}; keep one"
            for (system, condition, corpus, fold), names in seen.items() if len(names) > 1]


def installed_fold_warning(sha: str) -> Optional[str]:
    """A warning when results were not computed with the fold file installed here."""
    if sha == fold_file_sha256():
        return None
    return (f"warning: the results used fold file sha256 {sha[:12]}…, not the installed {FOLD_FILE.name} "
            f"({fold_file_sha256()[:12]}…); they are not comparable with results made by this installation")


def collect_cells(results: Iterable[Mapping]) -> List[Cell]:
    """Group results by (system, condition, test corpus), in table order (rows, then columns)."""
    cells: Dict[Tuple[str, str, str], Cell] = {}
    for result in results:
        system, condition, corpus, fold = cell_key(result)
        cell = cells.setdefault((system, condition, corpus), Cell(system, result["family"], condition, corpus))
        cell.fold_metrics[fold] = result["metrics"]
    order = lambda c: (system_rank(c.system, c.family), CORPORA.index(c.corpus), CONDITIONS.index(c.condition))
    return sorted(cells.values(), key=order)


def check_table(items: Sequence[Named]) -> None:
    """Raise :class:`LeaderboardError` listing every reason ``items`` cannot share a table."""
    problems = fold_hash_problems(items) + duplicate_problems(items)
    if problems:
        raise LeaderboardError("\n".join(problems))


def load_checked(results_dir: Path) -> List[Tuple[Path, dict]]:
    """(path, result) of every result under ``results_dir``, refused unless they can share one table."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise LeaderboardError(f"{results_dir}: not a folder of results")
    pairs = load_result_files(results_dir)
    if not pairs:
        raise LeaderboardError(f"{results_dir}: no result files (<system>/<condition>/<corpus>/fold<k>.json)")
    check_table([(str(path), result) for path, result in pairs])
    return pairs


def load_cells(results_dir: Path) -> Tuple[List[Cell], str]:
    """Cells and the shared fold-file hash of every result under ``results_dir``."""
    pairs = load_checked(results_dir)
    return collect_cells(result for _, result in pairs), pairs[0][1]["fold_file_sha256"]


def mean_std(values: Sequence[float]) -> Tuple[float, Optional[float]]:
    """Mean and sample standard deviation (None for a single value)."""
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), (float(arr.std(ddof=1)) if arr.size > 1 else None)


def cell_summary(cell: Cell) -> dict:
    """One cell as JSON: per-fold values, mean and spread of every metric in %, the paper's UAR and the difference."""
    metrics = {}
    for metric in METRICS:
        per_fold = cell.percent(metric)
        mean, std = mean_std(list(per_fold.values()))
        metrics[metric] = {"per_fold": {str(k): v for k, v in per_fold.items()}, "mean": mean, "std": std}
    paper = paper_uar(cell.system, cell.condition, cell.corpus)
    return {
        "system": cell.system, "family": cell.family, "condition": cell.condition, "test_corpus": cell.corpus,
        "folds": sorted(cell.fold_metrics), "missing_folds": cell.missing, "complete": cell.complete,
        "metrics": metrics, "paper_uar": paper,
        # The paper averaged five folds: a difference against fewer would mislead.
        "diff_uar": metrics["uar"]["mean"] - paper if paper is not None and cell.complete else None,
    }


def table_columns(cells: Sequence[Cell]) -> List[Dict[str, str]]:
    """Each corpus with results: matched and extended, plus loco when some system has it; CORPORA order."""
    present = {(c.corpus, c.condition) for c in cells}
    columns = []
    for corpus in CORPORA:
        if not any(corpus == c for c, _ in present):
            continue
        for condition in CONDITIONS:
            if condition != "loco" or (corpus, condition) in present:
                columns.append({"corpus": corpus, "condition": condition})
    return columns


def summary(cells: Sequence[Cell], fold_sha: str) -> dict:
    """The whole table as JSON (all metrics); what ``--format json`` prints and bundles carry."""
    rows = sorted({(c.system, c.family) for c in cells}, key=lambda sf: system_rank(*sf))
    return {
        "format": SUMMARY_FORMAT, "version": SUMMARY_VERSION, "unit": "percent", "spread": SPREAD,
        "folds": list(FOLDS), "fold_file_sha256": fold_sha,
        "rows": [system for system, _ in rows], "columns": table_columns(cells),
        "cells": [cell_summary(c) for c in cells],
    }


def format_cell(cell: Optional[Mapping], metric: str) -> str:
    """``mean ± std``, ``*`` and the fold count when incomplete, ``[paper, difference]`` for UAR."""
    if cell is None:
        return "–"
    stats = cell["metrics"][metric]
    std = "n/a" if stats["std"] is None else f"{stats['std']:.2f}"
    text = f"{stats['mean']:.2f} ± {std}"
    if not cell["complete"]:
        text += f"* ({len(cell['folds'])}/{len(FOLDS)} folds)"
    if metric == PAPER_METRIC and cell["paper_uar"] is not None:
        diff = "" if cell["diff_uar"] is None else f", {cell['diff_uar']:+.2f}"
        text += f" [{cell['paper_uar']:.2f}{diff}]"
    return text


def column_title(column: Mapping[str, str]) -> str:
    return f"{CORPUS_DISPLAY[column['corpus']]} {column['condition']}"


def render_markdown(table: Mapping, metric: str = "uar") -> str:
    """The paper-style table with footnotes, for one metric."""
    by_key = {(c["system"], c["test_corpus"], c["condition"]): c for c in table["cells"]}
    header = ["System"] + [column_title(col) for col in table["columns"]]
    body = [[system] + [format_cell(by_key.get((system, col["corpus"], col["condition"])), metric)
                        for col in table["columns"]] for system in table["rows"]]
    widths = [max(len(row[i]) for row in [header] + body) for i in range(len(header))]
    line = lambda row: "| " + " | ".join(text.ljust(w) for text, w in zip(row, widths)) + " |"
    lines = [f"{METRIC_NAMES[metric]} (%) by evaluation corpus and training condition", "",
             line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(row) for row in body]
    notes = [f"Each cell: mean ± spread over the {len(table['folds'])} speaker-independent folds, in %; "
             f"spread = {table['spread']}."]
    if metric == PAPER_METRIC and any(c["paper_uar"] is not None for c in table["cells"]):
        notes.append("[a, b]: the paper's published UAR and our mean minus it (only for cells with every fold).")
    if any(text == "–" for row in body for text in row):
        notes.append("–: no result.")
    for cell in table["cells"]:
        if not cell["complete"]:
            missing = ", ".join(map(str, cell["missing_folds"]))
            notes.append(f"* incomplete, mean over the folds present only: {cell['system']} {cell['condition']} "
                         f"{cell['test_corpus']} misses fold(s) {missing}.")
    notes.append(f"Fold file sha256 {table['fold_file_sha256']}.")
    return "\n".join(lines + [""] + notes) + "\n"


CSV_FIELDS = (["system", "family", "condition", "test_corpus", "metric", "n_folds", "complete", "missing_folds",
               "mean", "std"] + [f"fold{k}" for k in FOLDS] + ["paper_uar", "diff_uar"])


def render_csv(table: Mapping, metric: str = "uar") -> str:
    """One row per cell (tidy), values in %, for one metric; paper columns only filled for UAR."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for cell in table["cells"]:
        stats = cell["metrics"][metric]
        row = {"system": cell["system"], "family": cell["family"], "condition": cell["condition"],
               "test_corpus": cell["test_corpus"], "metric": metric, "n_folds": len(cell["folds"]),
               "complete": cell["complete"], "missing_folds": " ".join(map(str, cell["missing_folds"])),
               "mean": stats["mean"], "std": stats["std"]}
        row.update({f"fold{k}": v for k, v in stats["per_fold"].items()})
        if metric == PAPER_METRIC:
            row.update(paper_uar=cell["paper_uar"], diff_uar=cell["diff_uar"])
        writer.writerow(row)
    return out.getvalue()


def render(table: Mapping, fmt: str, metric: str) -> str:
    if fmt == "md":
        return render_markdown(table, metric)
    if fmt == "csv":
        return render_csv(table, metric)
    return json.dumps(table, indent=2) + "\n"


def load_cells_for_cli(results_dir: Path) -> Optional[Tuple[List[Cell], str]]:
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


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="s3prl-crosscorpus leaderboard",
        description="Paper-style table (rows = systems, columns = evaluation corpus x condition) "
                    "from RESULTS_DIR/<system>/<condition>/<corpus>/fold<k>.json.")
    parser.add_argument("results_dir", type=Path, help="folder of result files")
    parser.add_argument("--format", choices=("md", "csv", "json"), default="md",
                        help="md: the paper's layout; csv: one row per cell; json: every metric and fold")
    parser.add_argument("--metric", choices=METRICS, default="uar", help="metric of the md and csv tables")
    parser.add_argument("-o", "--output", type=Path, help="write here (atomically) instead of stdout")
    args = parser.parse_args(argv)
    loaded = load_cells_for_cli(args.results_dir)
    if loaded is None:
        return 1
    cells, sha = loaded
    text = render(summary(cells, sha), args.format, args.metric)
    if args.output:
        with atomic_open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
