"""The report's figures as base64 PNG data URIs: the paired differences as a forest plot, the condition chart and
the confusion matrices of :mod:`..results.plots`."""
import base64
import io
from typing import Dict, Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..core.labels import display_name
from ..results.cells import Cell
from ..results.matrix import matrix_systems
from ..results.plots import comparison_figure, confusion_figure, fold_note, matrix_figure
from .verdicts import comparison_name


def data_uri(fig: Figure, dpi: int = 96) -> str:
    """``data:image/png;base64,...`` of ``fig``."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def forest_figure(comparisons: Sequence[Mapping], alpha: float) -> Figure:
    """One row per available comparison: B − A in UAR points with its interval; filled where Holm's p ≤ alpha."""
    shown = [c for c in comparisons if c["available"]]
    fig = Figure(figsize=(7.5, 0.9 + 0.42 * max(len(shown), 1)))
    ax = fig.add_subplot()
    for y, entry in enumerate(reversed(shown)):
        colour = "#c44e52" if entry["significant"] else "#4c72b0"
        ax.plot(entry["ci"], [y, y], color=colour, linewidth=2)
        ax.plot([entry["diff"]], [y], "o", color=colour, markerfacecolor=colour if entry["significant"] else "white",
                markersize=7)
    ax.axvline(0.0, color="grey", linestyle=":", linewidth=1)
    ax.set_yticks(range(len(shown)), [comparison_name(c) for c in reversed(shown)], fontsize=8)
    ax.set_ylim(-0.7, len(shown) - 0.3)
    ax.set_xlabel("difference of pooled UAR, B − A (points), with 95% paired speaker-bootstrap interval")
    ax.set_title(f"filled: differs at α = {alpha:g} after Holm's correction; open: no evidence of a difference",
                 fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return fig


def report_figures(cells: Sequence[Cell], table: Mapping) -> Dict[str, object]:
    """forest, chart, transfer matrices (system -> URI) and confusion (``system/condition/corpus`` -> URI)."""
    stats = table.get("statistics") or {"comparisons": [], "method": {"alpha": 0.05}}
    figures: Dict[str, object] = {"chart": data_uri(comparison_figure(table)), "forest": None}
    if any(c["available"] for c in stats["comparisons"]):
        figures["forest"] = data_uri(forest_figure(stats["comparisons"], stats["method"]["alpha"]))
    figures["matrices"] = {system: data_uri(matrix_figure(table, system)) for system in matrix_systems(table)}
    figures["confusion"] = {
        f"{c.system}/{c.condition}/{c.corpus}": data_uri(confusion_figure(
            c.confusion(), f"{c.system} · {c.condition} · {display_name(c.corpus)}\n"
                           f"{int(c.confusion().sum())} test utterances, {fold_note(c)}"), dpi=72)
        for c in cells}
    return figures
