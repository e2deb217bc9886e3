"""The leaderboard: the paper's table (rows = systems, columns = evaluation corpus x condition) from result files.

Each cell is the mean over the five folds with the sample standard deviation across folds, the
paper's UAR beside it and our difference. A cell with missing folds is marked, never averaged as
if complete; results computed with different fold files are refused. With statistics (see
:mod:`.significance`), the pooled UAR with its speaker-bootstrap interval and the paired
comparisons follow the table.
"""
import csv
import io
import json
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..core.folds import CONDITIONS, FOLDS, TRANSFER
from ..core.labels import CORPORA, corpus_order, display_name
# Re-exported: the demo, the benchmarks and the validator read cells through the leaderboard.
from .cells import (Cell, LeaderboardError, collect_cells, fold_hash_problems, installed_fold_warning,  # noqa: F401
                    load_cells, load_checked, mean_std_text, place_text)
from .significance import test_only_in
from .paper import PAPER_METRIC, comparable, paper_pool, paper_uar, pool_label, system_rank  # noqa: F401
from .matrix import render_matrices
from .significance import render_table_statistics
from .warning_groups import Place, warning_lines

METRICS: Tuple[str, ...] = ("uar", "wa", "macro_f1")
METRIC_NAMES: Dict[str, str] = {"uar": "UAR", "wa": "WA", "macro_f1": "macro-F1"}
SPREAD = "sample standard deviation across folds (ddof=1)"
SUMMARY_FORMAT = "s3prl-crosscorpus-leaderboard"
SUMMARY_VERSION = 1


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
        if len(cell.seeds) > 1:  # per-fold values above are means over the seeds
            per_seed = cell.seed_percent(metric)
            metrics[metric].update(per_seed={str(k): v for k, v in per_seed.items()},
                                   seed_std=mean_std(list(per_seed.values()))[1])
    paper = paper_uar(cell.system, cell.condition, cell.corpus)
    pool = list(cell.pool or ())
    # The paper's number is compared only with a model trained on the paper's pool for that condition.
    same_pool = comparable(cell.condition, cell.corpus, pool if cell.pools else None)
    entry = {
        "system": cell.system, "family": cell.family, "condition": cell.condition, "test_corpus": cell.corpus,
        "folds": sorted(cell.fold_metrics), "missing_folds": cell.missing, "complete": cell.complete,
        "seeds": cell.seeds, "metrics": metrics, "paper_uar": paper, "train_corpora": pool, "paper_pool": same_pool,
        "pool_label": pool_label(cell.condition, pool),
        "warnings": {str(k): v for k, v in sorted(cell.warnings.items())},  # a number that may be wrong: marked
        # The paper averaged five folds: a difference against fewer would mislead.
        "diff_uar": metrics["uar"]["mean"] - paper if paper is not None and cell.complete and same_pool else None,
    }
    if len(cell.seeds) > 1:
        entry["seed_missing_folds"] = {str(seed): cell.seed_missing(seed) for seed in cell.seeds}
        if cell.seed_warnings:  # which seed's run a warning came from
            entry["seed_warnings"] = [[fold, seed, message] for fold, seed, message in cell.warning_places()]
    return entry


def table_columns(cells: Sequence[Cell]) -> List[Dict[str, str]]:
    """Each corpus with results: matched and extended, plus loco when some system has it; the paper's three
    first, then other corpora by name. Transfer cells are drawn in the transfer matrix (:mod:`.matrix`), not here.
    A corpus that no result trains on (a test-only one; known when every result records its training corpora)
    has no matched column."""
    present = {(c.corpus, c.condition) for c in cells}
    trained = {corpus for c in cells for pool in c.pools.values() for corpus in pool}
    pools_known = all(c.pools for c in cells)
    columns = []
    for corpus in corpus_order(c for c, _ in present):
        for condition in (k for k in CONDITIONS if k != TRANSFER):
            if condition == "matched" and pools_known and corpus not in trained and (corpus, condition) not in present:
                continue
            if condition != "loco" or (corpus, condition) in present:
                columns.append({"corpus": corpus, "condition": condition})
    return columns


