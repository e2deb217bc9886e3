"""Result warnings grouped for reading: each distinct message once, with every place (cell, fold, seed) it occurs.

One source of truth for a warning's kind (grid edge, degenerate training, other) and for the compact place text
(``GeMAPS-SVM from-iemocap emodb folds 1-3, 5``) used by the leaderboard's notes, the report and the stage output.
Only the rendering groups: the summary JSON and the bundle keep every warning per fold.
"""
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from .cells import place_text

#: Warning kinds in display order; ``other`` takes any message not of a known kind.
KINDS: Tuple[str, ...] = ("grid edge", "degenerate training", "other")
#: From this many warnings on, the leaderboard's notes start with a one-line count by kind.
MANY_WARNINGS = 4


class Place(NamedTuple):
    """Where one warning occurred: a cell's fold, and the seed's run in a cell of several seeds."""
    system: str
    condition: str
    corpus: str
    fold: int
    seed: Optional[int] = None


def warning_kind(message: str) -> str:
    """``grid edge``, ``degenerate training`` or ``other``."""
    if "on the edge of the" in message:
        return "grid edge"
    return "degenerate training" if message.startswith("degenerate training") else "other"


def group_by_message(warnings: Iterable[Tuple[Place, str]]) -> List[dict]:
    """``{"message", "kind", "places"}`` per distinct message, in the order messages first occur."""
    groups: Dict[str, List[Place]] = {}
    for place, message in warnings:
        places = groups.setdefault(message, [])
        if place not in places:
            places.append(place)
    return [{"message": message, "kind": warning_kind(message), "places": places}
            for message, places in groups.items()]


def fold_ranges(folds: Iterable[int]) -> str:
    """``1-3, 5`` for folds 1, 2, 3, 5."""
    runs: List[List[int]] = []
    for fold in sorted(set(folds)):
        if runs and fold == runs[-1][-1] + 1:
            runs[-1].append(fold)
        else:
            runs.append([fold])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def folds_text(folds: Sequence[int], seed: Optional[int] = None) -> str:
    """``fold 2`` / ``folds 1-3, 5``, with `` seed S`` in a cell of several seeds."""
    if len(set(folds)) == 1:
        return place_text(folds[0], seed)
    return f"folds {fold_ranges(folds)}{'' if seed is None else f' seed {seed}'}"


def places_text(places: Sequence[Place]) -> str:
    """``SYSTEM CONDITION CORPUS folds 1-3, 5; ...``: one part per cell (and seed), in the order first met."""
    folds: Dict[Tuple[str, str, str, Optional[int]], List[int]] = {}
    for p in places:
        folds.setdefault((p.system, p.condition, p.corpus, p.seed), []).append(p.fold)
    return "; ".join(f"{system} {condition} {corpus} {folds_text(found, seed)}"
                     for (system, condition, corpus, seed), found in folds.items())


def warning_lines(warnings: Sequence[Tuple[Place, str]]) -> List[str]:
    """The notes' ``!`` lines: one per distinct message; a message at one place keeps the single-place form
    ``! SYSTEM CONDITION CORPUS fold K: MESSAGE``; with many warnings a count by kind comes first."""
    groups = group_by_message(warnings)
    lines = [f"! {places_text(g['places'])}: {g['message']}" if len(g["places"]) == 1
             else f"! {g['message']} — {places_text(g['places'])}" for g in groups]
    total = sum(len(g["places"]) for g in groups)
    if total >= MANY_WARNINGS:
        lines.insert(0, summary_line(groups))
    return lines


def kind_counts(groups: Sequence[dict]) -> Dict[str, int]:
    """Warnings (places) per kind, in :data:`KINDS` order, kinds with none left out."""
    counts = {kind: sum(len(g["places"]) for g in groups if g["kind"] == kind) for kind in KINDS}
    return {kind: n for kind, n in counts.items() if n}


def summary_line(groups: Sequence[dict]) -> str:
    """``Warnings: 44 in 20 cell(s): 30 grid edge, 14 degenerate training; each below with its places``."""
    places = [p for g in groups for p in g["places"]]
    cells = {(p.system, p.condition, p.corpus) for p in places}
    kinds = ", ".join(f"{n} {kind}" for kind, n in kind_counts(groups).items())
    return f"Warnings: {len(places)} in {len(cells)} cell(s): {kinds}; each below with its places"


def counted_messages(messages: Iterable[str]) -> str:
    """``msg (3 folds); other msg``: distinct messages in order, a count where one repeats."""
    counts: Dict[str, int] = {}
    for message in messages:
        counts[message] = counts.get(message, 0) + 1
    return "; ".join(m if n == 1 else f"{m} ({n} folds)" for m, n in counts.items())
