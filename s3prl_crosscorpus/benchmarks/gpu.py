"""GPU check in one call: ``python -m s3prl_crosscorpus.benchmarks.gpu [--json FILE]``.

On a CUDA machine (a few minutes): a randomly initialised HuBERT **base** extracts synthetic
utterances in fp32 and in fp16 (autocast): real-time factor of each and the largest difference
between their features; every head trains from the fp32 feature cache with the paper's config
(steps per second, peak GPU memory); one ``torchrun`` DDP training step of ``run-downstream`` runs
with 1 and 2 processes; and Table 4's GPU hours are projected (3 heads x matched IEMOCAP and
extended x 5 folds x 30000 steps, plus one extraction of the three corpora). Without CUDA the same
code runs on the CPU with the tiny random HuBERT and the smoke config in seconds (the test suite's
run); its projection then says nothing about HuBERT base and is labelled so.
It prints a table and writes every figure into one JSON file.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import mean
from typing import Any, Dict, List, Optional

from ..core.names import HEADS
from .cache import REAL_CORPORA, real_audio_seconds, real_mean_seconds, time_training

#: Table 4: heads x conditions (matched IEMOCAP, extended) x folds x training steps per run.
TABLE4_RUNS = len(HEADS) * 2 * 5
TABLE4_STEPS = 30000
#: Per device kind: random HuBERT size, runner config, timed steps, warm-up steps.
#: fp16 on the CPU (autocast) is far slower than fp32 there, so it is timed on the first utterances only.
PROFILES = {"cuda": dict(size="base", config="paper", steps=40, warmup=5, fp16_utterances=None),
            "cpu": dict(size="tiny", config="smoke", steps=6, warmup=2, fp16_utterances=8)}


def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def peak_memory_mib(device: str) -> float:
    """Peak GPU memory allocated by torch since the last reset, or this process's peak RSS on the CPU."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_memory(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


# --------------------------------------------------------------------------- inputs

def prepare_inputs(workdir: Path, corpus: str, size: str, per_class: int, data: Optional[Path]) -> Path:
    """DATA_DIR with ``corpus``'s synthetic utterances only, and a random HuBERT of ``size``."""
    from ..core.io_utils import write_jsonl
    from ..core.manifest import load_manifest, prepare
    from ..demo.random_hubert import write_random_hubert
    from ..demo.synth import synthesize

    if data is None:
        data = workdir / "all_data"
        if not (data / "manifest.jsonl").exists():
            prepare(synthesize(workdir / "corpora", per_class=per_class, seed=0), data)
    subset = workdir / "data"
    write_jsonl(subset / "manifest.jsonl", [u.to_dict() for u in load_manifest(data) if u.corpus == corpus])
    if not (workdir / f"hubert_{size}.pt").exists():
        write_random_hubert(workdir / f"hubert_{size}.pt", size=size, seed=0)
    return subset


# --------------------------------------------------------------------------- measurements

def time_forwards(extractor, waves: List[Any], device: str, fp16: bool) -> Dict[str, Any]:
    """Seconds of the upstream forwards over ``waves`` (after one warm-up), and the features."""
    import torch

    dtype = torch.float16 if fp16 else None
    context = (lambda: torch.autocast(device_type=device.split(":")[0], dtype=dtype)) if fp16 else torch.no_grad
    with context():
        extractor(waves[0])
        synchronize(device)
        start = time.perf_counter()
        features = [extractor(wave) for wave in waves]
        synchronize(device)
    return {"seconds": time.perf_counter() - start, "features": features}


