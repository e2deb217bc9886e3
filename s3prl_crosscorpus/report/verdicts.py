"""Plain-language verdicts of paired comparisons, worded from the statistics' JSON alone."""
from typing import Mapping

from ..core.labels import CORPUS_DISPLAY
from ..results.significance import p_text


def signed(value: float, digits: int = 2) -> str:
    """``+2.21`` / ``−0.65`` (a real minus sign, as in print)."""
    return f"{value:+.{digits}f}".replace("-", "−")


def comparison_name(entry: Mapping) -> str:
    """``HuBERT-Linear extended − matched on RAVDESS`` (or two systems' names)."""
    a, b, corpus = entry["a"], entry["b"], CORPUS_DISPLAY[entry["test_corpus"]]
    if a["system"] == b["system"]:
        return f"{a['system']}: {b['condition']} − {a['condition']} on {corpus}"
    return f"{b['system']} {b['condition']} − {a['system']} {a['condition']} on {corpus}"


def conclusion(entry: Mapping, alpha: float, family_size: int) -> str:
    """What the comparison lets one say at ``alpha`` after Holm's correction over ``family_size`` comparisons."""
    if entry["significant"]:
        a, b = entry["a"], entry["b"]
        higher = b["condition"] if a["system"] == b["system"] else b["system"]
        direction = "higher" if entry["diff"] > 0 else "lower"
        return (f"evidence of a difference at α = {alpha:g}: {higher} is {direction} "
                f"(Holm p = {p_text(entry['p_holm'])} over {family_size} comparison(s))")
    text = f"no evidence of a difference at α = {alpha:g}"
    if entry["p"] <= alpha:
        text += (f" after Holm's correction over {family_size} comparison(s) (Holm p = {p_text(entry['p_holm'])}; "
                 f"uncorrected p ≤ α)")
    floor = 2.0 / 2 ** entry["n_speakers"] if entry.get("exact") else None
    if floor is not None and floor * family_size > alpha:
        text += (f"; with {entry['n_speakers']} speakers the smallest possible p is {p_text(floor)}, "
                 f"so no difference could be shown here")
    return text


def verdict(entry: Mapping, alpha: float, family_size: int) -> str:
    """``name: +2.21 points [−0.65, +5.21], p = 0.180, 24 speakers: no evidence of a difference at α = 0.05``."""
    if not entry["available"]:
        return f"{comparison_name(entry)}: not computed ({entry['reason']})"
    return (f"{comparison_name(entry)}: {signed(entry['diff'])} points [{signed(entry['ci'][0])}, "
            f"{signed(entry['ci'][1])}], p = {p_text(entry['p'])}, {entry['n_speakers']} speakers: "
            f"{conclusion(entry, alpha, family_size)}")
