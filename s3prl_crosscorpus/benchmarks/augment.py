"""Benchmark: the cost of extracting one augmented copy against extracting the plain file (target <= 1.3x).

``python -m s3prl_crosscorpus.benchmarks.augment --data DATA_DIR`` takes the first N files of the manifest
(default 40); for openSMILE eGeMAPSv02 functionals and for a random HuBERT (tiny, or base with
``--upstream-size base``: the frozen upstream's forward on CPU) it times, file by file in alternation,
plain extraction (read + features) and augmented extraction (read + draw the plan + augment + features),
one process, warm (one file first builds openSMILE, the model and the simulated rooms). Prints seconds
per file and the ratio for each SPEC; one run, no repeats.
"""
import argparse
import tempfile
import time
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from ..augment.plan import apply_plan, draw_plan
from ..augment.spec import parse_spec
from ..core.audio import TARGET_RATE, load_audio
from ..core.io_utils import sha256_file
from ..core.manifest import load_manifest

SPECS = ("speed,noise", "reverb", "telephone", "speed,noise,reverb,telephone")
TARGET = 1.3


def paired_times(paths: Sequence[str], features: Callable[[np.ndarray], object], spec_text: str
                 ) -> Tuple[float, float]:
    """Mean seconds per file of read + features (plain) and of read + augment + features, timed file by file
    in alternation, so that both see the same load of a shared machine."""
    spec = parse_spec(spec_text)
    digests = [sha256_file(p) for p in paths]  # hashed once for any run (the cache key): not timed
    plain = augmented = 0.0
    for path, digest in zip(paths, digests):
        start = time.perf_counter()
        features(load_audio(path))
        middle = time.perf_counter()
        features(apply_plan(load_audio(path), draw_plan(spec, digest, 0, 0)))
        plain, augmented = plain + middle - start, augmented + time.perf_counter() - middle
    return plain / len(paths), augmented / len(paths)


def opensmile_features() -> Callable[[np.ndarray], object]:
    import opensmile

    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.Functionals)
    return lambda wave: smile.process_signal(wave, TARGET_RATE)


def upstream_features(folder: Path, size: str) -> Callable[[np.ndarray], object]:
    import torch

    from ..cache.extract import UpstreamExtractor
    from ..demo.random_hubert import write_random_hubert

    torch.set_num_threads(1)
    ckpt = write_random_hubert(folder / f"{size}_hubert.pt", size=size, seed=0)
    extractor = UpstreamExtractor("hubert_local", str(ckpt), "cpu")
    return extractor


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="DATA_DIR (its manifest's first files are used)")
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--specs", nargs="+", default=list(SPECS))
    parser.add_argument("--upstream-size", choices=("tiny", "base"), default="tiny",
                        help="random HuBERT of this size (base: HuBERT base's 95M parameters, a real upstream's cost)")
    args = parser.parse_args(argv)
    paths = [u.path for u in sorted(load_manifest(args.data), key=lambda u: u.id)[:args.files]]
    seconds = sum(len(load_audio(p)) for p in paths) / TARGET_RATE / len(paths)
    print(f"{len(paths)} files, {seconds:.2f} s of audio each on average; one process; seconds per file")
    with tempfile.TemporaryDirectory(prefix="augment-bench-") as tmp:
        for name, features in (("openSMILE eGeMAPSv02", opensmile_features()),
                               (f"{args.upstream_size} random HuBERT (CPU)",
                                upstream_features(Path(tmp), args.upstream_size))):
            for spec in args.specs:  # warm: openSMILE, the model and each SPEC's simulated rooms built once
                features(apply_plan(load_audio(paths[0]), draw_plan(parse_spec(spec), "0" * 64, 0, 0)))
            print(name)
            for spec in args.specs:
                plain, augmented = paired_times(paths, features, spec)
                ratio = augmented / plain
                print(f"  {spec:<30} plain {plain * 1000:6.1f} ms  augmented {augmented * 1000:6.1f} ms  ratio "
                      f"{ratio:.2f}x ({'within' if ratio <= TARGET else 'ABOVE'} the {TARGET}x target)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