def measure_extraction(workdir: Path, data: Path, ckpt: Path, device: str,
                       fp16_utterances: Optional[int] = None) -> Dict[str, Any]:
    """fp32 and fp16 real-time factors (fp16 on the first ``fp16_utterances``, all when None) and their max
    difference; then the fp32 cache of ``data`` (timed as a whole)."""
    import numpy as np

    from ..cache.extract import UpstreamExtractor, extract
    from ..core.audio import load_audio
    from ..core.manifest import load_manifest

    extractor = UpstreamExtractor("hubert_local", str(ckpt), device)
    waves = [load_audio(u.path) for u in load_manifest(data)]
    audio = sum(len(w) for w in waves) / 16000
    fp32 = time_forwards(extractor, waves, device, fp16=False)
    half = waves[:fp16_utterances] if fp16_utterances else waves
    fp16 = time_forwards(extractor, half, device, fp16=True)
    diffs = [float(np.abs(a - b).max()) for a, b in zip(fp32["features"], fp16["features"])]
    scale = max(float(np.abs(a).max()) for a in fp32["features"][:len(half)])
    start = time.perf_counter()
    extract(data, workdir / "cache", "hubert_local", str(ckpt), extractor=extractor, quiet=True)
    return {"utterances": len(waves), "audio_seconds": audio, "layers": extractor.num_layers,
            "hidden": extractor.hidden_size,
            "fp32": {"seconds": fp32["seconds"], "rtf": fp32["seconds"] / audio},
            "fp16": {"seconds": fp16["seconds"], "rtf": fp16["seconds"] / (sum(len(w) for w in half) / 16000),
                     "utterances": len(half)},
            "fp16_max_abs_diff": max(diffs), "fp16_max_rel_diff": max(diffs) / scale,
            "extract_command_seconds": time.perf_counter() - start}


def runner_argv(data: Path, ckpt: Path, config: str, head: str, steps: int, expdir: Path, device: str,
                corpus: str) -> List[str]:
    """``train-cached`` / ``run-downstream`` arguments: matched ``corpus`` fold 1, ``steps`` steps, dev once at the end."""
    from ..core.names import DOWNSTREAM, expert_overrides, s3prl_overrides
    from ..superb.runner import config_path

    overrides = s3prl_overrides({
        **expert_overrides(dict(data_dir=str(data), test_corpus=corpus, corpora=[corpus]), modelrc={"head": head}),
        "config.runner.total_steps": steps, "config.runner.eval_step": steps, "config.runner.log_step": 1000000,
        "config.runner.save_step": steps})
    return ["-m", "train", "-u", "hubert_local", "-k", str(ckpt), "-d", DOWNSTREAM, "-c", str(config_path(config)),
            "-p", str(expdir), "-o", overrides, "--device", device, "--seed", "0"]


def measure_head(workdir: Path, data: Path, ckpt: Path, profile: dict, head: str, device: str,
                 corpus: str) -> Dict[str, Any]:
    """Steps per second and peak memory of one head trained from the cache."""
    from ..superb.runner import CacheSource, build_runner

    argv = runner_argv(data, ckpt, profile["config"], head, profile["steps"], workdir / f"exp_{head}", device, corpus)
    runner, _ = build_runner(argv, CacheSource(workdir / "cache"))
    reset_peak_memory(device)
    starts = time_training(runner)
    steps = [b - a for a, b in zip(starts, starts[1:])][profile["warmup"]:]
    config = runner.config
    return {"seconds_per_step": mean(steps), "steps_per_second": 1 / mean(steps), "steps_timed": len(steps),
            "utterances_per_step": config["downstream_expert"]["datarc"]["train_batch_size"]
            * config["runner"]["gradient_accumulate_steps"], "peak_memory_mib": peak_memory_mib(device),
            "memory": "GPU, torch allocated" if device.startswith("cuda") else "process peak RSS (cumulative)"}


