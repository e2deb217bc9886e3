"""Which differences of a table mean something: per-cell speaker-bootstrap intervals and paired comparisons.

For every complete cell: the pooled UAR over all test utterances with a 95% speaker-bootstrap
interval. Comparisons of two cells on the same test utterances: extended vs matched and loco vs
matched of each system, and pooling vs augmentation of each augmented system, automatically
(:func:`automatic_pairs`), any two on request
(:func:`requested_pairs`); Holm's correction runs across the comparisons of one table. The
numerical methods are in :mod:`.stats`; this module gathers counts from cells, names what cannot be
computed and renders the figures.
"""
import hashlib
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from ..core.folds import CONDITIONS, is_transfer_label
from ..core.labels import LABEL_TO_INDEX, LABELS, corpus_order, corpus_rank, display_name
from ..core.names import safe_system_name, without_augment
from .cells import Cell, table_order
from .paper import paper_figure, pool_label
from .speakers import FROM_MAP, SpeakerError, resolve_speakers
from .stats import (StatsConfig, StatsError, SpeakerCounts, cell_interval, holm, paired_difference,
                    speaker_counts, wilcoxon_folds)

STATS_FORMAT = "s3prl-crosscorpus-statistics"
STATS_VERSION = 1
#: Automatic comparisons: (condition B, condition A) of the same system and corpus; the difference is B - A.
#: Every transfer cell (``from-...``) is also compared with the matched cell of its test corpus (none: the extended).
AUTOMATIC: Tuple[Tuple[str, str], ...] = (("extended", "matched"), ("loco", "matched"))
CellKey = Tuple[str, str, str]  # system, condition, test corpus


def key_of(cell: Cell) -> CellKey:
    return cell.system, cell.condition, cell.corpus


@dataclass
class Prepared:
    """A cell's per-speaker counts, or why it has none."""

    cell: Cell
    counts: Optional[SpeakerCounts] = None
    test_set: str = ""  # sha256 of its sorted (id, label, speaker) lines: equal test sets have equal hashes
    speaker_sources: List[str] = field(default_factory=list)
    reason: Optional[str] = None


def describe_method(config: StatsConfig) -> dict:
    """The settings and the methods, recorded with the figures."""
    return {
        "estimate": "pooled UAR over the test predictions of all folds (each utterance tested once; a corpus "
                    "tested whole in every fold: once per fold, which equals the mean of the folds' UARs); "
                    "with several seeds, the mean over seeds of each seed's pooled UAR",
        "interval": "percentile bootstrap over speakers (speakers drawn with replacement, all their utterances kept)",
        "test": "paired speaker-level randomisation test (a speaker's predictions of the two cells swapped), "
                "two-sided; exact over all 2^S swaps when 2^S <= resamples, else random swaps with "
                "p = (1 + #{|T*| >= |T|}) / (resamples + 1)",
        "correction": "holm", "confidence": config.confidence, "alpha": config.alpha,
        "resamples": config.resamples, "seed": config.seed, "unit": "percent (differences: UAR points)",
    }


def config_from_method(method: Mapping) -> StatsConfig:
    """The config recorded by :func:`describe_method` (a bundle's statistics are recomputed with it)."""
    return StatsConfig(resamples=int(method["resamples"]), seed=int(method["seed"]),
                       confidence=float(method["confidence"]), alpha=float(method["alpha"]))


def seed_rows(cell: Cell, seed: Optional[int], speakers: Optional[Mapping[str, str]], speakers_name: str
              ) -> Tuple[List[Mapping], List[str], List[str]]:
    """(prediction rows, speaker per row, how speakers were found) of all folds of one seed, sorted by id."""
    rows, found, how = [], [], set()
    for fold, result in sorted(cell.runs[seed].items()):
        names, used = resolve_speakers(result["predictions"], cell.corpus, speakers, speakers_name,
                                       cell.sources.get((seed, fold)) or f"{'/'.join(key_of(cell))} fold {fold}")
        rows += result["predictions"]
        found += names
        how.update(used)
    order = sorted(range(len(rows)), key=lambda i: rows[i]["id"])
    return [rows[i] for i in order], [found[i] for i in order], sorted(how)


