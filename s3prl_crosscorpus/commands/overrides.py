"""``s3prl-crosscorpus overrides KEY=VALUE...``: print the s3prl ``-o`` string of crosscorpus_emotion settings.

For shell recipes: s3prl ``eval``s every ``-o`` value and splits the string on ``,,`` and ``=``, so a
folder named ``a=b`` or ``x',,__import__('os')...`` pasted into it breaks the run or runs code. The
string printed here (``core.names.s3prl_overrides``) carries every value as plain data. Example::

    s3prl-crosscorpus overrides data_dir="$DATA_DIR" condition=extended test_corpus= fold=2 head=linear
"""
import argparse
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

#: datarc settings and how their text becomes a value (an empty value is None for the optional ones).
DATARC: Dict[str, Callable[[str], Any]] = {
    "data_dir": str, "condition": str, "test_corpus": lambda v: v or None,
    "corpora": lambda v: [c.strip() for c in v.split(",") if c.strip()], "fold": int, "seed": int,
    "train_corpora": lambda v: [c.strip() for c in v.split(",") if c.strip()] or None,
    "balance": str, "train_batch_size": int, "eval_batch_size": int, "num_workers": int,
    "normalisation": str, "augment.spec": str, "augment.copies": int, "augment.seed": int,
    "test_degrade": str,
}
#: Settings of the expert outside datarc; ``head`` is ``modelrc.head``.
EXPERT: Dict[str, Callable[[str], Any]] = {"results_dir": lambda v: v or None, "system_name": lambda v: v or None}
#: ``modelrc`` settings: the head, and DANN (``dann=1`` sets ``modelrc.dann.enabled``; ``dann_weight``, ``dann_schedule``).
MODELRC: Dict[str, Tuple[str, Callable[[str], Any]]] = {
    "head": ("head", str), "dann": ("dann.enabled", lambda v: v.lower() in ("1", "true", "yes", "on")),
    "dann_weight": ("dann.weight", float), "dann_schedule": ("dann.schedule", str),
    "layers": ("layers", lambda v: v or None),  # one layer (6), a range (4-8) or a list (0,4,8); empty: all
}


def parse_setting(text: str) -> Tuple[str, Any]:
    """``KEY=VALUE`` -> (key, typed value); the first ``=`` separates them, so values may hold ``=``."""
    key, sep, value = text.partition("=")
    if not sep:
        raise ValueError(f"{text!r}: settings are KEY=VALUE")
    convert = DATARC.get(key) or EXPERT.get(key) or (MODELRC[key][1] if key in MODELRC else None)
    if convert is None:
        raise ValueError(f"unknown setting {key!r}; known: {', '.join([*DATARC, *EXPERT, *MODELRC])}")
    try:
        return key, convert(value)
    except ValueError:
        raise ValueError(f"{key}={value!r}: not {'an integer' if convert is int else 'a number'}") from None


def override_string(settings: List[str]) -> str:
    """The safe ``-o`` string of ``KEY=VALUE`` settings."""
    from ..core.names import expert_overrides, s3prl_overrides

    datarc: Dict[str, Any] = {}
    expert: Dict[str, Any] = {}
    for key, value in map(parse_setting, settings):
        if key in DATARC:
            datarc[key] = value
        elif key in MODELRC:
            expert.setdefault("modelrc", {})[MODELRC[key][0]] = value
        else:
            expert[key] = value
    return s3prl_overrides(expert_overrides(datarc, **expert))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="s3prl-crosscorpus overrides", description=__doc__.splitlines()[0],
                                     epilog=f"keys: {', '.join([*DATARC, *EXPERT, *MODELRC])}")
    parser.add_argument("settings", nargs="+", metavar="KEY=VALUE",
                        help="a downstream setting (keys below); an empty VALUE is None")
    args = parser.parse_args(argv)
    try:
        print(override_string(args.settings))
    except ValueError as err:
        print(f"s3prl-crosscorpus overrides: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
