"""``python -m s3prl_crosscorpus.benchmarks.byo``: prepare + folds + manifest checks on a 150,000-row CSV corpus.

MSP-Podcast holds about 150,000 utterances. This writes a synthetic CSV corpus of that size (tiny wavs of
16 distinct samples each, so every read is a header read and no two files are duplicates), then times
``prepare --csv`` (row checks, header probes, duplicate hashing, manifest and folds_v2.json), loading the
manifest back with every row check, the fold table, the matched split of every fold, and ``folds``'
description; it prints seconds per stage, peak resident memory (``resource``) and, with ``--tracemalloc``,
Python's peak allocation. It ends with what the exact kernel search would need at this size (it refuses
before starting, naming ``--search sklearn`` or a subsample).
"""
import argparse
import os
import resource
import shutil
import struct
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Callable, Dict, List, Tuple

from s3prl_crosscorpus.core.corpora.table import read_csv_corpus
from s3prl_crosscorpus.core.folds import FOLDS, describe, make_split, manifest_folds
from s3prl_crosscorpus.core.labels import LABELS
from s3prl_crosscorpus.core.manifest import load_manifest, prepare

from baseline_svm.search import SearchMemoryError, available_memory, gib, plan_memory

SAMPLES = 16  # per wav: the header is what prepare reads


def tiny_wav(index: int) -> bytes:
    """A 16-kHz mono 16-bit wav of SAMPLES samples that encode ``index`` (so no two files are equal)."""
    samples = struct.pack(f"<{SAMPLES}h", *((index >> (4 * (k % 8))) & 0xF for k in range(SAMPLES)))
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(samples), b"WAVE", b"fmt ", 16, 1, 1, 16000,
                         32000, 2, 16, b"data", len(samples))
    return header + samples


def write_corpus(root: Path, rows: int, speakers: int) -> Path:
    """``root/corpus.csv`` with ``rows`` utterances of ``speakers`` speakers (half F, half M), 1,000 wavs a folder."""
    lines = ["path,label,speaker,gender"]
    for i in range(rows):
        rel = f"audio/{i // 1000:04d}/u{i:06d}.wav"
        if i % 1000 == 0:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(tiny_wav(i))
        speaker = i % speakers
        lines.append(f"{rel},{LABELS[(i // speakers) % 4]},spk{speaker:05d},{'FM'[speaker % 2]}")
    (root / "corpus.csv").write_text("\n".join(lines) + "\n")
    return root / "corpus.csv"


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(stages: List[Tuple[str, float, float]], name: str, work: Callable):
    """Run ``work``, append (name, seconds, peak RSS MiB after it) to ``stages``, return its value."""
    start = time.perf_counter()
    value = work()
    stages.append((name, time.perf_counter() - start, peak_rss_mib()))
    return value


def run(rows: int, speakers: int, workdir: Path) -> Dict[str, object]:
    """Every stage's seconds and peak memory on a fresh synthetic corpus in ``workdir``."""
    stages: List[Tuple[str, float, float]] = []
    csv_path = timed(stages, "write synthetic corpus (not timed work)", lambda: write_corpus(workdir, rows, speakers))
    base_rss = peak_rss_mib()
    read = timed(stages, "read CSV: row checks + wav header probes", lambda: read_csv_corpus("big", csv_path))
    timed(stages, "prepare: duplicate hashing, manifest, folds_v2.json",
          lambda: prepare({}, workdir / "data", progress=False, reads=[read]))
    utts = timed(stages, "load manifest with every row check", lambda: load_manifest(workdir / "data"))
    table = timed(stages, "fold table (speaker k-fold)", lambda: manifest_folds(utts))
    timed(stages, "matched split of all 5 folds", lambda: [make_split(utts, "matched", k, "big") for k in FOLDS])
    timed(stages, "`folds` description", lambda: describe(utts))
    return {"rows": len(utts), "speakers": len({u.speaker for u in utts}), "stages": stages,
            "base_rss_mib": base_rss, "test_only": table.test_only}


def kernel_search_need(rows: int, features: int = 88) -> str:
    """What the exact kernel search of one fold would need at this corpus size, and what it says."""
    n_train = int(rows * 0.8 * 0.9)
    n_val = int(rows * 0.8) - n_train
    try:
        plan_memory(n_train, n_val, features, 1, None)
        return f"kernel search for {n_train} training rows fits in {gib(available_memory() or 0)}"
    except SearchMemoryError as err:
        return f"refused before starting: {err}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=150_000)
    parser.add_argument("--speakers", type=int, default=1_200)
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python allocations (slower)")
    parser.add_argument("--keep", type=Path, default=None, help="write the corpus here and keep it")
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="s3cc-byo-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.tracemalloc:
        tracemalloc.start()
    try:
        report = run(args.rows, args.speakers, workdir)
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"{report['rows']} utterances, {report['speakers']} speakers, {os.cpu_count()} CPU(s) visible")
    print(f"{'stage':<56} {'seconds':>8} {'peak RSS MiB':>13}")
    for name, seconds, rss in report["stages"]:
        print(f"{name:<56} {seconds:8.1f} {rss:13.0f}")
    total = sum(s for name, s, _ in report["stages"][1:])
    print(f"{'prepare + folds + checks, total':<56} {total:8.1f}")
    if args.tracemalloc:
        print(f"Python peak allocation (tracemalloc): {tracemalloc.get_traced_memory()[1] / 2 ** 20:.0f} MiB")
    print(kernel_search_need(report["rows"]))


if __name__ == "__main__":
    main()