def measure_ddp(workdir: Path, data: Path, ckpts: Dict[str, Path], profile: dict, processes: int,
                device: str, corpus: str) -> Dict[str, Any]:
    """One ``torchrun`` DDP step of ``run-downstream`` (live upstream) with ``processes`` processes.

    On CUDA each process needs its own GPU (s3prl sets the device from the local rank); with fewer GPUs
    than processes the step runs on the CPU (gloo) with the tiny model, and the report says so."""
    import torch

    gpus = torch.cuda.device_count() if device.startswith("cuda") else 0
    on_gpu = device.startswith("cuda") and processes <= gpus
    fallback = device.startswith("cuda") and not on_gpu  # from CUDA to the CPU: the tiny model, in seconds
    size, config = ("tiny", "smoke") if fallback else (profile["size"], profile["config"])
    expdir = workdir / f"ddp_{processes}"
    argv = runner_argv(data, ckpts[size], config, "linear", 1, expdir, "cuda" if on_gpu else "cpu", corpus)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               "-m", "s3prl_crosscorpus", "run-downstream", *argv] + ([] if on_gpu else ["--backend", "gloo"])
    env = dict(os.environ, OMP_NUM_THREADS="1")
    start = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    seconds = time.perf_counter() - start
    world = None
    if run.returncode == 0 and (expdir / "states-1.ckpt").exists():
        from ..superb import compat

        compat.apply()
        world = torch.load(expdir / "states-1.ckpt", map_location="cpu").get("WorldSize")
    return {"processes": processes, "ok": run.returncode == 0 and world == processes, "world_size": world,
            "returncode": run.returncode, "seconds": seconds, "device": "cuda (nccl)" if on_gpu else "cpu (gloo)",
            "model": size, "note": f"{processes} processes need {processes} GPUs, this machine has {gpus}: ran on "
            "the CPU" if fallback else "",
            "stderr_tail": run.stderr[-1500:] if run.returncode else ""}


def project_table4(extraction: Dict[str, Any], heads: Dict[str, dict], synth_mean: float) -> Dict[str, float]:
    """Hours of Table 4 on this device: one fp32 extraction of the real corpora + every head's runs.

    Step costs are scaled by the real / synthetic mean utterance length; dev evaluations are left out."""
    scale = real_mean_seconds() / synth_mean
    extraction_h = extraction["fp32"]["rtf"] * real_audio_seconds() / 3600
    per_head = {h: r["seconds_per_step"] * scale * TABLE4_STEPS * TABLE4_RUNS / len(HEADS) / 3600
                for h, r in heads.items()}
    return {"extraction_hours": extraction_h, **{f"{h}_hours": v for h, v in per_head.items()},
            "total_hours": extraction_h + sum(per_head.values()), "length_scale": scale}


# --------------------------------------------------------------------------- report

def table(report: Dict[str, Any]) -> str:
    """The printed summary."""
    ex, proj = report["extraction"], report["table4_projection"]
    lines = [f"GPU check on {report['device_name']} ({report['device']}), random HuBERT {report['model_size']} "
             f"({ex['layers']} hidden states x {ex['hidden']}), config {report['config']}.yaml, "
             f"{ex['utterances']} synthetic utterances ({ex['audio_seconds']:.0f} s of audio)", "",
             f"{'extraction':<28}{'seconds':>10}{'RTF':>10}",
             f"{'fp32':<28}{ex['fp32']['seconds']:>10.2f}{ex['fp32']['rtf']:>10.4f}",
             f"{'fp16 (autocast)':<28}{ex['fp16']['seconds']:>10.2f}{ex['fp16']['rtf']:>10.4f}"
             + (f"  (first {ex['fp16']['utterances']} utterances)" if ex['fp16']['utterances'] < ex['utterances'] else ""),
             f"fp16 vs fp32: max |diff| {ex['fp16_max_abs_diff']:.4g} ({100 * ex['fp16_max_rel_diff']:.3f}% of "
             "max |feature|)", "",
             f"{'train-cached head':<28}{'s/step':>10}{'steps/s':>10}{'peak MiB':>12}",
             *(f"{h:<28}{r['seconds_per_step']:>10.4f}{r['steps_per_second']:>10.2f}{r['peak_memory_mib']:>12.0f}"
               for h, r in report["heads"].items()), "",
             f"{'torchrun DDP step':<28}{'ok':>10}{'seconds':>10}  device",
             *(f"{str(d['processes']) + ' process(es)':<28}{str(d['ok']):>10}{d['seconds']:>10.1f}  {d['device']}, "
               f"{d['model']} model{'; ' + d['note'] if d['note'] else ''}" for d in report["ddp"]), "",
             f"Table 4 projected on this device ({TABLE4_RUNS} runs x {TABLE4_STEPS} steps + one extraction of "
             f"{real_audio_seconds() / 3600:.1f} h of audio; step costs x {proj['length_scale']:.2f} for real "
             f"utterance lengths; dev evaluations not included): {proj['total_hours']:.1f} h = extraction "
             f"{proj['extraction_hours']:.2f} h + " + " + ".join(f"{h} {proj[h + '_hours']:.1f} h" for h in HEADS)]
    if report["model_size"] != "base":
        lines.append("(tiny model: the projection is not HuBERT base's; run on a CUDA machine for the real figures)")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m s3prl_crosscorpus.benchmarks.gpu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, default=Path("gpu_check.json"), help="report file (default: %(default)s)")
    parser.add_argument("--device", default="auto", help="cuda | cpu (auto: cuda when present)")
    parser.add_argument("--size", choices=["auto", "tiny", "base"], default="auto",
                        help="random HuBERT size (auto: base on CUDA, tiny on the CPU)")
    parser.add_argument("--config", choices=["paper", "smoke"], help="runner config (auto: paper on CUDA, smoke on "
                                                                   "the CPU)")
    parser.add_argument("--steps", type=int, help="training steps per head (default: 40 on CUDA, 6 on the CPU)")
    parser.add_argument("--corpus", default="iemocap", help="matched corpus of the training runs")
    parser.add_argument("--per-class", type=int, default=2, help="synthetic utterances per speaker and class")
    parser.add_argument("--data", type=Path, help="an existing DATA_DIR instead of synthesising one")
    parser.add_argument("--ddp", type=int, nargs="*", default=[1, 2], help="torchrun process counts (default: 1 2)")
    parser.add_argument("--workdir", type=Path, help="keep inputs and outputs here (default: a temporary folder)")
    return parser