def tested_whole_in_every_fold(cell: Cell, seed: Optional[int]) -> bool:
    """True when every fold tests the same utterances (a test-only corpus, an official test split). Its rows are
    then counted once per fold: as every fold has the same class counts, the pooled UAR equals the mean of the
    folds' UARs, and a speaker's rows of all folds are resampled (or swapped) together."""
    runs = list(cell.runs[seed].values())
    if not all(result.get("predictions") for result in runs):  # a summary-only result: nothing to tell
        return False
    tests = [frozenset(row["id"] for row in result["predictions"]) for result in runs]
    return len(tests) > 1 and len(set(tests)) == 1


def test_only_in(cells: Sequence[Cell]) -> Dict[str, str]:
    """Corpora the results show as test-only: no result trains on them and each of their cells tests them whole
    in every fold (an official test split is trained on elsewhere, so it is not one)."""
    trained = {corpus for c in cells for pool in c.pools.values() for corpus in pool}
    corpora = {c.corpus for c in cells if c.corpus not in trained}
    return {corpus: "tested whole in every fold and never trained on" for corpus in sorted(corpora)
            if all(tested_whole_in_every_fold(c, seed) for c in cells if c.corpus == corpus for seed in c.seeds)}


def prepare(cell: Cell, speakers: Optional[Mapping[str, str]] = None, speakers_name: str = FROM_MAP,
            every_fold: bool = True) -> Prepared:
    """Per-speaker counts of a complete cell whose seeds share one test set and whose speakers are known;
    ``every_fold`` false: a corpus tested whole in every fold has none (the rule of bundles before format 4)."""
    where = "/".join(key_of(cell))
    if not cell.complete:
        return Prepared(cell, reason=f"{where}: incomplete (misses fold(s) {', '.join(map(str, cell.missing))})")
    try:
        first, *others = cell.seeds
        rows, names, how = seed_rows(cell, first, speakers, speakers_name)
    except SpeakerError as err:
        return Prepared(cell, reason=str(err))
    reference = [(row["id"], row["label"]) for row in rows]
    if len({utt for utt, _ in reference}) != len(reference) and not (
            every_fold and tested_whole_in_every_fold(cell, first)):
        return Prepared(cell, reason=f"{where}: an utterance is tested in more than one fold")
    predictions = {first: [LABEL_TO_INDEX[row["prediction"]] for row in rows]}
    for seed in others:
        other = sorted((row for result in cell.runs[seed].values() for row in result["predictions"]),
                       key=lambda row: row["id"])
        if [(row["id"], row["label"]) for row in other] != reference:
            return Prepared(cell, reason=f"{where}: seeds {first} and {seed} were tested on different utterances")
        predictions[seed] = [LABEL_TO_INDEX[row["prediction"]] for row in other]
    counts = speaker_counts(names, [LABEL_TO_INDEX[lab] for _, lab in reference], predictions, len(LABELS))
    lines = "".join(f"{utt} {lab} {name}\n" for (utt, lab), name in zip(reference, names))
    return Prepared(cell, counts, hashlib.sha256(lines.encode("utf-8")).hexdigest(), how)


def cell_entry(prepared: Prepared, config: StatsConfig) -> dict:
    """One cell's statistics as JSON (``available`` false with the ``reason`` when there are none)."""
    cell = prepared.cell
    entry = {"system": cell.system, "condition": cell.condition, "test_corpus": cell.corpus,
             "available": prepared.counts is not None, "reason": prepared.reason}
    if prepared.counts is not None:
        entry.update(cell_interval(prepared.counts, config, key_of(cell)), speaker_sources=prepared.speaker_sources)
    return entry


