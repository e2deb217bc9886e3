"""``s3prl-crosscorpus synth``: write small synthetic EmoDB/RAVDESS/IEMOCAP trees in the real layouts."""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

from ..demo.synth import synthesize


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="s3prl-crosscorpus synth",
                                     description="Write small synthetic EmoDB/RAVDESS/IEMOCAP trees.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--utterances-per-class", type=int, default=3,
                        help="utterances per speaker and class (1..4, default 3)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        roots = synthesize(args.out, args.utterances_per_class, args.seed)
    except ValueError as err:
        parser.error(str(err))
    except OSError as err:  # an unwritable or full --out; the message names the file
        print(f"error: cannot write the corpora under {args.out}: {err}", file=sys.stderr)
        return 1
    print("wrote " + ", ".join(str(p) for p in roots.values()))
    print("next: s3prl-crosscorpus prepare " + " ".join(f"--{c} {p}" for c, p in roots.items())
          + f" --out {args.out / 'data'}")
    return 0
