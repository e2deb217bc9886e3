"""Cells: the results of one (system, condition, test corpus), grouped from result files and checked.

A table (leaderboard, plots, bundles, statistics) is built from cells; results computed with
different fold files, or two results for the same fold, are refused.
"""
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..core.folds import FOLD_FILE, FOLDS, condition_label, condition_rank, fold_file_sha256
from ..core.labels import CORPORA, corpus_rank
from ..core.names import safe_system_name
from .paper import system_rank
from .schema import load_result_files

#: (source name, result) pairs: the source is a file path or a bundle member, used in messages.
Named = Tuple[str, Mapping]


class LeaderboardError(ValueError):
    """Results that cannot go into one table (mixed fold files, duplicates, nothing found)."""


#: Fold-level metrics that are averaged over seeds when a cell has several.
AVERAGED = ("uar", "wa", "macro_f1")


def seed_of(result: Mapping) -> Optional[int]:
    """The seed that tells runs of one cell apart: the result's ``init_seed``; for results written before it, the
    DNN's ``hyperparameters.init_seed``, else ``seed`` (the dev draw's, the same for every run of a study)."""
    if result.get("init_seed") is not None:
        return int(result["init_seed"])
    recorded = (result.get("hyperparameters") or {}).get("init_seed")
    if isinstance(recorded, int) and not isinstance(recorded, bool):
        return recorded
    return result.get("seed")


def seed_order(seed: Optional[int]) -> Tuple[bool, int]:
    return seed is None, seed or 0


@dataclass
class Cell:
    """All results of one (system, condition, test corpus) found so far: per seed, per fold."""

    system: str
    family: str
    condition: str
    corpus: str
    runs: Dict[Optional[int], Dict[int, Mapping]] = field(default_factory=dict)  # seed -> fold -> result
    sources: Dict[Tuple[Optional[int], int], str] = field(default_factory=dict)  # (seed, fold) -> file or member
    #: (seed, fold) -> the result's "warnings", when any
    seed_warnings: Dict[Tuple[Optional[int], int], List[str]] = field(default_factory=dict)
    pools: Dict[int, Tuple[str, ...]] = field(default_factory=dict)  # fold -> the result's "train_corpora"

    def add(self, result: Mapping, source: str = "") -> None:
        seed, fold = seed_of(result), int(result["fold"])
        self.runs.setdefault(seed, {})[fold] = result
        self.sources[(seed, fold)] = source
        if "train_corpora" in result:
            self.pools[fold] = tuple(result["train_corpora"])
        if result.get("warnings"):
            self.seed_warnings.setdefault((seed, fold), []).extend(str(w) for w in result["warnings"])

    def warnings_in_order(self) -> List[Tuple[Tuple[Optional[int], int], List[str]]]:
        """((seed, fold), messages) by fold, then seed."""
        return sorted(self.seed_warnings.items(), key=lambda item: (item[0][1], seed_order(item[0][0])))

    @property
    def warnings(self) -> Dict[int, List[str]]:
        """fold -> the warnings of its results (every seed's), in fold order."""
        found: Dict[int, List[str]] = {}
        for (_, fold), messages in self.warnings_in_order():
            found.setdefault(fold, []).extend(messages)
        return found

    def warning_places(self) -> List[Tuple[int, Optional[int], str]]:
        """(fold, seed, message) of every warning, each message once per fold and seed; the seed is None unless
        the cell has several (then a warning names the run it came from)."""
        several = len(self.runs) > 1
        return [(fold, seed if several else None, message)
                for (seed, fold), messages in self.warnings_in_order()
                for message in dict.fromkeys(messages)]

    @property
    def pool(self) -> Optional[Tuple[str, ...]]:
        """The training corpora shared by every fold (None when folds differ: see :func:`pool_problems`)."""
        found = set(self.pools.values())
        return next(iter(found)) if len(found) == 1 else None

    @property
    def seeds(self) -> List[Optional[int]]:
        return sorted(self.runs, key=seed_order)

    @property
    def fold_metrics(self) -> Dict[int, Mapping]:
        """fold -> the result's "metrics"; with several seeds, UAR, WA and macro-F1 averaged over the seeds that
        ran the fold and the confusion matrices summed."""
        folds = sorted({fold for runs in self.runs.values() for fold in runs})
        by_fold = {fold: [runs[fold]["metrics"] for runs in self.runs.values() if fold in runs] for fold in folds}
        if len(self.runs) == 1:
            return {fold: metrics[0] for fold, metrics in by_fold.items()}
        return {fold: dict({m: float(np.mean([x[m] for x in metrics])) for m in AVERAGED},
                           confusion_matrix=np.sum([x["confusion_matrix"] for x in metrics], axis=0).tolist())
                for fold, metrics in by_fold.items()}

    def seed_missing(self, seed: Optional[int]) -> List[int]:
        return [k for k in FOLDS if k not in self.runs.get(seed, {})]

    @property
    def missing(self) -> List[int]:
        """Folds that some seed lacks."""
        return [k for k in FOLDS if any(k not in runs for runs in self.runs.values())]

    @property
    def complete(self) -> bool:
        return not self.missing

    def percent(self, metric: str) -> Dict[int, float]:
        """fold -> metric in % (averaged over seeds), in fold order."""
        return {k: 100.0 * float(m[metric]) for k, m in sorted(self.fold_metrics.items())}

    def seed_percent(self, metric: str) -> Dict[Optional[int], float]:
        """seed -> mean over its folds of the metric in %."""
        return {seed: 100.0 * float(np.mean([r["metrics"][metric] for r in self.runs[seed].values()]))
                for seed in self.seeds}

    def confusion(self) -> np.ndarray:
        """Confusion matrix counts summed over the folds present (and over seeds: each utterance once per seed)."""
        return np.sum([np.asarray(m["confusion_matrix"]) for m in self.fold_metrics.values()], axis=0)