def automatic_pairs(cells: Sequence[Cell]) -> List[Tuple[Cell, Cell]]:
    """(matched, other) for every system and corpus with a matched cell and an extended, loco or transfer cell;
    (extended, transfer) where there is no matched cell (a test-only corpus: the same test utterances)."""
    by_key = {key_of(c): c for c in cells}
    pairs = []
    for cell in sorted(cells, key=table_order):
        for b_condition, a_condition in AUTOMATIC:
            other = by_key.get((cell.system, a_condition, cell.corpus))
            if cell.condition == b_condition and other is not None:
                pairs.append((other, cell))
        # A test-only column has no matched cell; its cells all test it whole, so they pair with its extended one.
        base = by_key.get((cell.system, "matched", cell.corpus)) or by_key.get((cell.system, "extended", cell.corpus))
        if is_transfer_label(cell.condition) and base is not None:
            pairs.append((base, cell))
    return pairs + augment_pairs(cells)


def augment_pairs(cells: Sequence[Cell]) -> List[Tuple[Cell, Cell]]:
    """Pooling against augmentation, for every ``..._aug-...`` system and corpus: ``extended − matched+aug``
    (A = the augmented matched cell, B = the plain system's extended cell) and ``extended+aug − extended``."""
    by_key = {key_of(c): c for c in cells}
    pairs = []
    for cell in sorted(cells, key=table_order):
        base = without_augment(cell.system)
        if base == cell.system:
            continue
        plain_extended = by_key.get((base, "extended", cell.corpus))
        if cell.condition == "matched" and plain_extended is not None:
            pairs.append((cell, plain_extended))
        if cell.condition == "extended" and plain_extended is not None:
            pairs.append((plain_extended, cell))
    return pairs


def parse_side(text: str) -> Tuple[str, Optional[str]]:
    """``SYSTEM`` or ``SYSTEM/CONDITION`` (system names hold no '/': they are folder names); an older name
    (``HuBERT-Linear[dann]``) is read as its shell-safe one."""
    system, _, condition = text.partition("/")
    return safe_system_name(system), condition or None


def requested_pairs(cells: Sequence[Cell], a: str, b: str, corpus: Optional[str] = None) -> List[Tuple[Cell, Cell]]:
    """(A cell, B cell) for every corpus (or ``corpus``) and condition both have; a side's /CONDITION fixes it,
    an unspecified side takes the other side's condition. Raises StatsError naming what is missing."""
    (sys_a, cond_a), (sys_b, cond_b) = parse_side(a), parse_side(b)
    if sys_a == sys_b and (cond_a is None or cond_b is None or cond_a == cond_b):
        raise StatsError(f"A and B are the same ({a} vs {b}): compare two systems, or one system under two "
                         f"conditions (e.g. {sys_a}/matched {sys_a}/extended)")
    systems = sorted({c.system for c in cells})
    for system in (sys_a, sys_b):
        if system not in systems:
            raise StatsError(f"no results of system {system!r}; the results hold {', '.join(systems)}")
    by_key = {key_of(c): c for c in cells}
    fixed = cond_a or cond_b
    conditions = [fixed] if fixed else [k for k in CONDITIONS if any(c.condition == k for c in cells)]
    pairs = []
    for corpus_name in [corpus] if corpus else corpus_order(c.corpus for c in cells):
        for condition in conditions:
            pair = by_key.get((sys_a, cond_a or condition, corpus_name)), by_key.get((sys_b, cond_b or condition,
                                                                                      corpus_name))
            if all(pair):
                pairs.append(pair)
    if not pairs:
        where = f" on {corpus}" if corpus else ""
        raise StatsError(f"{a} and {b} have no results{where} on a common corpus and condition to compare")
    return pairs


def paper_of(cell: Cell) -> Optional[float]:
    """The paper's UAR of a cell under the one pool rule (:func:`.paper.paper_figure`)."""
    return paper_figure(cell.system, cell.condition, cell.corpus, list(cell.pool) if cell.pools else None)


