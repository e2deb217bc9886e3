"""The HTML report parsed back: what each marked element of the page shows (the report tests compare it with JSON)."""
from html.parser import HTMLParser
from typing import Dict, List


class Page(HTMLParser):
    """Text of elements by id / data-* attributes (leaderboard and transfer-matrix cells, verdicts, breakdowns),
    every img src and alt, the transfer matrices' headers and every external reference."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: List[dict] = []
        self.cells: Dict[str, Dict[str, str]] = {}  # leaderboard data-cell -> class -> text
        self.verdicts: Dict[str, str] = {}
        self.gender: Dict[tuple, str] = {}
        self.speaker: Dict[tuple, str] = {}
        self.metric: Dict[tuple, str] = {}
        self.images: List[str] = []
        self.alts: List[str] = []
        self.entries: Dict[str, Dict[str, str]] = {}  # transfer-matrix data-matrix-cell -> class -> text
        self.matrix_headers: List[List[str]] = []
        self.external: List[str] = []
        self.scripts: List[str] = []
        self.text: List[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("src", "href"):
            if attrs.get(name, "").startswith(("http:", "https:", "//")):
                self.external.append(attrs[name])
        if tag == "img":
            self.images.append(attrs["src"])
            self.alts.append(attrs.get("alt", ""))
        if tag == "table" and "matrix" in attrs.get("class", ""):
            self.matrix_headers.append([])
        if tag in ("link",) or (tag == "script" and "src" in attrs):
            self.external.append(str(attrs))
        if tag not in ("img", "br", "meta", "link"):
            self.stack.append({"tag": tag, "attrs": attrs, "text": ""})

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1]["tag"] != tag:
            return
        node = self.stack.pop()
        if self.stack:
            self.stack[-1]["text"] += node["text"]
        attrs, text = node["attrs"], node["text"].strip()
        cell = next((n["attrs"].get("data-cell") for n in reversed(self.stack + [node])
                     if n["attrs"].get("data-cell") and n["tag"] == "td" and "cell" in n["attrs"].get("class", "")),
                    None)
        if cell and attrs.get("class") in ("mean", "std", "pooled", "ci", "paper", "diff", "mark", "differs"):
            self.cells.setdefault(cell, {})[attrs["class"]] = text
        if tag == "td" and "cell" in attrs.get("class", ""):
            self.cells.setdefault(attrs["data-cell"], {})["all"] = " ".join(text.split())
        entry = next((n["attrs"]["data-matrix-cell"] for n in reversed(self.stack) if "data-matrix-cell" in n["attrs"]),
                     None)
        if entry and attrs.get("class") in ("mean", "std", "pooled", "ci", "tag"):
            self.entries.setdefault(entry, {})[attrs["class"]] = " ".join(text.split())
        if tag == "th" and any(n["tag"] == "thead" for n in self.stack) and any(
                "matrix" in n["attrs"].get("class", "") for n in self.stack):
            self.matrix_headers[-1].append(" ".join(text.split()))
        if tag == "li" and "data-comparison" in attrs:
            self.verdicts[attrs["data-comparison"]] = " ".join(text.split())
        if tag == "td" and "data-gender" in attrs:
            self.gender[(self.stack[-1]["attrs"]["data-cell"], attrs["data-gender"])] = text
        if tag == "td" and "data-metric" in attrs:
            self.metric[(self.stack[-1]["attrs"]["data-cell"], attrs["data-metric"])] = text
        if tag == "td" and "data-speaker" in attrs:
            self.speaker[(attrs["data-cell"], attrs["data-speaker"])] = text
        if tag == "script" and attrs.get("id") == "report-data":
            self.scripts.append(node["text"])

    def handle_data(self, data):
        if self.stack:
            self.stack[-1]["text"] += data
        self.text.append(data)
