"""Render the report's values into one self-contained HTML page with jinja2 (template shipped as package data)."""
import json
from pathlib import Path
from typing import Mapping, Optional

from ..core.io_utils import atomic_open
from ..core.labels import LABELS, display_name
from ..results.significance import p_text
from .verdicts import signed

TEMPLATES = Path(__file__).with_name("templates")
TEMPLATE = "report.html.j2"


def number(value: Optional[float], digits: int = 2) -> str:
    """``61.23``; ``n/a`` for None."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def interval(ci) -> str:
    """``[58.10, 64.02]``."""
    return f"[{number(ci[0])}, {number(ci[1])}]"


def signed_interval(ci) -> str:
    """``[−7.50, +12.50]`` (a difference's interval)."""
    return f"[{signed(ci[0])}, {signed(ci[1])}]"


def environment():
    """The jinja2 environment (autoescaping on; the filters the template uses)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(number=number, interval=interval, signed_interval=signed_interval, signed=signed, p=p_text,
                       corpus=display_name)
    return env


def render_html(context: Mapping) -> str:
    """The page; the table's JSON rides along in a ``<script type="application/json">`` for machines."""
    data = json.dumps(context["table"], indent=None, sort_keys=True).replace("</", "<\\/")
    table = context["table"]
    stats = table.get("statistics") or {"cells": [], "comparisons": [], "family": [], "family_size": 0,
                                        "method": {"alpha": 0.05, "confidence": 0.95, "resamples": 0, "seed": 0}}
    cells = {cell_key(c): c for c in table["cells"]}
    intervals = {cell_key(c): c for c in stats["cells"]}
    return environment().get_template(TEMPLATE).render(**context, labels=LABELS, table_json=data, stats=stats,
                                                       cells=cells, intervals=intervals, key=cell_key)


def cell_key(cell: Mapping) -> str:
    """``system|condition|corpus``: how the page names a cell (its ``data-cell`` attribute)."""
    return f"{cell['system']}|{cell['condition']}|{cell['test_corpus']}"


def write_html(path: Path, html: str) -> Path:
    """Write the page atomically."""
    with atomic_open(Path(path), "w", encoding="utf-8") as handle:
        handle.write(html)
    return Path(path)
