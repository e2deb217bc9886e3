"""``s3prl-crosscorpus augment SPEC``: check an augmentation SPEC and print what it means (recipes call it first).

Prints the canonical form (every parameter), the system-name tag and any warning; a bad SPEC is one
``error:`` line and exit 2, before any work. ``--write DIR --audio FILE``: also write copies to listen to.
"""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

from ..augment.spec import SpecError, check_copies, check_degrade, describe_parameters, parse_spec, spec_warnings
from ..core.names import augment_tags
from .main import refuse

# the effects (scipy), the cache and audio input are imported in main: --help stays fast.


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s3prl-crosscorpus augment", description=__doc__.splitlines()[0],
                                     epilog="augmentations and defaults: " + "; ".join(describe_parameters()))
    parser.add_argument("spec", metavar="SPEC", help="e.g. speed,noise:snr=0..10,reverb")
    parser.add_argument("--copies", type=int, default=1, metavar="K", help="copies per training utterance")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    parser.add_argument("--cacheable", action="store_true",
                        help="also refuse what the DNN feature cache cannot hold (babble: per-split talkers)")
    parser.add_argument("--degrade", action="store_true", help="check it as a --test-degrade SPEC instead")
    parser.add_argument("--audio", type=Path, help="a file to augment (with --write)")
    parser.add_argument("--write", type=Path, metavar="DIR", help="write K augmented copies of --audio here")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from ..augment.plan import AugmentError, augmented_audio, draw_plan
    from ..cache.augmented import check_cacheable
    from ..core.audio import TARGET_RATE, AudioError
    from ..core.io_utils import sha256_file

    try:
        spec = parse_spec(args.spec)
        check_copies(args.copies)
        if spec is None:
            raise SpecError("the SPEC names no augmentation")
        if args.cacheable:
            check_cacheable(spec)
        if args.degrade:
            check_degrade(spec)
    except SpecError as err:
        return refuse(err)
    for warning in spec_warnings(spec):
        print(warning, file=sys.stderr)
    print(f"canonical: {spec.canonical()}")
    print(f"system-name tag: {augment_tags(spec.short(), args.copies)[0]}")
    print(f"identity: {spec.identity()}")
    if args.write and args.audio:
        import soundfile as sf

        try:
            digest = sha256_file(args.audio)
            for k in range(args.copies):
                plan = draw_plan(spec, digest, k, args.seed, "", ())
                out = args.write / f"{args.audio.stem}.aug{k}.wav"
                out.parent.mkdir(parents=True, exist_ok=True)
                sf.write(str(out), augmented_audio(str(args.audio), plan), TARGET_RATE)
                print(f"wrote {out}: {plan}")
        except (OSError, AudioError, AugmentError) as err:
            return refuse(f"{args.audio}: {err}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
