"""Benchmark: training steps through s3prl's on-the-fly runner vs. from the feature cache.

``python -m s3prl_crosscorpus.benchmarks.cache`` builds synthetic corpora and a randomly
initialised HuBERT **base**, extracts the cache once, then trains the same head with the same
config for the same number of steps through (a) s3prl's Runner with the upstream on the fly
(``run-downstream``) and (b) the same Runner over the cache (``train-cached``). Each part runs in
its own process so its peak memory (max RSS) is its own. It prints steady-state steps/second,
their ratio, peak memory, extraction speed, and the projected wall time of the paper's grid
(30000 steps x 5 folds x 3 heads x 2 conditions) for each path. The cache path is also timed
for the other two heads, whose cost the grid projection needs.
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import mean, median
from typing import Dict, List, Optional

from ..core.names import HEADS

#: The paper grid: steps per run x folds x heads x conditions (HuBERT rows are IEMOCAP-only).
GRID_STEPS = 30000 * 5 * 3 * 2
#: Real 4-class corpora: utterances and approximate mean duration in seconds (EmoDB ~2.8 s,
#: RAVDESS speech ~3.7 s, IEMOCAP ~4.5 s per utterance; about 7.9 hours in all).
REAL_CORPORA = {"emodb": (339, 2.8), "ravdess": (672, 3.7), "iemocap": (5531, 4.5)}


def real_audio_seconds() -> float:
    return sum(n * seconds for n, seconds in REAL_CORPORA.values())


def real_mean_seconds() -> float:
    return real_audio_seconds() / sum(n for n, _ in REAL_CORPORA.values())


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (all its threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def hours(seconds: float) -> str:
    return f"{seconds / 3600:,.1f} h" if seconds >= 3600 else f"{seconds / 60:,.1f} min"


# --------------------------------------------------------------------------- workers (own process each)

def runner_argv(args: argparse.Namespace, expdir: Path) -> List[str]:
    from ..core.names import DOWNSTREAM, expert_overrides, s3prl_overrides
    from ..superb.runner import config_path

    overrides = s3prl_overrides({
        **expert_overrides(dict(data_dir=str(args.workdir / "data"), test_corpus=args.corpus,
                                num_workers=args.workers), modelrc={"head": args.head}),
        "config.runner.total_steps": args.steps,
        # One dev evaluation after the last step (the expert requires one); it is not timed.
        "config.runner.eval_step": args.steps, "config.runner.log_step": 1000000, "config.runner.save_step": 1000000,
    })
    return ["-m", "train", "-u", "hubert_local", "-k", str(args.workdir / "hubert_base_random.pt"),
            "-d", DOWNSTREAM, "-c", str(config_path("paper")), "-p", str(expdir), "-o", overrides,
            "--device", args.device, "--seed", "0"]


def time_training(runner) -> List[float]:
    """Run ``runner.train()``; return the start time of every optimizer step.

    A step lasts from its first training forward (of ``gradient_accumulate_steps``) to the next
    step's, data loading included; the last step (followed by the dev evaluation) is left out."""
    starts: List[float] = []

    def stamp(module, inputs):
        if inputs[0] == "train":
            starts.append(time.perf_counter())

    handle = runner.downstream.model.register_forward_pre_hook(stamp)
    runner.train()
    handle.remove()
    return starts[::int(runner.config["runner"]["gradient_accumulate_steps"])]


def worker_train(args: argparse.Namespace) -> dict:
    """Train ``args.steps`` steps on the fly (s3prl Runner + HuBERT) or from the cache."""
    import torch

    from ..superb.runner import CacheSource, build_runner

    torch.set_num_threads(args.threads)
    expdir = args.workdir / f"exp_{args.worker}_{args.head}"  # one folder per run: no mixed logs/checkpoints
    cache = CacheSource(args.workdir / "cache") if args.worker == "cached" else None
    runner, _ = build_runner(runner_argv(args, expdir), cache)
    wall_before, cpu_before = time.perf_counter(), cpu_seconds()
    starts = time_training(runner)
    wall, cpu = time.perf_counter() - wall_before, cpu_seconds() - cpu_before
    steps = [b - a for a, b in zip(starts, starts[1:])][args.warmup:]
    config = runner.config
    return {"path": args.worker, "steps_timed": len(steps), "seconds_per_step": mean(steps),
            "utterances_per_step": config["downstream_expert"]["datarc"]["train_batch_size"]
            * config["runner"]["gradient_accumulate_steps"],
            "median_seconds_per_step": median(steps), "peak_rss_mib": peak_rss_mib(),
            "busy_cores": cpu / wall}


