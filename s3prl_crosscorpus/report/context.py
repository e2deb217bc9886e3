"""Everything the report shows, as plain values computed from a results folder (and optionally its DATA_DIR)."""
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..core.corpora.emodb import EMODB_SPEAKERS
from ..core.corpora.ravdess import ravdess_gender
from ..core.folds import FOLDS, condition_rank
from ..core.io_utils import read_json
from ..core.labels import LABELS, corpus_order, display_name
from ..core.metrics import per_class_recall, uar, uar_from_confusion
from ..results.cells import Cell, load_cells, place_text
from ..results.leaderboard import summary
from ..results.matrix import CONDITION_TAGS, interval_of, matrix_systems, pool_name, system_matrix
from ..results.provenance import provenance
from ..results.significance import few_speakers_mark, table_statistics
from ..results.speakers import SpeakerError, resolve_speakers
from ..results.stats import StatsConfig
from ..results.warning_groups import warning_kind
from .figures import report_figures
from .render import cell_key
from .verdicts import comparison_name, verdict

GENDERS = {"F": "female", "M": "male"}


def speaker_gender(corpus: str, speaker: str) -> Optional[str]:
    """``F``/``M`` by the corpus' documented speakers (EmoDB list, RAVDESS odd/even actor, IEMOCAP SesNNF/M)."""
    if corpus == "emodb":
        return EMODB_SPEAKERS.get(speaker)
    if corpus == "ravdess" and speaker.startswith("Actor_") and speaker[6:].isdigit():
        return ravdess_gender(int(speaker[6:]))
    if corpus == "iemocap" and speaker[-1:] in GENDERS:
        return speaker[-1]
    return None


def cell_rows(cell: Cell, speakers: Optional[Mapping[str, str]]) -> Dict[Optional[int], List[Tuple[Mapping, str]]]:
    """seed -> (prediction row, speaker) of every fold (raises SpeakerError when a speaker is unknown)."""
    found = {}
    for seed in cell.seeds:
        pairs = []
        for fold, result in sorted(cell.runs[seed].items()):
            names, _ = resolve_speakers(result["predictions"], cell.corpus, speakers, "manifest",
                                        cell.sources.get((seed, fold), ""))
            pairs += list(zip(result["predictions"], names))
        found[seed] = pairs
    return found


def group_uar(rows: Mapping[Optional[int], Sequence[Tuple[Mapping, str]]], group_of) -> Dict[str, dict]:
    """group -> UAR in % (mean over seeds) and utterance count, for the groups ``group_of(row, speaker)`` names."""
    groups: Dict[str, List[float]] = defaultdict(list)
    counts: Dict[str, int] = {}
    for pairs in rows.values():
        by_group: Dict[str, List[Mapping]] = defaultdict(list)
        for row, speaker in pairs:
            group = group_of(row, speaker)
            if group is not None:
                by_group[group].append(row)
        for group, members in by_group.items():
            groups[group].append(100.0 * uar([r["label"] for r in members], [r["prediction"] for r in members]))
            counts[group] = len(members)
    return {g: {"uar": float(np.mean(v)), "n": counts[g]} for g, v in sorted(groups.items())}


def breakdowns(cells: Sequence[Cell], speakers: Optional[Mapping[str, str]],
               genders: Optional[Mapping[str, str]]) -> dict:
    """Per cell: UAR by speaker gender and by speaker (over all folds, mean over seeds); cells without speakers named."""
    out = {"cells": [], "missing": []}
    for cell in cells:
        try:
            rows = cell_rows(cell, speakers)
        except SpeakerError as err:
            out["missing"].append(str(err))
            continue
        gender = (lambda row, spk: (genders or {}).get(row["id"]) or speaker_gender(cell.corpus, spk))
        out["cells"].append({"system": cell.system, "condition": cell.condition, "test_corpus": cell.corpus,
                             "complete": cell.complete,
                             "gender": {GENDERS.get(g, g): v for g, v in group_uar(rows, gender).items()},
                             "speaker": group_uar(rows, lambda row, spk: spk)})
    return out