def paper_difference(a: Cell, b: Cell) -> Optional[float]:
    """The paper's UAR(b) - UAR(a) where it publishes both cells (same corpus) and both were trained on the
    paper's pool, else None."""
    pa, pb = paper_of(a), paper_of(b)
    return pb - pa if pa is not None and pb is not None and a.corpus == b.corpus else None


def side_entry(cell: Cell) -> dict:
    """One side of a comparison: system, condition and, when not the paper's three corpora, the training pool."""
    entry = {"system": cell.system, "condition": cell.condition}
    label = pool_label(cell.condition, cell.pool)
    if label:
        entry["pool"] = label
    return entry


def comparison_entry(a: Prepared, b: Prepared, config: StatsConfig) -> dict:
    """B - A on the same test utterances as JSON (``available`` false with the ``reason`` when not comparable)."""
    entry = {"test_corpus": a.cell.corpus, "a": side_entry(a.cell), "b": side_entry(b.cell),
             "paper_diff": paper_difference(a.cell, b.cell), "available": False, "reason": None}
    entry["reason"] = a.reason or b.reason
    if entry["reason"] is None and (a.cell.corpus != b.cell.corpus or a.test_set != b.test_set):
        entry["reason"] = (f"{'/'.join(key_of(a.cell))} and {'/'.join(key_of(b.cell))} were not tested on the same "
                           f"utterances (with the same speakers)")
    if entry["reason"] is None:
        key = key_of(a.cell) + key_of(b.cell)
        entry.update(paired_difference(a.counts, b.counts, config, key), available=True)
        entry["wilcoxon_folds"] = wilcoxon_folds(list(a.cell.percent("uar").values()),
                                                 list(b.cell.percent("uar").values()))
    return entry


def apply_holm(comparisons: List[dict], alpha: float) -> int:
    """Add Holm-adjusted p and the verdict to every available comparison; returns the family size."""
    available = [c for c in comparisons if c["available"]]
    for entry, adjusted in zip(available, holm([c["p"] for c in available]) if available else []):
        entry.update(p_holm=adjusted, significant=adjusted <= alpha)
    return len(available)


def comparison_label(entry: Mapping) -> str:
    """``B − A on CORPUS`` (``System: extended − matched on RAVDESS`` when both sides are one system)."""
    a, b, corpus = entry["a"], entry["b"], display_name(entry["test_corpus"])
    if a["system"] == b["system"]:
        return f"{a['system']}: {b['condition']} − {a['condition']} on {corpus}"
    return f"{side_text(b)} − {side_text(a)} on {corpus}"


def holm_family(comparisons: Sequence[Mapping]) -> List[str]:
    """The comparisons Holm's correction ran across (the available ones), as labels."""
    return [comparison_label(c) for c in comparisons if c["available"]]


def statistics(cells: Sequence[Cell], pairs: Sequence[Tuple[Cell, Cell]], config: StatsConfig = StatsConfig(),
               speakers: Optional[Mapping[str, str]] = None, speakers_name: str = FROM_MAP,
               every_fold: bool = True) -> dict:
    """Intervals of ``cells`` and the comparisons ``pairs`` (B - A), Holm-corrected together, as JSON
    (``every_fold``: see :func:`prepare`)."""
    prepared: Dict[CellKey, Prepared] = {}
    for cell in list(cells) + [c for pair in pairs for c in pair]:
        if key_of(cell) not in prepared:
            prepared[key_of(cell)] = prepare(cell, speakers, speakers_name, every_fold)
    comparisons = [comparison_entry(prepared[key_of(a)], prepared[key_of(b)], config) for a, b in pairs]
    return {"format": STATS_FORMAT, "version": STATS_VERSION, "method": describe_method(config),
            "cells": [cell_entry(prepared[key_of(c)], config) for c in sorted(cells, key=table_order)],
            "comparisons": comparisons, "family_size": apply_holm(comparisons, config.alpha),
            "family": holm_family(comparisons)}


