"""Benchmark: what verifying a feature-cache shard (sha256 + finiteness) costs a run.

``python -m s3prl_crosscorpus.benchmarks.cache_verify`` writes one shard of the default size
(32 utterances) of HuBERT base's shape (13 layers x 768) with the real corpora's mean utterance
length (4.33 s = 216 frames), then times ``FeatureCache.verify`` (one read: sha256 and the
non-finite scan) and a plain sha256 of the file, each from the page cache, and projects the
whole 26 GiB cache.
"""
import argparse
import tempfile
import time
from pathlib import Path
from typing import List, Optional

import numpy as np

from ..cache import format as fc

#: HuBERT base over the three corpora: bytes of the whole cache (CACHE.md).
FULL_CACHE_BYTES = 26 * 2 ** 30


def write_shard(root: Path, frames_per_utt: int, layers: int, width: int) -> Path:
    """One complete shard of random fp16 features; returns its array file."""
    key = fc.UpstreamKey("hubert", None, layers, width, 320)
    plan = fc.ShardPlan.from_ids([f"u{i:02d}" for i in range(fc.DEFAULT_SHARD_SIZE)])
    fc.prepare_root(root, key, plan)
    rng = np.random.default_rng(0)
    items = [(u, "-", rng.standard_normal((frames_per_utt, layers, width), dtype=np.float32))
             for u in plan.shards[0]]
    fc.write_shard(root, 0, key, items)
    return fc.shard_paths(root, 0)[0]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=216, help="frames per utterance (4.33 s at 50 Hz)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cache-verify-") as tmp:
        npy = write_shard(Path(tmp), args.frames, 13, 768)
        size = npy.stat().st_size
        verify, digest = [], []
        for _ in range(args.repeats):
            fc._VERIFIED.clear()  # as a new process
            start = time.perf_counter()
            fc.FeatureCache(tmp).verify()
            verify.append(time.perf_counter() - start)
            start = time.perf_counter()
            fc.sha256_file(npy)
            digest.append(time.perf_counter() - start)
    best = min(verify)
    print(f"shard of {fc.DEFAULT_SHARD_SIZE} utterances x {args.frames} frames x 13 x 768 fp16: "
          f"{size / 2 ** 20:.1f} MiB")
    print(f"verify (sha256 + non-finite scan): {best:.3f} s ({size / best / 2 ** 30:.2f} GiB/s); "
          f"sha256 alone {min(digest):.3f} s (best of {args.repeats}, page cache)")
    print(f"whole cache ({FULL_CACHE_BYTES / 2 ** 30:.0f} GiB): about {FULL_CACHE_BYTES / size * best:.0f} s "
          f"per run from the page cache, or its read time from disk if longer")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