def tested_corpora(cells: Sequence[Cell]) -> Tuple[str, ...]:
    """Every test corpus of the cells (the paper's, the registry's, one's own), in table order."""
    return corpus_order({c.corpus for c in cells})


def transfer_matrices(table: Mapping) -> List[dict]:
    """Per system with a transfer cell: its matrix (rows = training pools, columns = test corpora), each entry the
    cell's mean ± std over folds, its condition tag and, with statistics, the pooled UAR's speaker interval."""
    out = []
    for system in matrix_systems(table):
        matrix = system_matrix(table, system)
        test_only = table.get("test_only") or {}  # a column only: marked as in the markdown matrix
        out.append({"system": system, "columns": [display_name(c) + (" (test-only)" if c in test_only else "")
                                                  for c in matrix["columns"]],
                    "rows": [{"name": pool_name(pool), "entries": [matrix_entry(table, cell) for cell in cells]}
                             for pool, cells in zip(matrix["rows"], matrix["cells"])]})
    return out


def matrix_entry(table: Mapping, cell: Optional[Mapping]) -> Optional[dict]:
    """One matrix entry's values (None: not run)."""
    if cell is None:
        return None
    interval = interval_of(table, cell)
    return {"key": cell_key(cell), "condition": cell["condition"],
            "tag": CONDITION_TAGS.get(cell["condition"], "").strip(), "uar": cell["metrics"]["uar"],
            "complete": cell["complete"], "warned": bool(cell.get("warnings")), "interval": interval,
            "few": few_speakers_mark(interval or {}).strip()}


def corpus_breakdown(cells: Sequence[Cell]) -> List[dict]:
    """Per test corpus, each cell's pooled UAR, WA, macro-F1 and per-class recall (%) from its summed confusion
    matrix (all folds; several seeds: their predictions summed)."""
    out = []
    for corpus in tested_corpora(cells):
        rows = []
        for cell in (c for c in cells if c.corpus == corpus):
            cm = cell.confusion()
            rows.append({"system": cell.system, "condition": cell.condition, "test_corpus": corpus,
                         "n": int(cm.sum()), "uar": 100.0 * uar_from_confusion(cm),
                         "wa": 100.0 * float(np.trace(cm) / cm.sum()),
                         "macro_f1": 100.0 * macro_f1_from_confusion(cm),
                         "recall": {lab: (None if r is None else 100.0 * r) for lab, r in per_class_recall(cm).items()}})
        if rows:
            out.append({"corpus": corpus, "rows": rows})
    return out


def macro_f1_from_confusion(cm: np.ndarray) -> float:
    """Mean F1 over the classes with reference utterances or predictions."""
    scores = []
    for i in range(len(cm)):
        tp, support, predicted = cm[i, i], cm[i].sum(), cm[:, i].sum()
        if support or predicted:
            scores.append(2.0 * tp / (support + predicted))
    return float(np.mean(scores)) if scores else 0.0


def data_summary(cells: Sequence[Cell], manifest: Optional[Sequence], meta: Optional[Mapping]) -> dict:
    """Per corpus: test utterances and speakers (from the results), classes; pools; left-out and excluded files."""
    corpora = []
    for corpus in tested_corpora(cells):
        mine = [c for c in cells if c.corpus == corpus]
        if not mine:
            continue
        first = mine[0]
        rows = [r for result in first.runs[first.seeds[0]].values() for r in result["predictions"]]
        entry = {"corpus": corpus, "name": display_name(corpus), "test_utterances": len(rows),
                 "test_speakers": len({r.get("speaker") for r in rows if r.get("speaker")}) or None,
                 "classes": {lab: sum(r["label"] == lab for r in rows) for lab in LABELS}}
        if manifest is not None:
            utts = [u for u in manifest if u.corpus == corpus]
            entry.update(manifest_utterances=len(utts), manifest_speakers=len({u.speaker for u in utts}),
                         genders={GENDERS.get(g, g): n for g, n in sorted(Counter(
                             next(u.gender for u in utts if u.speaker == s) for s in {u.speaker for u in utts}
                         ).items())})
        entry["left_out"] = summarise_reasons((meta or {}).get("left_out", {}).get(corpus, []))
        entry["documented_differences"] = list((meta or {}).get("documented_differences", {}).get(corpus, []))
        corpora.append(entry)
    pools = sorted({(c.system, c.condition, "+".join(c.pool or ("mixed",))) for c in cells},
                   key=lambda p: (condition_rank(p[1]), p[0]))
    excluded = sorted({(e["path"], e["reason"]) for c in cells for runs in c.runs.values() for r in runs.values()
                       for e in r.get("excluded", [])})
    return {"corpora": corpora, "pools": [{"system": s, "condition": k, "train_corpora": p} for s, k, p in pools],
            "excluded": [{"path": p, "reason": r} for p, r in excluded]}