def table_statistics(cells: Sequence[Cell], config: StatsConfig = StatsConfig(),
                     speakers: Optional[Mapping[str, str]] = None, speakers_name: str = FROM_MAP,
                     every_fold: bool = True) -> dict:
    """Every cell's interval and the automatic comparisons (extended/loco vs matched) of a whole table."""
    return statistics(cells, automatic_pairs(cells), config, speakers, speakers_name, every_fold)


# --- rendering -------------------------------------------------------------------------------------------------

#: An interval from fewer speakers than this says little (a test-only corpus: TESS has 2): it is marked.
FEW_SPEAKERS = 5


def few_speakers_mark(entry: Mapping) -> str:
    """`` (2 spk)`` after an interval resampled from fewer than FEW_SPEAKERS speakers, else ``""``."""
    n = entry.get("n_speakers")
    return f" ({n} spk)" if entry.get("available") and n is not None and n < FEW_SPEAKERS else ""


def interval_text(entry: Optional[Mapping]) -> str:
    if entry is None:
        return "–"
    if not entry["available"]:
        return "n/a"
    return f"{entry['uar']:.2f} [{entry['ci'][0]:.2f}, {entry['ci'][1]:.2f}]{few_speakers_mark(entry)}"


def p_text(p: float) -> str:
    return f"{p:.3f}" if p >= 0.01 else f"{p:.2e}"


def side_text(side: Mapping) -> str:
    pool = f" ({side['pool']})" if side.get("pool") else ""
    return f"{side['system']} {side['condition']}{pool}"


def markdown_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> List[str]:
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    line = lambda row: "| " + " | ".join(text.ljust(w) for text, w in zip(row, widths)) + " |"
    return [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(row) for row in body]


def interval_grid(stats: Mapping, rows: Sequence[str], columns: Sequence[Mapping[str, str]]) -> List[str]:
    """Pooled UAR [interval] laid out like the leaderboard (rows = systems, columns = corpus x condition)."""
    by_key = {(c["system"], c["test_corpus"], c["condition"]): c for c in stats["cells"]}
    header = ["System"] + [f"{display_name(col['corpus'])} {col['condition']}" for col in columns]
    body = [[system] + [interval_text(by_key.get((system, col["corpus"], col["condition"]))) for col in columns]
            for system in rows]
    level = round(100 * stats["method"]["confidence"])
    return [f"Pooled UAR (%) over all test utterances with {level}% speaker-bootstrap interval", ""] + \
        markdown_table(header, body)


def comparison_rows(stats: Mapping, with_cells: bool) -> Tuple[List[str], List[List[str]]]:
    """Header and rows of the comparison table; ``with_cells`` adds both cells' pooled UAR."""
    by_key = {(c["system"], c["condition"], c["test_corpus"]): c for c in stats["cells"]}
    cell_of = lambda side, corpus: by_key.get((side["system"], side["condition"], corpus))
    paper = any(c["paper_diff"] is not None for c in stats["comparisons"])
    # Within-system comparisons (the leaderboard's) read better as "extended − matched" of one system.
    within = all(c["a"]["system"] == c["b"]["system"] for c in stats["comparisons"])
    header = (["System", "Corpus", "Comparison"] if within else ["Corpus", "A", "B"]) + \
        (["A UAR [CI]", "B UAR [CI]"] if with_cells else []) + ["B − A [CI]", "p", "p (Holm)"] + \
        (["paper B − A"] if paper else [])
    body = []
    for c in stats["comparisons"]:
        corpus = display_name(c["test_corpus"])
        pool = f" ({c['b']['pool']})" if c["b"].get("pool") else ""
        row = ([c["a"]["system"], corpus, f"{c['b']['condition']}{pool} − {c['a']['condition']}"] if within
               else [corpus, side_text(c["a"]), side_text(c["b"])])
        if with_cells:
            row += [interval_text(cell_of(c["a"], c["test_corpus"])), interval_text(cell_of(c["b"], c["test_corpus"]))]
        if c["available"]:
            mark = "*" if c["significant"] else ""
            row += [f"{c['diff']:+.2f}{mark} [{c['ci'][0]:+.2f}, {c['ci'][1]:+.2f}]", p_text(c["p"]),
                    p_text(c["p_holm"])]
        else:
            row += ["n/a", "", ""]
        if paper:
            row.append("–" if c["paper_diff"] is None else f"{c['paper_diff']:+.2f}")
        body.append(row)
    return header, body


