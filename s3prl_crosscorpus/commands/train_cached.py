"""``s3prl-crosscorpus train-cached``: s3prl's Runner (train / evaluate) with the frozen upstream read
from a feature cache made by ``extract``; every option but ours is s3prl run_downstream's."""
import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional

PROG = "s3prl-crosscorpus train-cached"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, add_help=False, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  s3prl-crosscorpus train-cached --cache cache/hubert -c downstream_configs/paper.yaml "
               "-p exp/linear/matched-iemocap/fold1 \\\n    -o \"$(s3prl-crosscorpus overrides data_dir=DATA "
               "test_corpus=iemocap head=linear)\"",
        description="Train and evaluate crosscorpus_emotion heads from a feature cache made by "
                    "`s3prl-crosscorpus extract`. Every other option is s3prl run_downstream's "
                    "(-c CONFIG -p EXPDIR -o OVERRIDES --seed --device -m train|evaluate -e CKPT -t SPLIT ...); "
                    "-u/-k default to the cache's upstream.")
    parser.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    parser.add_argument("--cache", type=Path, help="cache folder (default with -e: the one the checkpoint used)")
    parser.add_argument("--no-test", action="store_true",
                        help="after -m train, do not evaluate dev-best.ckpt on the test split")
    parser.add_argument("--no-audio-check", action="store_true",
                        help="do not re-hash the audio files to confirm the cache is from the same audio")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    ours, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if ours.help:
        parser.print_help()
        return 0
    if int(os.environ.get("WORLD_SIZE", 1)) > 1:
        print(f"{PROG}: error: runs in one process (no DDP): from the cache a head trains at the speed of the "
              "head alone; start it without torchrun", file=sys.stderr)
        return 2
    from ..cache.format import CacheError
    from ..superb.dataset import ConfigError
    from ..superb.runner import CacheSource, evaluate_best, run

    try:
        args = run(rest, CacheSource(ours.cache, not ours.no_audio_check), prog=PROG)
        if args.mode == "train" and not ours.no_test:
            evaluate_best(args, CacheSource(Path(args.feature_cache), not ours.no_audio_check))
    except (CacheError, ConfigError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
