"""What a finished study job wrote, in one line per cell: its UAR and any warning, for the stage's progress output."""
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..core.folds import condition_label
from ..core.io_utils import read_json
from .warning_groups import counted_messages


def job_lines(name: str, code: Optional[int], outputs: Sequence[str]) -> List[str]:
    """``done SYSTEM CONDITION -> CORPUS: UAR x% (mean of k folds) ! warning (n folds); ...`` per cell, each
    distinct warning once with the number of folds it came from."""
    if code != 0:
        return [f"failed {name} (exit {code if code is not None else 'unknown'}); its log says why"]
    cells: Dict[Tuple[str, str, str], List[dict]] = defaultdict(list)
    unreadable = 0
    for path in outputs:
        try:
            result = read_json(Path(path))
            condition = condition_label(result["condition"], result.get("train_corpora") or ())  # from-<pool>
            cells[(result["system"], condition, result["test_corpus"])].append(result)
        except (OSError, ValueError, KeyError, TypeError):  # FoldError is a ValueError
            unreadable += 1
    lines = []
    for (system, condition, corpus), results in cells.items():
        uar = 100.0 * float(np.mean([r["metrics"]["uar"] for r in results]))
        folds = sorted(int(r["fold"]) for r in results)
        what = f"fold {folds[0]}" if len(folds) == 1 else f"mean of {len(folds)} folds"
        in_order = sorted(results, key=lambda r: int(r["fold"]))
        warnings = [w for r in in_order for w in dict.fromkeys(r.get("warnings") or [])]
        mark = (" ! " + counted_messages(warnings)) if warnings else ""
        lines.append(f"done {system} {condition} -> {corpus}: UAR {uar:.2f}% ({what}){mark}")
    if unreadable or not lines:
        lines.append(f"done {name}: {unreadable or len(outputs)} of its {len(outputs)} result file(s) not readable"
                     if outputs else f"done {name}")
    return lines