def worker_extract(args: argparse.Namespace) -> dict:
    import torch

    from ..cache.extract import UpstreamExtractor, extract
    from ..cache.format import FeatureCache

    torch.set_num_threads(args.threads)

    extractor = UpstreamExtractor("hubert_local", str(args.workdir / "hubert_base_random.pt"), args.device)
    start, cpu_before = time.perf_counter(), cpu_seconds()
    report = extract(args.workdir / "data", args.workdir / "cache", "hubert_local", extractor.ckpt,
                     extractor=extractor, quiet=True)
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu_before
    cache = FeatureCache(args.workdir / "cache")
    frames = sum(cache.length(i) for i in cache.entries)
    size = sum(p.stat().st_size for p in (args.workdir / "cache").rglob("*.npy"))
    return {"seconds": seconds, "audio_seconds": report.audio_seconds, "utterances": report.utterances,
            "frames": frames, "bytes": size, "layers": cache.num_layers, "hidden": cache.hidden_size,
            "peak_rss_mib": peak_rss_mib(), "busy_cores": cpu / seconds}


def run_worker(args: argparse.Namespace, name: str, head: Optional[str] = None) -> dict:
    """Run one part in a fresh process; return its JSON report."""
    command = [sys.executable, "-m", "s3prl_crosscorpus.benchmarks.cache", "--worker", name,
               "--workdir", str(args.workdir), "--steps", str(args.steps), "--warmup", str(args.warmup),
               "--head", head or args.head, "--corpus", args.corpus, "--workers", str(args.workers),
               "--device", args.device, "--threads", str(args.threads)]
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"benchmark part {name} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- driver

def prepare_inputs(workdir: Path, per_class: int) -> float:
    """Synthetic corpora, their manifest and a random HuBERT base; return the mean utterance seconds."""
    from ..core.manifest import load_manifest, prepare
    from ..demo.random_hubert import write_random_hubert
    from ..demo.synth import synthesize

    if not (workdir / "data" / "manifest.jsonl").exists():
        prepare(synthesize(workdir / "corpora", per_class=per_class, seed=0), workdir / "data")
    if not (workdir / "hubert_base_random.pt").exists():
        write_random_hubert(workdir / "hubert_base_random.pt", size="base", seed=0)
    utts = load_manifest(workdir / "data")
    return mean(u.seconds for u in utts)


def grid_projection(extraction: dict, fly: dict, cached: Dict[str, dict], head: str,
                    synth_mean: float) -> Dict[str, float]:
    """Projected seconds of the paper grid on the real corpora, per path.

    Each head runs a third of the grid's steps. The cache path's step is measured for every head;
    on the fly, a step of another head is the measured one of ``head`` plus the heads' difference
    measured from the cache (the upstream part is the same whatever the head). Step costs are scaled
    by the real/synthetic mean utterance length (both paths are about linear in frames)."""
    scale = real_mean_seconds() / synth_mean
    per_head = GRID_STEPS / len(cached) * scale
    upstream_part = fly["seconds_per_step"] - cached[head]["seconds_per_step"]
    extraction_seconds = real_audio_seconds() / (extraction["audio_seconds"] / extraction["seconds"])
    heads = sum(part["seconds_per_step"] for part in cached.values()) * per_head
    return {"on_the_fly": heads + upstream_part * per_head * len(cached), "extraction": extraction_seconds,
            "cached_heads": heads, "cache": extraction_seconds + heads}


