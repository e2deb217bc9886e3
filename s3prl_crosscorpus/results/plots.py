"""Plots: confusion matrices summed over folds and a matched-vs-extended chart (with the speaker-bootstrap
intervals when the table carries statistics), as PNG files.

Figures use matplotlib's object API on the Agg canvas, so importing this module never changes
the caller's pyplot backend.
"""
import re
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..core.folds import CONDITIONS, FOLDS
from ..core.io_utils import atomic_open
from ..core.labels import LABELS, corpus_order, display_name
from .cells import Cell
from .leaderboard import METRIC_NAMES, shows_paper
from .paper import PAPER_METRIC

CONDITION_COLOURS = {"matched": "#4c72b0", "extended": "#dd8452", "loco": "#55a868"}


def save_png(fig: Figure, path: Path) -> Path:
    """Render ``fig`` to ``path`` atomically."""
    FigureCanvasAgg(fig)
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120, bbox_inches="tight")
    return Path(path)


def safe_name(*parts: str) -> str:
    """A file name from free-form parts (system names may hold any character)."""
    return "_".join(re.sub(r"[^A-Za-z0-9.-]+", "-", part) for part in parts)


def fold_note(cell: Cell) -> str:
    if cell.complete:
        return f"folds {FOLDS[0]}-{FOLDS[-1]} summed"
    return f"folds {', '.join(map(str, sorted(cell.fold_metrics)))} of {len(FOLDS)} summed (INCOMPLETE)"


def confusion_figure(counts: np.ndarray, title: str) -> Figure:
    """Row-normalised % as colour, each box annotated with the count and the row %."""
    counts = np.asarray(counts, dtype=int)
    support = counts.sum(axis=1, keepdims=True)
    percent = np.divide(100.0 * counts, support, out=np.zeros(counts.shape), where=support > 0)
    fig = Figure(figsize=(4.8, 4.2))
    ax = fig.add_subplot()
    image = ax.imshow(percent, cmap="Blues", vmin=0, vmax=100)
    for i in range(len(LABELS)):
        for j in range(len(LABELS)):
            colour = "white" if percent[i, j] > 55 else "black"
            ax.text(j, i, f"{counts[i, j]}\n{percent[i, j]:.1f}%", ha="center", va="center", color=colour, fontsize=9)
    ax.set_xticks(range(len(LABELS)), LABELS)
    ax.set_yticks(range(len(LABELS)), [f"{lab} ({n})" for lab, n in zip(LABELS, support[:, 0])])
    ax.set_xlabel("predicted")
    ax.set_ylabel("reference (utterances)")
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="% of reference row")
    return fig


def plot_confusions(cells: Sequence[Cell], out_dir: Path) -> List[Path]:
    """One PNG per (system, condition, corpus): counts summed over folds, with row %."""
    paths = []
    for cell in cells:
        title = (f"{cell.system} · {cell.condition} · {display_name(cell.corpus)}\n"
                 f"{int(cell.confusion().sum())} test utterances, {fold_note(cell)}")
        path = Path(out_dir) / f"confusion_{safe_name(cell.system, cell.condition, cell.corpus)}.png"
        paths.append(save_png(confusion_figure(cell.confusion(), title), path))
    return paths


def draw_intervals(ax, x: np.ndarray, entries: Sequence[Optional[Mapping]], offset: float) -> bool:
    """Pooled UAR and its speaker-bootstrap interval beside each bar that has them; True when any was drawn."""
    points = [(xi + offset, e["uar"], e["ci"]) for xi, e in zip(x, entries) if e and e["available"]]
    if not points:
        return False
    xs, ys, cis = zip(*points)
    errors = np.array([[y - ci[0] for y, ci in zip(ys, cis)], [ci[1] - y for y, ci in zip(ys, cis)]])
    ax.errorbar(xs, ys, yerr=errors, fmt="o", color="black", markersize=3, capsize=2, elinewidth=1.2, zorder=4)
    return True