def method_notes(stats: Mapping) -> List[str]:
    """What the figures are, printed under the tables."""
    m = stats["method"]
    level, family = round(100 * m["confidence"]), stats["family_size"]
    notes = [
        f"Pooled UAR: over the test predictions of all folds (each utterance tested once; a corpus tested whole in "
        f"every fold, once per fold: the mean of its folds' UARs); several seeds: the mean of "
        f"each seed's pooled UAR. [a, b]: {level}% percentile interval of {m['resamples']} bootstrap resamples of "
        f"speakers (drawn with replacement, all their utterances kept); seed {m['seed']}.",
        f"B − A: difference of pooled UAR in points on the same test utterances, interval from the same paired "
        f"speaker resamples. p: two-sided paired randomisation test swapping the two cells' predictions for all "
        f"utterances of a speaker (exact over all 2^S swaps when 2^S ≤ {m['resamples']}, else {m['resamples']} "
        f"random swaps). p (Holm): Holm's correction across the {family} comparison(s) of this table; "
        f"*: survives it at α = {m['alpha']:g}.",
        family_note(stats),
    ]
    if any(few_speakers_mark(c) for c in stats["cells"]):
        notes.append(f"(k spk): an interval resampled from fewer than {FEW_SPEAKERS} speakers (e.g. a test-only "
                     "corpus): it cannot show how results vary over speakers, so it says little.")
    exact = sorted({(c["test_corpus"], c["n_speakers"]) for c in stats["comparisons"] if c["available"] and c["exact"]},
                   key=lambda cs: corpus_rank(cs[0]))
    if exact:
        floors = "; ".join(f"{display_name(corpus)} {n} speakers: {p_text(2 / 2 ** n)}" for corpus, n in exact)
        notes.append(f"Smallest p an exact test can give (2/2^S): {floors}. Holm's first threshold here is "
                     f"{m['alpha']:g}/{family} = {p_text(m['alpha'] / max(family, 1))}.")
    sources = sorted({s for c in stats["cells"] if c["available"] for s in c["speaker_sources"]})
    if sources:
        notes.append(f"Speakers from: {', '.join(sources)}.")
    reasons = dict.fromkeys(e["reason"] for e in stats["cells"] + stats["comparisons"] if not e["available"])
    notes += [f"n/a: {reason}" for reason in reasons]
    return notes


def family_note(stats: Mapping) -> str:
    """Which comparisons Holm corrected over: the same pair gets another Holm p in another family."""
    family = stats.get("family") or holm_family(stats["comparisons"])
    return (f"Holm family ({len(family)} comparison(s); another command or selection corrects over another family, "
            f"so its Holm p differs): " + ("; ".join(family) if family else "none") + ".")


def render_table_statistics(stats: Mapping, rows: Sequence[str], columns: Sequence[Mapping[str, str]]) -> str:
    """The leaderboard's --stats sections: interval grid, comparisons, method notes."""
    header, body = comparison_rows(stats, with_cells=False)
    lines = interval_grid(stats, rows, columns) + ["", "Paired differences (UAR points), B − A", ""]
    lines += markdown_table(header, body) if body else ["(no matched cell to compare with)"]
    return "\n".join(lines + [""] + method_notes(stats)) + "\n"


def render_comparison(stats: Mapping) -> str:
    """``compare``'s table: both cells with intervals, B − A, p and Holm's p, and the method."""
    header, body = comparison_rows(stats, with_cells=True)
    lines = ["Paired comparison (UAR %), B − A on the same test utterances", ""] + markdown_table(header, body)
    return "\n".join(lines + [""] + method_notes(stats)) + "\n"
