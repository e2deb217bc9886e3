"""``s3prl-crosscorpus extract``: run a frozen s3prl upstream once over the manifest and cache all hidden layers."""
import argparse
import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

from ..cache.format import DEFAULT_SHARD_SIZE

#: The library logger whose messages this command prints.
LOGGER = "s3prl_crosscorpus.cache.extract"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="s3prl-crosscorpus extract",
        description="Run a frozen s3prl upstream once over the manifest and store all hidden layers "
                    "(fp16, memory-mapped shards). Re-running resumes; under torchrun each rank takes a share.")
    parser.add_argument("-u", "--upstream", required=True,
                        help="s3prl upstream name (hubert, hubert_local, wavlm_large, hf_wavlm_custom, fbank, ...)")
    parser.add_argument("-k", "--upstream_ckpt", "--ckpt", dest="ckpt",
                        help="checkpoint file for *_local upstreams; Hugging Face hub id or save_pretrained folder "
                             "for hf_hubert_custom, hf_wav2vec2_custom, hf_wavlm_custom, hf_data2vec_audio_custom")
    parser.add_argument("--data", required=True, type=Path, help="DATA_DIR holding manifest.jsonl (from `prepare`)")
    parser.add_argument("--out", required=True, type=Path, help="cache folder (one upstream per folder)")
    parser.add_argument("--device", default="auto", help="auto (GPU of this rank if present, else CPU), cpu, cuda:N")
    parser.add_argument("--shard-size", type=int,
                        help=f"utterances per shard (default: an existing cache's, else {DEFAULT_SHARD_SIZE}); "
                             "another size than an existing cache's is refused")
    parser.add_argument("--workers", type=int,
                        help="audio decoding processes (default: 0, in the main process, on CPU; 2 with a GPU)")
    parser.add_argument("--quick-check", action="store_true",
                        help="on resume trust a shard whose size and header match, without re-hashing it")
    parser.add_argument("--rank", type=int, help="this process's share (default: $RANK from torchrun, else 0)")
    parser.add_argument("--world-size", type=int, help="number of shares (default: $WORLD_SIZE, else 1)")
    parser.add_argument("--augment", metavar="SPEC", help="extract K augmented copies of every utterance instead, "
                        "into OUT/aug-<id>-seed<S>/copy<k>/ (docs/augmentation.md; babble needs the live upstream)")
    parser.add_argument("--augment-copies", type=int, default=1, metavar="K", help="copies (default 1)")
    parser.add_argument("--augment-seed", type=int, default=0, metavar="S", help="seed of the draws (default 0)")
    return parser


@contextmanager
def log_to_stderr() -> Iterator[None]:
    """Print the extraction's log lines on standard error as ``[extract] ...`` (``[extract rank R]`` under torchrun)."""
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    prefix = f"[extract rank {os.environ.get('RANK', 0)}] " if world_size > 1 else "[extract] "
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(prefix + "%(message)s"))
    logger = logging.getLogger(LOGGER)
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # s3prl's main configures the root logger: print each line once
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        handler.flush()


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from ..cache.extract import extract
    from ..cache.format import CacheError
    from ..core.audio import AudioError
    from ..core.manifest import ManifestError

    from ..augment.plan import check_material
    from ..augment.spec import SpecError, check_copies, parse_spec
    from ..core.manifest import load_manifest
    from ..cache.augmented import CopySpec, check_cacheable, copy_roots

    try:
        spec = parse_spec(args.augment)
        if spec is not None:
            check_cacheable(spec)
            check_copies(args.augment_copies)
            check_material(spec, load_manifest(args.data))
    except ManifestError as err:
        print(f"extract: error: {err}", file=sys.stderr)
        return 2
    except SpecError as err:  # before any work
        print(f"extract: error: --augment: {err}", file=sys.stderr)
        return 2
    targets = ([(args.out, None)] if spec is None else
               [(root, CopySpec(spec, k, args.augment_seed))
                for k, root in enumerate(copy_roots(args.out, spec, args.augment_seed, args.augment_copies))])
    try:
        with log_to_stderr():
            extractor = None
            for out, augment in targets:
                report = extract(args.data, out, args.upstream, args.ckpt, device=args.device,
                                 shard_size=args.shard_size, rank=args.rank, world_size=args.world_size,
                                 workers=args.workers, full_check=not args.quick_check, extractor=extractor,
                                 augment=augment)
                extractor = report.extractor
    except (CacheError, ManifestError, AudioError, OSError) as err:  # OSError: e.g. an audio file gone
        print(f"extract: error: {err}", file=sys.stderr)
        return 2  # bad input (manifest, audio, cache), named; as every other command
    return 0


if __name__ == "__main__":
    sys.exit(main())