def mark_significant(ax, x: np.ndarray, entries: Sequence[Optional[Mapping]], versus: Sequence[Optional[Mapping]],
                     offset: float) -> bool:
    """``*`` above the interval of each cell whose difference to matched survives Holm; True when any was drawn."""
    marked = False
    for xi, entry, comparison in zip(x, entries, versus):
        if entry and entry["available"] and comparison and comparison.get("significant"):
            ax.annotate("*", (xi + offset, entry["ci"][1] + 1.0), ha="center", fontsize=11, weight="bold")
            marked = True
    return marked


def statistics_lookup(table: Mapping, metric: str) -> Tuple[Dict[Tuple[str, str, str], Mapping], Dict]:
    """(cell key -> interval entry, cell key -> its comparison with matched) from the table's statistics, if any."""
    stats = table.get("statistics") if metric == PAPER_METRIC else None
    if not stats:
        return {}, {}
    cells = {(c["system"], c["test_corpus"], c["condition"]): c for c in stats["cells"]}
    versus = {(c["b"]["system"], c["test_corpus"], c["b"]["condition"]): c for c in stats["comparisons"]
              if c["available"] and c["a"]["condition"] == "matched" and c["a"]["system"] == c["b"]["system"]}
    return cells, versus


def wrap_name(name: str, width: int = 16) -> str:
    """A system name broken into lines for a tick label: before ``[`` and at ``-``/``+`` past ``width``."""
    parts = re.split(r"(?=\[)|(?<=[-+=])", name)
    lines, line = [], ""
    for part in parts:
        if line and (part.startswith("[") or len(line) + len(part) > width):
            lines.append(line)
            line = ""
        line += part
    return "\n".join(lines + [line])