def summary(cells: Sequence[Cell], fold_sha: str, statistics: Optional[Mapping] = None,
            corpus_differs: Optional[Mapping[str, Sequence[str]]] = None) -> dict:
    """The whole table as JSON (all metrics, and the speaker-level ``statistics`` of
    :mod:`.significance` when given); what ``--format json`` prints and bundles carry. ``corpus_differs``
    (corpus -> how its copy differs from the published one, the manifest meta's ``documented_differences``)
    marks those corpora's cells: their paper comparison is not like for like."""
    rows = sorted({(c.system, c.family) for c in cells}, key=lambda sf: system_rank(*sf))
    table = {
        "format": SUMMARY_FORMAT, "version": SUMMARY_VERSION, "unit": "percent", "spread": SPREAD,
        "folds": list(FOLDS), "fold_file_sha256": fold_sha,
        "rows": [system for system, _ in rows], "columns": table_columns(cells),
        "cells": [cell_summary(c) for c in cells],
    }
    for cell in table["cells"]:
        if (corpus_differs or {}).get(cell["test_corpus"]):
            cell["corpus_differs"] = list(corpus_differs[cell["test_corpus"]])
    test_only = test_only_in(cells)
    if test_only:  # a column of the transfer matrix only (the matrix marks it)
        table["test_only"] = test_only
    if statistics is not None:
        table["statistics"] = dict(statistics)
    return table


def shows_paper(cell: Optional[Mapping]) -> bool:
    """A summary cell whose paper figure may be shown beside ours (published, and on the paper's pool)."""
    return bool(cell) and cell["paper_uar"] is not None and cell.get("paper_pool", True)


def format_cell(cell: Optional[Mapping], metric: str) -> str:
    """``mean ± std``, ``*`` and the fold count when incomplete, ``[paper, difference]`` for UAR."""
    if cell is None:
        return "–"
    stats = cell["metrics"][metric]
    text = mean_std_text(cell, metric)
    if len(cell.get("seeds", [])) > 1:  # the spread across seeds: of each seed's mean over its folds
        seed_std = stats.get("seed_std")
        text += f" ({len(cell['seeds'])} seeds" + ("" if seed_std is None else f", sd {seed_std:.2f}") + ")"
    if cell.get("warnings"):
        text += " !"
    label = pool_label(cell["condition"], cell.get("train_corpora"))
    if metric == PAPER_METRIC and cell["paper_uar"] is not None:
        diff = "" if cell["diff_uar"] is None else f", {cell['diff_uar']:+.2f}"
        if not cell.get("paper_pool", True):
            diff = f"; {label or 'trained on another pool'}, not compared"
            label = None  # named inside the brackets
        text += f" [{cell['paper_uar']:.2f}{diff}{' ≠' if cell.get('corpus_differs') else ''}]"
    if label:
        text += f" ({label})"
    return text


def column_title(column: Mapping[str, str]) -> str:
    return f"{display_name(column['corpus'])} {column['condition']}"


def render_markdown(table: Mapping, metric: str = "uar", grouped_warnings: bool = True) -> str:
    """The paper-style table with footnotes, for one metric; ``grouped_warnings=False``: one ``!`` line per
    warning and place, as summary.md of bundles made before the grouping (``validate`` accepts both)."""
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
        notes.append("[a, b]: the paper's published UAR and our mean minus it (only for cells with every fold, "
                     "trained on the paper's corpus pool; another pool is named instead of a difference).")
    if any(text == "–" for row in body for text in row):
        notes.append("–: no result.")
    if any(len(cell.get("seeds", [])) > 1 for cell in table["cells"]):
        notes.append("(k seeds, sd s): per-fold values are means over k training seeds (init seeds; each seed's "
                     "results in RESULTS/seed<S>/ but the first's); s = sample standard deviation across the seeds' "
                     "fold means. Each seed's figure is in the JSON output (per_seed, seed_std).")
    differs = {c["test_corpus"]: c["corpus_differs"] for c in table["cells"] if c.get("corpus_differs")}
    if metric == PAPER_METRIC:
        notes.extend(f"≠ {display_name(corpus)}: this copy differs from the published corpus ({'; '.join(found)}): "
                     f"its comparison with the paper is not like for like." for corpus, found in differs.items())
    for cell in table["cells"]:
        if not cell["complete"]:
            notes.append(f"* incomplete, mean over the folds present only: {cell['system']} {cell['condition']} "
                         f"{cell['test_corpus']} {missing_text(cell)}.")
    warnings = [(Place(cell["system"], cell["condition"], cell["test_corpus"], fold, seed), m)
                for cell in table["cells"] for fold, seed, m in warning_places(cell)]
    notes.extend(warning_lines(warnings) if grouped_warnings else
                 [f"! {p.system} {p.condition} {p.corpus} {place_text(p.fold, p.seed)}: {m}" for p, m in warnings])
    notes.append(f"Fold file sha256 {table['fold_file_sha256']}.")
    text = "\n".join(lines + [""] + notes) + "\n"
    matrices = render_matrices(table, metric, METRIC_NAMES[metric])
    if matrices:
        text += "\n" + matrices
    if metric == PAPER_METRIC and "statistics" in table:
        text += "\n" + render_table_statistics(table["statistics"], table["rows"], table["columns"])
    return text