def cell_key(result: Mapping) -> Tuple[str, str, str, int]:
    """(system, condition name, test corpus, fold); the system by its shell-safe name (older results' names map
    to it); a transfer cell's condition name holds its training corpora."""
    return (safe_system_name(result["system"]), condition_label(result["condition"], result.get("train_corpora", ())),
            result["test_corpus"], int(result["fold"]))


def seeds_text(seed: Optional[int]) -> str:
    return "" if seed is None else f" seed {seed}"


def place_text(fold: int, seed: Optional[int]) -> str:
    """``fold 2``, or ``fold 2 seed 7`` in a cell of several seeds."""
    return f"fold {fold}{seeds_text(seed)}"


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
    """Two results claiming the same (system, condition, test corpus, fold, seed); other seeds may sit beside."""
    seen: Dict[Tuple, List[str]] = defaultdict(list)
    for name, result in items:
        seen[cell_key(result) + (seed_of(result),)].append(name)
    return [f"{' and '.join(names)} are both {system} {condition} {corpus} fold {fold}{seeds_text(seed)}; keep one"
            for (system, condition, corpus, fold, seed), names in seen.items() if len(names) > 1]


def installed_fold_warning(sha: str, data_fold_sha: Optional[str] = None) -> Optional[str]:
    """A warning when results were not computed with the fold file installed here, nor with the fold table
    (``data_fold_sha``, folds_v2) of the manifest given with ``--data``."""
    if sha in (fold_file_sha256(), data_fold_sha):
        return None
    return (f"warning: the results used fold file sha256 {sha[:12]}…, not the installed {FOLD_FILE.name} "
            f"({fold_file_sha256()[:12]}…); they are not comparable with results made by this installation "
            "on another fold file (a manifest with corpora beyond the paper's three has its own: folds_v2.json "
            "in its DATA_DIR, see `folds --data`)")


def table_order(cell: Cell) -> Tuple:
    """Rows (systems in the paper's order), then corpora, then conditions."""
    return system_rank(cell.system, cell.family), corpus_rank(cell.corpus), condition_rank(cell.condition)


def collect_cells(results: Iterable[Mapping], sources: Optional[Iterable[str]] = None) -> List[Cell]:
    """Group results (named by ``sources`` in messages) by (system, condition, test corpus), in table order."""
    cells: Dict[Tuple[str, str, str], Cell] = {}
    results = list(results)
    for result, source in zip(results, sources if sources is not None else [""] * len(results)):
        system, condition, corpus, _ = cell_key(result)
        cell = cells.setdefault((system, condition, corpus), Cell(system, result["family"], condition, corpus))
        cell.add(result, source)
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
    return collect_pairs(pairs), pairs[0][1]["fold_file_sha256"]


def collect_pairs(pairs: Sequence[Tuple[Path, Mapping]]) -> List[Cell]:
    """:func:`collect_cells` of (path, result) pairs, each result named by its path."""
    return collect_cells([result for _, result in pairs], [str(path) for path, _ in pairs])


def mean_std_text(cell: Mapping, metric: str, folds_word: str = " folds") -> str:
    """``mean ± std`` of a summary cell's ``metric``; ``* (3/5 folds)`` after it when folds are missing."""
    stats = cell["metrics"][metric]
    std = "n/a" if stats["std"] is None else f"{stats['std']:.2f}"
    text = f"{stats['mean']:.2f} ± {std}"
    if not cell["complete"]:
        text += f"* ({len(FOLDS) - len(cell['missing_folds'])}/{len(FOLDS)}{folds_word})"
    return text