def comparison_figure(table: Mapping, metric: str = "uar") -> Figure:
    """Per corpus, per system: one bar per condition (mean over folds), error bars = spread, paper as diamonds;
    with the table's statistics, the pooled UAR with its speaker-bootstrap interval beside each bar and ``*``
    where the difference to matched survives Holm's correction. Cells with a warning get ``!``, missing cells
    ``×``, incomplete ones are hatched; the axis reaches above 100 when an error bar does."""
    corpora = list(corpus_order(col["corpus"] for col in table["columns"]))
    by_key = {(c["system"], c["test_corpus"], c["condition"]): c for c in table["cells"]}
    intervals, versus = statistics_lookup(table, metric)
    shown = {"interval": False, "star": False, "hatch": False, "warning": False, "missing": False, "paper": False}
    fig = Figure(figsize=(1.6 + 1.35 * len(table["rows"]) * len(corpora), 5.2), layout="constrained")
    axes = fig.subplots(1, len(corpora), sharey=True, squeeze=False)[0]
    shown_conditions, top, pools = set(), 100.0, {}
    for ax, corpus in zip(axes, corpora):
        conditions = [c for c in CONDITIONS if {"corpus": corpus, "condition": c} in table["columns"]]
        systems = [s for s in table["rows"] if any((s, corpus, c) in by_key for c in conditions)]
        width = 0.8 / len(conditions)
        for k, condition in enumerate(conditions):
            x = np.arange(len(systems)) - 0.4 + width * (k + 0.5)
            cells = [by_key.get((s, corpus, condition)) for s in systems]
            means = [c["metrics"][metric]["mean"] if c else np.nan for c in cells]
            errors = [(c["metrics"][metric]["std"] or 0.0) if c else 0.0 for c in cells]
            bars = ax.bar(x, means, width, yerr=errors, capsize=3, color=CONDITION_COLOURS.get(condition),
                          edgecolor="black", linewidth=0.5, ecolor="0.45" if intervals else "black")
            entries = [intervals.get((s, corpus, condition)) for s in systems]
            highs = [max(m + e, (n["ci"][1] if n and n["available"] else 0.0)) if c else 0.0
                     for c, m, e, n in zip(cells, means, errors, entries)]
            top = max([top] + [h for h in highs if np.isfinite(h)])
            if intervals:
                shown["interval"] |= draw_intervals(ax, x, entries, width * 0.22)
                shown["star"] |= mark_significant(ax, x, entries,
                                                  [versus.get((s, corpus, condition)) for s in systems], width * 0.22)
            shown_conditions.add(condition)
            for xi, bar, cell, high in zip(x, bars, cells, highs):
                if cell is None:
                    ax.annotate("×", (xi, 2.0), ha="center", fontsize=10, color="0.35")
                    shown["missing"] = True
                    continue
                label = ""
                if not cell["complete"]:
                    bar.set_hatch("//")
                    label = f"{len(cell['folds'])}/{len(FOLDS)}"
                    shown["hatch"] = True
                if cell.get("warnings"):
                    label = (label + " !").strip()
                    shown["warning"] = True
                if label:
                    ax.annotate(label, (xi, high + 1.5), ha="center", fontsize=7, color="#a35200", weight="bold")
            paper = [c["paper_uar"] if shows_paper(c) else np.nan for c in cells]  # only cells on the paper's pool
            pools.update({(s, corpus, condition): c["pool_label"] for s, c in zip(systems, cells)
                          if c and c.get("pool_label")})
            if metric == PAPER_METRIC and not np.all(np.isnan(paper)):
                ax.plot(x, paper, "D", color="white", markeredgecolor="black", markersize=5, zorder=3)
                shown["paper"] = True
        ax.axhline(100.0 / len(LABELS), color="grey", linestyle=":", linewidth=1)
        ax.set_xticks(range(len(systems)), [wrap_name(s) for s in systems], rotation=30, ha="right",
                      rotation_mode="anchor", fontsize=8)
        ax.set_title(display_name(corpus))
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylim(0, max(100.0, top + 6.0))
    label = f"{METRIC_NAMES[metric]} (%); bars: mean over folds, whiskers: sample std"
    if shown["interval"]:
        label += f"\ndots: pooled UAR, {round(100 * table['statistics']['method']['confidence'])}% speaker CI"
    axes[0].set_ylabel(label, fontsize=9)
    handles = [Patch(facecolor=CONDITION_COLOURS[c], edgecolor="black", label=c) for c in CONDITIONS
               if c in shown_conditions]
    if shown["paper"]:
        handles.append(Line2D([], [], marker="D", linestyle="", color="white", markeredgecolor="black",
                              label="paper"))
    if shown["interval"]:
        level = round(100 * table["statistics"]["method"]["confidence"])
        handles.append(Line2D([], [], marker="o", markersize=3, color="black",
                              label=f"pooled, {level}% speaker-bootstrap CI"))
    fig.legend(handles=handles, loc="outside upper center", ncol=len(handles), frameon=False)
    note = chart_note(table, shown)
    for (system, corpus, condition), label in pools.items():  # extended/loco not on the paper's three corpora
        note += f"\n{system} {condition} {display_name(corpus)}: {label}"
    fig.supxlabel(note, fontsize=7, x=0.01, ha="left")
    return fig


def chart_note(table: Mapping, shown: Mapping[str, bool]) -> str:
    """The footnote: only the marks the chart shows."""
    notes = ["dotted: chance level"]
    if shown["hatch"]:
        notes.append("hatched, k/5: incomplete cell (folds present / 5)")
    if shown["warning"]:
        notes.append("!: a result of the cell carries a warning (leaderboard notes)")
    if shown["missing"]:
        notes.append("×: no result")
    if shown["star"]:
        method = table["statistics"]["method"]
        notes.append(f"*: differs from matched (paired speaker test, Holm across "
                     f"{table['statistics']['family_size']} comparisons, α = {method['alpha']:g})")
    return "; ".join(notes)


def plot_comparison(table: Mapping, out_dir: Path, metric: str = "uar") -> Path:
    return save_png(comparison_figure(table, metric), Path(out_dir) / f"{metric}_by_condition.png")


def plot_all(cells: Sequence[Cell], table: Mapping, out_dir: Path, metric: str = "uar") -> List[Path]:
    """Every confusion matrix and the condition comparison chart of ``table`` (the cells' summary); PNG paths."""
    return plot_confusions(cells, out_dir) + [plot_comparison(table, out_dir, metric)]