def summarise_reasons(entries: Sequence[Mapping]) -> List[dict]:
    """Left-out files grouped by reason (a reason's count and one example)."""
    groups: Dict[str, List[str]] = defaultdict(list)
    for entry in entries:
        groups[str(entry.get("reason"))].append(str(entry.get("path")))
    return [{"reason": reason, "count": len(paths), "example": paths[0]} for reason, paths in sorted(groups.items())]


def warning_rows(cells: Sequence[Cell]) -> List[dict]:
    """Every result warning with its cell, fold (and seed, in a cell of several) and its kind (grid edge,
    degenerate training, other: see ``warning_kind``); ``where`` says ``fold 2`` or ``fold 2 seed 7``."""
    rows = []
    for cell in cells:
        for fold, seed, message in cell.warning_places():
            rows.append({"system": cell.system, "condition": cell.condition, "test_corpus": cell.corpus,
                         "fold": fold, "seed": seed, "where": place_text(fold, seed), "kind": warning_kind(message),
                         "message": message})
    return rows


def warning_summary(rows: Sequence[Mapping]) -> List[dict]:
    """The warnings grouped per cell and kind: the folds concerned and one example message."""
    groups: Dict[tuple, dict] = {}
    for row in rows:
        key = (row["system"], row["condition"], row["test_corpus"], row["kind"])
        group = groups.setdefault(key, {"system": key[0], "condition": key[1], "test_corpus": key[2],
                                        "kind": key[3], "folds": [], "messages": 0, "example": row["message"]})
        group["messages"] += 1
        place = row["fold"] if row.get("seed") is None else f"{row['fold']} (seed {row['seed']})"
        if place not in group["folds"]:
            group["folds"].append(place)
    return list(groups.values())


def provenance_groups(cells: Sequence[Cell]) -> List[dict]:
    """Distinct provenance records of the results (old results without one: their ``versions``), with counts."""
    groups: Dict[str, dict] = {}
    for cell in cells:
        for runs in cell.runs.values():
            for result in runs.values():
                record = result.get("provenance")
                if record is None:
                    record = {"package_version": result["versions"].get("s3prl_crosscorpus"),
                              "python": result["versions"].get("python"), "libraries": {
                                  k: v for k, v in result["versions"].items() if k not in ("s3prl_crosscorpus",
                                                                                            "python")},
                              "note": "no provenance record (made before it was recorded): versions only"}
                key = repr(sorted((k, repr(v)) for k, v in record.items() if k != "command"))
                group = groups.setdefault(key, {"record": record, "results": 0, "systems": set(), "commands": set()})
                group["results"] += 1
                group["systems"].add(cell.system)
                if record.get("command"):
                    group["commands"].add(record["command"])
    return [{**g, "systems": sorted(g["systems"]), "commands": sorted(g["commands"])} for g in groups.values()]


class ProbeError(ValueError):
    """A ``--probe`` file that is missing or is not ``probe``'s probe.json; the message names it."""


