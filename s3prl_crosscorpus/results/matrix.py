"""The transfer matrix of each system: rows = training corpora (one corpus or a pool), columns = test corpus.

Every cell of a table has a training pool (its results' ``train_corpora``), so the matrix is a view of
the leaderboard's cells keyed by (system, training corpora, test corpus), whatever their condition:
the diagonal is ``matched``, the whole pool tested on one of its corpora is ``extended``, the pool less
the test corpus ``loco``, any other pairing a ``transfer`` cell (``from-<corpora>``). It is drawn only
for systems with a transfer cell. Built from the table's JSON (:func:`.leaderboard.summary`), so a
bundle's summary renders the same matrix.
"""
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from ..core.folds import condition_rank, is_transfer_label
from ..core.labels import corpus_rank, display_name
from .cells import mean_std_text
from .significance import FEW_SPEAKERS, few_speakers_mark, interval_text, markdown_table

Pool = Tuple[str, ...]
#: Tag of a matrix entry whose cell has another condition than transfer (the diagonal, matched, has none).
CONDITION_TAGS: Dict[str, str] = {"matched": "", "extended": " (ext)", "loco": " (loco)"}


def display(corpus: str) -> str:
    return display_name(corpus)


def pool_name(pool: Sequence[str]) -> str:
    return "+".join(display(c) for c in pool) or "mixed pools"


def pool_rank(pool: Pool) -> Tuple:
    """Rows: single corpora in table order, then larger pools."""
    return len(pool) > 1, len(pool), [corpus_rank(c) for c in pool]


def matrix_systems(table: Mapping) -> List[str]:
    """Systems (in row order) with at least one transfer cell."""
    found = {c["system"] for c in table["cells"] if is_transfer_label(c["condition"])}
    return [system for system in table["rows"] if system in found]


def system_matrix(table: Mapping, system: str) -> dict:
    """One system's matrix: ``rows`` (training pools), ``columns`` (test corpora) and ``cells[row][column]``
    (the table cell, or None); when two cells share an entry the first condition in table order is shown."""
    mine = sorted((c for c in table["cells"] if c["system"] == system and c.get("train_corpora")),
                  key=lambda c: condition_rank(c["condition"]))
    entries: Dict[Tuple[Pool, str], Mapping] = {}
    for cell in mine:
        entries.setdefault((tuple(cell["train_corpora"]), cell["test_corpus"]), cell)
    rows = sorted({pool for pool, _ in entries}, key=pool_rank)
    columns = sorted({corpus for _, corpus in entries}, key=corpus_rank)
    return {"system": system, "rows": [list(r) for r in rows], "columns": columns,
            "cells": [[entries.get((row, col)) for col in columns] for row in rows]}


def interval_of(table: Mapping, cell: Mapping) -> Optional[Mapping]:
    """The cell's speaker-level statistics entry, when the table carries statistics."""
    stats = table.get("statistics") or {}
    key = (cell["system"], cell["condition"], cell["test_corpus"])
    return next((e for e in stats.get("cells", []) if (e["system"], e["condition"], e["test_corpus"]) == key), None)


def entry_text(table: Mapping, cell: Optional[Mapping], metric: str) -> str:
    """``mean ± std`` (``*`` incomplete, ``!`` marked), the condition when not transfer, and with statistics
    (UAR) the pooled UAR with its speaker-bootstrap interval."""
    if cell is None:
        return "–"
    text = mean_std_text(cell, metric, folds_word="")
    if cell.get("warnings"):
        text += " !"
    text += CONDITION_TAGS.get(cell["condition"], "")
    interval = interval_of(table, cell) if metric == "uar" else None
    if interval is not None:
        text += "; " + interval_text(interval)
    return text


def render_matrices(table: Mapping, metric: str = "uar", metric_name: str = "UAR") -> str:
    """Every system's transfer matrix as markdown, with notes; empty when no system has a transfer cell."""
    systems = matrix_systems(table)
    if not systems:
        return ""
    lines: List[str] = []
    for system in systems:
        matrix = system_matrix(table, system)
        test_only = table.get("test_only") or {}
        header = ["train \\ test"] + [display(c) + (" (test-only)" if c in test_only else "")
                                        for c in matrix["columns"]]
        body = [[pool_name(row)] + [entry_text(table, cell, metric) for cell in cells]
                for row, cells in zip(matrix["rows"], matrix["cells"])]
        lines += [f"Transfer matrix of {system}: {metric_name} (%) by training corpora (rows) and test corpus "
                  f"(columns)", ""] + markdown_table(header, body) + [""]
    notes = [f"Each entry: mean ± spread over the {len(table['folds'])} folds (train on the row's corpora' fold-k "
             "training partitions, test on the column's fold-k test partition); the diagonal is matched, (ext) "
             "marks the extended cell of the declared pool, (loco) the pool less the test corpus; –: not run. "
             "No paper figures: the paper reports matched and extended only."]
    if table.get("test_only"):
        names = ", ".join(display(c) for c in table["test_only"])
        notes.append(f"(test-only): {names} has too few speakers for speaker-independent folds: never trained on "
                     "(no matched cell, no row), tested whole in every fold; its transfer cells are compared with "
                     "its extended cell (the same test utterances).")
    if metric == "uar" and table.get("statistics"):
        if any(few_speakers_mark(entry) for entry in table["statistics"]["cells"]):
            notes.append(f"(k spk): an interval resampled from fewer than {FEW_SPEAKERS} speakers (a test-only "
                         "corpus): it says little.")
        level = round(100 * table["statistics"]["method"]["confidence"])
        notes.append(f"After ';': pooled UAR over all test utterances with its {level}% speaker-bootstrap interval; "
                     "each transfer cell is compared with the matched cell of its column (same test utterances; a test-only "
                     "column: its extended cell) "
                     "in the paired differences below the main table.")
    return "\n".join(lines + notes) + "\n"
