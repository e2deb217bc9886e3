"""Cells: the results of one (system, condition, test corpus), grouped from result files and checked.

A table (leaderboard, plots, bundles, statistics) is built from cells; results computed with
different fold files, or two results for the same fold, are refused.
"""
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..core.folds import CONDITIONS, FOLD_FILE, FOLDS, fold_file_sha256
from ..core.labels import CORPORA
from .paper import system_rank
from .schema import load_result_files

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
    warnings: Dict[int, List[str]] = field(default_factory=dict)  # fold -> the result's "warnings", when any
    pools: Dict[int, Tuple[str, ...]] = field(default_factory=dict)  # fold -> the result's "train_corpora"

    @property
    def pool(self) -> Optional[Tuple[str, ...]]:
        """The training corpora shared by every fold (None when folds differ: see :func:`pool_problems`)."""
        found = set(self.pools.values())
        return next(iter(found)) if len(found) == 1 else None

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


def table_order(cell: Cell) -> Tuple:
    """Rows (systems in the paper's order), then corpora, then conditions."""
    return system_rank(cell.system, cell.family), CORPORA.index(cell.corpus), CONDITIONS.index(cell.condition)


def collect_cells(results: Iterable[Mapping]) -> List[Cell]:
    """Group results by (system, condition, test corpus), in table order (rows, then columns)."""
    cells: Dict[Tuple[str, str, str], Cell] = {}
    for result in results:
        system, condition, corpus, fold = cell_key(result)
        cell = cells.setdefault((system, condition, corpus), Cell(system, result["family"], condition, corpus))
        cell.fold_metrics[fold] = result["metrics"]
        if "train_corpora" in result:
            cell.pools[fold] = tuple(result["train_corpora"])
        if result.get("warnings"):
            cell.warnings[fold] = list(result["warnings"])
    return sorted(cells.values(), key=table_order)


def pool_problems(items: Sequence[Named]) -> List[str]:
    """Folds of one (system, condition, test corpus) trained on different corpus pools cannot be averaged."""
    pools: Dict[Tuple, Dict[Tuple[str, ...], List[str]]] = defaultdict(lambda: defaultdict(list))
    for name, result in items:
        if "train_corpora" in result:
            pools[cell_key(result)[:3]][tuple(result["train_corpora"])].append(name)
    return [f"{system} {condition} {corpus}: folds trained on different corpus pools ("
            + "; ".join(f"{'+'.join(pool)} in {', '.join(names[:2])}" for pool, names in sorted(found.items()))
            + "); keep one pool per cell"
            for (system, condition, corpus), found in pools.items() if len(found) > 1]


def check_table(items: Sequence[Named]) -> None:
    """Raise :class:`LeaderboardError` listing every reason ``items`` cannot share a table."""
    problems = fold_hash_problems(items) + duplicate_problems(items) + pool_problems(items)
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