#: Fields every probe row needs (written by ``probe``'s write_table); the numbers are fractions or percents.
PROBE_FIELDS = {"source": str, "norm": str, "uar": (int, float), "std": (int, float), "chance": (int, float)}


def probe_row_problem(row) -> Optional[str]:
    """What is wrong with one probe row, or None."""
    if not isinstance(row, dict):
        return "is not an object"
    for key, kind in PROBE_FIELDS.items():
        if not isinstance(row.get(key), kind) or isinstance(row.get(key), bool):
            return f"has no {key!r} ({'text' if kind is str else 'a number'}) but {row.get(key)!r}"
    return None


def read_probe(path: Optional[Path]) -> Optional[dict]:
    """probe.json of ``probe`` (rows of source, norm, UAR, spread, chance), when given; :class:`ProbeError` names the
    file when it is missing, not JSON or not a probe table."""
    if path is None:
        return None
    hint = "give the probe.json that `s3prl-crosscorpus probe --out DIR` writes"
    try:
        data = read_json(Path(path))
    except OSError as err:
        raise ProbeError(f"{path}: cannot read the probe file ({err.strerror or err}); {hint}") from err
    except ValueError as err:
        raise ProbeError(f"{path}: not a probe file: not valid JSON ({err}); {hint}") from err
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
        raise ProbeError(f"{path}: not a probe file: no 'rows' list; {hint}")
    for number, row in enumerate(data["rows"]):
        problem = probe_row_problem(row)
        if problem:
            raise ProbeError(f"{path}: rows/{number} {problem}; {hint}")
    return data


def study_name(results_dir: Path) -> str:
    """The study's folder name (``OUT`` of ``OUT/results``)."""
    path = results_dir.resolve()
    return path.parent.name if path.name == "results" and path.parent.name else path.name


def build_context(results_dir: Path, data_dir: Optional[Path] = None, probe: Optional[Path] = None,
                  config: StatsConfig = StatsConfig(), argv: Optional[Sequence[str]] = None,
                  figures: bool = True) -> dict:
    """All values of the report, figures as data URIs unless ``figures`` is false (raises
    LeaderboardError/ResultError/ManifestError/ProbeError on unusable input, each naming its file)."""
    probe_table = read_probe(probe)  # first: a wrong --probe is refused before the statistics run
    cells, sha = load_cells(results_dir)
    manifest, meta, speakers, genders = None, None, None, None
    if data_dir is not None:
        from ..core.manifest import META, load_manifest

        manifest = load_manifest(data_dir)
        meta_path = Path(data_dir) / META
        meta = read_json(meta_path) if meta_path.is_file() else {}
        speakers = {u.id: u.speaker for u in manifest}
        genders = {u.id: u.gender for u in manifest}
    statistics = table_statistics(cells, config, speakers, "manifest")
    # the paper comparison of a corpus copy unlike the published one is marked
    table = summary(cells, sha, statistics, (meta or {}).get("documented_differences"))
    alpha, family = statistics["method"]["alpha"], statistics["family_size"]
    return {
        "title": f"Cross-corpus SER study: {study_name(Path(results_dir))}",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "results_dir": str(results_dir), "data_dir": str(data_dir) if data_dir else None,
        "folds": list(FOLDS), "seeds": sorted({s for c in cells for s in c.seeds if s is not None}),
        "n_results": sum(len(runs) for c in cells for runs in c.runs.values()),
        "table": table,
        "matrices": transfer_matrices(table),
        "verdicts": [{"name": comparison_name(c), "text": verdict(c, alpha, family), "entry": c}
                     for c in statistics["comparisons"]],
        "data": data_summary(cells, manifest, meta),
        "breakdowns": breakdowns(cells, speakers, genders),
        "per_corpus": corpus_breakdown(cells),
        "warnings": warning_rows(cells),
        "warning_summary": warning_summary(warning_rows(cells)),
        "probe": probe_table,
        "provenance": {"results": provenance_groups(cells), "report": provenance(argv)},
        "figures": report_figures(cells, table) if figures else {"chart": "", "confusion": {}, "matrices": {}},
    }