def report(extraction: dict, fly: dict, cached: Dict[str, dict], synth_mean: float, args: argparse.Namespace) -> str:
    """The printed table: measured figures, then the projection to the paper grid on real corpora."""
    mine = cached[args.head]
    speed = extraction["audio_seconds"] / extraction["seconds"]
    grid = grid_projection(extraction, fly, cached, args.head, synth_mean)
    real_bytes = extraction["bytes"] / extraction["audio_seconds"] * real_audio_seconds()
    rows = [(f"on the fly, {args.head}", fly)] + [(f"from cache, {name}", part) for name, part in cached.items()]
    lines = [
        f"benchmark: random HuBERT base ({extraction['layers']} layers x {extraction['hidden']}), paper config "
        f"downstream_configs/paper.yaml ({fly['utterances_per_step']} utterances per step), matched {args.corpus} "
        f"fold 1, {args.steps} steps per run ({args.warmup} warm-up steps and the last not timed), data workers "
        f"{args.workers}, device {args.device}, {args.threads} threads, synthetic utterances of {synth_mean:.2f} s "
        f"on average; load average before/after {args.load_before:.2f}/{os.getloadavg()[0]:.2f} on "
        f"{os.cpu_count()} cores",
        "",
        f"{'path, head':<26}{'s/step':>10}{'steps/s':>10}{'peak RSS':>12}{'busy cores':>12}",
        *(f"{name:<26}{part['seconds_per_step']:>10.4f}{1 / part['seconds_per_step']:>10.2f}"
          f"{part['peak_rss_mib']:>8.0f} MiB{part['busy_cores']:>12.2f}" for name, part in rows),
        f"ratio ({args.head} head): {fly['seconds_per_step'] / mine['seconds_per_step']:.1f}x fewer seconds per "
        "training step from the cache",
        f"extraction: {extraction['utterances']} utterances, {extraction['audio_seconds']:.0f} s of audio in "
        f"{extraction['seconds']:.1f} s ({speed:.1f} s of audio per second), {extraction['bytes'] / 2**20:.0f} MiB "
        f"fp16, peak RSS {extraction['peak_rss_mib']:.0f} MiB, {extraction['busy_cores']:.2f} busy cores",
        "(busy cores = CPU seconds / wall seconds; below the thread count means other processes held the cores)",
        "",
        f"projected paper grid ({GRID_STEPS:,} steps = 30000 x 5 folds x 3 heads x 2 conditions) on the real "
        f"corpora ({sum(n for n, _ in REAL_CORPORA.values())} utterances, {real_audio_seconds() / 3600:.1f} h of "
        f"audio; step costs scaled by the mean utterance length {real_mean_seconds():.2f}/{synth_mean:.2f} s):",
        f"  on the fly:  {hours(grid['on_the_fly'])}",
        f"  from cache:  {hours(grid['cache'])} = one extraction pass {hours(grid['extraction'])} + head training "
        f"{hours(grid['cached_heads'])}; cache on disk about {real_bytes / 2**30:.0f} GiB",
        f"  grid speed-up: {grid['on_the_fly'] / grid['cache']:.1f}x",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m s3prl_crosscorpus.benchmarks.cache", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="training steps (optimizer updates) per path")
    parser.add_argument("--warmup", type=int, default=3, help="first steps left out of the timing")
    parser.add_argument("--head", default="linear", choices=HEADS,
                        help="head trained on both paths (paper config downstream_configs/paper.yaml); the cache "
                             "path also times the other heads for the grid projection")
    parser.add_argument("--corpus", default="iemocap", help="matched training corpus (the paper's HuBERT rows)")
    parser.add_argument("--workers", type=int, default=0, help="data loader workers in both paths")
    parser.add_argument("--per-class", type=int, default=2, help="synthetic utterances per speaker and class")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads")
    parser.add_argument("--workdir", type=Path,
                        help="keep inputs and outputs here (default: a temporary folder); its cache/ is rebuilt")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    parser.add_argument("--worker", choices=["extract", "onthefly", "cached"], help=argparse.SUPPRESS)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.warmup >= args.steps - 2:
        raise SystemExit("--warmup must leave at least two timed steps")
    if args.worker:
        part = worker_extract(args) if args.worker == "extract" else worker_train(args)
        print(json.dumps(part))
        return 0
    with tempfile.TemporaryDirectory(prefix="benchmark_cache_") as scratch:
        args.workdir = (args.workdir or Path(scratch)).resolve()
        print(f"preparing synthetic corpora and a random HuBERT base in {args.workdir} ...", file=sys.stderr)
        synth_mean = prepare_inputs(args.workdir, args.per_class)
        args.load_before = os.getloadavg()[0]
        parts: Dict[str, dict] = {}
        shutil.rmtree(args.workdir / "cache", ignore_errors=True)  # extraction is timed from scratch
        for name in ("extract", "onthefly"):
            print(f"running {name} ...", file=sys.stderr)
            parts[name] = run_worker(args, name)
        cached = {}
        for head in [args.head] + [h for h in HEADS if h != args.head]:
            print(f"running cached {head} ...", file=sys.stderr)
            cached[head] = run_worker(args, "cached", head)
        parts["cached"] = cached
        print(report(parts["extract"], parts["onthefly"], cached, synth_mean, args))
        if args.json:
            from ..core.io_utils import write_json

            write_json(args.json, {"args": {k: str(v) for k, v in vars(args).items()}, "synthetic_mean_seconds":
                                   synth_mean, **parts})
    return 0


if __name__ == "__main__":
    sys.exit(main())
