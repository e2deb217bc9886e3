"""``s3prl-crosscorpus synth``: write small synthetic EmoDB/RAVDESS/IEMOCAP trees (and, with ``--registry``, registry
corpora) in the real layouts."""
import argparse
import sys
from pathlib import Path
from typing import Dict, List, Optional

from ..core.corpora import REGISTRY_CORPORA
from ..core.io_utils import WriteError
from ..demo.registry_synth import synthesize_registry
from ..demo.synth import synthesize


def parse_class_counts(text: str) -> Dict[str, int]:
    """``"neu=4,hap=2,ang=1,sad=1"`` -> {"neu": 4, ...}; argparse.ArgumentTypeError naming the bad part."""
    counts: Dict[str, int] = {}
    for part in text.split(","):
        label, sep, value = (s.strip() for s in part.partition("="))
        if not sep or not label or not value.isdigit():
            raise argparse.ArgumentTypeError(f"bad entry {part.strip()!r} in {text!r}; expected LABEL=N,..., "
                                             "e.g. neu=4,hap=2,ang=1,sad=1")
        if label in counts:
            raise argparse.ArgumentTypeError(f"label {label!r} given twice in {text!r}")
        counts[label] = int(value)
    return counts


def parse_registry(text: str) -> List[str]:
    """``"cremad,tess"`` or ``"all"`` -> registry corpus names; argparse.ArgumentTypeError naming an unknown one."""
    names = list(REGISTRY_CORPORA) if text.strip() == "all" else [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in REGISTRY_CORPORA]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown registry corpus {', '.join(unknown) or repr(text)}; "
                                         f"choose from {', '.join(REGISTRY_CORPORA)} or all")
    return names


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="s3prl-crosscorpus synth",
                                     description="Write small synthetic EmoDB/RAVDESS/IEMOCAP trees "
                                     "(and registry corpora with --registry).")
    parser.add_argument("--out", type=Path, required=True, help="folder for emodb/, ravdess/ and iemocap/")
    parser.add_argument("--utterances-per-class", type=int, default=3,
                        help="utterances per speaker and class (1..4, default 3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthesis (default 0)")
    parser.add_argument("--class-counts", type=parse_class_counts, metavar="neu=N,hap=N,ang=N,sad=N",
                        help="utterances per speaker for these classes instead of --utterances-per-class "
                             "(imbalanced corpora; RAVDESS allows 4 neutral and 8 of each other class)")
    parser.add_argument("--emotion-strength", type=float, default=1.0,
                        help="how far each emotion's prosody moves from neutral's: 1 = full (default), "
                             "0.3 = hard, 0 = labels carry no acoustic information")
    parser.add_argument("--prosody-noise", type=float, default=1.0,
                        help="factor on the per-utterance jitter of tempo, pitch and loudness (0..4, default 1)")
    parser.add_argument("--no-next", action="store_true",
                        help="do not print the `next: s3prl-crosscorpus prepare ...` line (for recipes that "
                             "prepare the corpora themselves)")
    parser.add_argument("--registry", type=parse_registry, default=[], metavar="NAME[,NAME...]|all",
                        help="also write these registry corpora in their real layouts, "
                             f"--utterances-per-class files per speaker and class ({', '.join(REGISTRY_CORPORA)})")
    args = parser.parse_args(argv)
    try:
        roots = synthesize(args.out, args.utterances_per_class, args.seed, class_counts=args.class_counts,
                           emotion_strength=args.emotion_strength, prosody_noise=args.prosody_noise)
        roots.update(synthesize_registry(args.out, args.registry, args.utterances_per_class, args.seed))
    except ValueError as err:
        parser.error(str(err))
    except WriteError as err:  # a full disk...: the file is named; every file is written whole or not at all
        print(f"error: {err.strerror}", file=sys.stderr)
        return 1
    except OSError as err:  # an unwritable --out
        print(f"error: cannot write the corpora under {args.out}: {err}", file=sys.stderr)
        return 1
    print("wrote " + ", ".join(str(p) for p in roots.values()))
    if not args.no_next:
        print("next: s3prl-crosscorpus prepare " + " ".join(f"--{c} {p}" for c, p in roots.items())
              + f" --out {args.out / 'data'}")
    return 0