def warning_places(cell: Mapping) -> List[Tuple[int, Optional[int], str]]:
    """(fold, seed, message) of a summary cell's warnings; the seed only in a cell of several seeds."""
    if cell.get("seed_warnings"):
        return [(int(fold), seed, str(message)) for fold, seed, message in cell["seed_warnings"]]
    return [(int(fold), None, m) for fold, messages in (cell.get("warnings") or {}).items() for m in messages]


def missing_text(cell: Mapping) -> str:
    """``misses fold(s) 3, 5``; per seed when a cell has several."""
    if len(cell.get("seeds", [])) <= 1:
        return f"misses fold(s) {', '.join(map(str, cell['missing_folds']))}"
    return "; ".join(f"seed {seed} misses fold(s) {', '.join(map(str, folds))}"
                     for seed, folds in cell["seed_missing_folds"].items() if folds)


CSV_FIELDS = (["system", "family", "condition", "test_corpus", "train_corpora", "metric", "n_folds", "complete",
               "missing_folds", "mean", "std"] + [f"fold{k}" for k in FOLDS] + ["paper_uar", "paper_pool", "diff_uar"])
#: Added by --stats (UAR rows): the pooled UAR with its interval, and the comparison with the matched cell.
STATS_FIELDS = ["n_seeds", "seed_std", "n_speakers", "pooled_uar", "pooled_ci_low", "pooled_ci_high",
                "vs_matched_diff", "vs_matched_ci_low", "vs_matched_ci_high", "vs_matched_p", "vs_matched_p_holm",
                "vs_matched_significant"]


def stats_columns(statistics: Mapping, cell: Mapping) -> dict:
    """The STATS_FIELDS of one cell (empty where there is no figure)."""
    key = (cell["system"], cell["condition"], cell["test_corpus"])
    entry = next((c for c in statistics["cells"] if (c["system"], c["condition"], c["test_corpus"]) == key), None)
    row = {}
    if entry and entry["available"]:
        row.update(n_seeds=len(entry["seeds"]), seed_std=entry["seed_std"], n_speakers=entry["n_speakers"],
                   pooled_uar=entry["uar"], pooled_ci_low=entry["ci"][0], pooled_ci_high=entry["ci"][1])
    versus = next((c for c in statistics["comparisons"] if c["available"] and c["a"]["condition"] == "matched"
                   and c["a"]["system"] == c["b"]["system"] and (c["b"]["system"], c["b"]["condition"], c["test_corpus"]) == key), None)
    if versus:
        row.update(vs_matched_diff=versus["diff"], vs_matched_ci_low=versus["ci"][0],
                   vs_matched_ci_high=versus["ci"][1], vs_matched_p=versus["p"], vs_matched_p_holm=versus["p_holm"],
                   vs_matched_significant=versus["significant"])
    return row


def render_csv(table: Mapping, metric: str = "uar") -> str:
    """One row per cell (tidy), values in %, for one metric; paper columns only filled for UAR."""
    out = io.StringIO()
    statistics = table.get("statistics")
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS + (STATS_FIELDS if statistics else []), lineterminator="\n")
    writer.writeheader()
    for cell in table["cells"]:
        stats = cell["metrics"][metric]
        row = {"system": cell["system"], "family": cell["family"], "condition": cell["condition"],
               "test_corpus": cell["test_corpus"], "train_corpora": "+".join(cell.get("train_corpora") or []),
               "metric": metric, "n_folds": len(cell["folds"]),
               "complete": cell["complete"], "missing_folds": " ".join(map(str, cell["missing_folds"])),
               "mean": stats["mean"], "std": stats["std"]}
        row.update({f"fold{k}": v for k, v in stats["per_fold"].items()})
        if metric == PAPER_METRIC:
            # paper_pool false: the published figure is for another training pool and diff_uar stays empty
            row.update(paper_uar=cell["paper_uar"], paper_pool=cell.get("paper_pool", True), diff_uar=cell["diff_uar"])
            if statistics:
                row.update(stats_columns(statistics, cell))
        writer.writerow(row)
    return out.getvalue()


def render(table: Mapping, fmt: str, metric: str) -> str:
    if fmt == "md":
        return render_markdown(table, metric)
    if fmt == "csv":
        return render_csv(table, metric)
    return json.dumps(table, indent=2) + "\n"
