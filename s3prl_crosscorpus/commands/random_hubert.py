"""``python -m s3prl_crosscorpus.commands.random_hubert OUT.pt``: write a randomly initialised HuBERT
in s3prl's converted format, for ``-u hubert_local -k OUT.pt`` (tests, benchmarks, offline tries)."""
import argparse
from pathlib import Path
from typing import List, Optional

from ..demo.random_hubert import SIZES, write_random_hubert


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m s3prl_crosscorpus.commands.random_hubert",
                                     description="Write a random HuBERT for `-u hubert_local -k PATH`.")
    parser.add_argument("out", type=Path, help="checkpoint file to write")
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(write_random_hubert(args.out, args.size, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