def run_check(args: argparse.Namespace, workdir: Path) -> Dict[str, Any]:
    """Every measurement; the report as a dict."""
    import torch

    from ..core.manifest import load_manifest
    from ..demo.random_hubert import write_random_hubert

    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    profile = dict(PROFILES["cuda" if device.startswith("cuda") else "cpu"])
    if args.size != "auto":
        profile["size"] = args.size
    if args.config:
        profile["config"] = args.config
    if args.steps:
        profile.update(steps=args.steps, warmup=min(profile["warmup"], max(0, args.steps - 3)))
    started = time.perf_counter()
    data = prepare_inputs(workdir, args.corpus, profile["size"], args.per_class, args.data)
    ckpts = {profile["size"]: workdir / f"hubert_{profile['size']}.pt"}
    if "tiny" not in ckpts:
        ckpts["tiny"] = write_random_hubert(workdir / "hubert_tiny.pt", size="tiny", seed=0)
    synth_mean = mean(u.seconds for u in load_manifest(data))
    extraction = measure_extraction(workdir, data, ckpts[profile["size"]], device, profile["fp16_utterances"])
    heads = {h: measure_head(workdir, data, ckpts[profile["size"]], profile, h, device, args.corpus) for h in HEADS}
    ddp = [measure_ddp(workdir, data, ckpts, profile, n, device, args.corpus) for n in args.ddp]
    return {"device": device, "device_name": torch.cuda.get_device_name(0) if device.startswith("cuda") else
            f"CPU ({os.cpu_count()} cores)", "model_size": profile["size"], "config": profile["config"],
            "steps_per_head": profile["steps"], "warmup_steps": profile["warmup"], "corpus": args.corpus,
            "synthetic_mean_seconds": synth_mean, "real_corpora": REAL_CORPORA, "torch": torch.__version__,
            "extraction": extraction, "heads": heads, "ddp": ddp,
            "table4_projection": project_table4(extraction, heads, synth_mean),
            "wall_seconds": time.perf_counter() - started}


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from .. import superb  # noqa: F401  (the stack's workarounds before s3prl loads)
    from ..core.io_utils import write_json

    with tempfile.TemporaryDirectory(prefix="gpu_check_") as scratch:
        workdir = (args.workdir or Path(scratch)).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        report = run_check(args, workdir)
    write_json(args.json, report)
    print(table(report))
    print(f"wrote {args.json}", file=sys.stderr)
    return 0 if all(d["ok"] for d in report["ddp"]) else 1


if __name__ == "__main__":
    sys.exit(main())
