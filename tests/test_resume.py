"""Resuming an interrupted DNN run with s3prl's ``-e EXPDIR/states-N.ckpt`` (GitHub issue 16).

One training run (``train-cached``, 8 steps, dev every step, states every 4) is interrupted during
step 5, after ``states-4.ckpt`` was written, and resumed with ``-e states-4.ckpt``. The truth is
what the runs logged and saved: the dev UAR of every evaluation (``log.log``), the checkpoints'
``Step`` and Adam's own step counters, and the files in the experiment folder.

Not asserted: equality with the same run done without interruption. s3prl 0.4.18's runner keeps
no position inside an epoch: a resumed run starts the checkpoint's epoch again from its first
batch (checked here: from step 5 on the interrupted-and-resumed run trains on other batches than
the uninterrupted one, so its weights differ). Only the continuation is asserted.
"""
import hashlib
import re
import shutil
from pathlib import Path
from typing import Dict, List

import pytest
import torch

from s3prl_crosscorpus.cache import extract as ex
from s3prl_crosscorpus.commands.train_cached import main as train_cached
from s3prl_crosscorpus.superb import cached
from helpers.results import load_results


SMOKE = Path(__file__).resolve().parent.parent / "downstream_configs" / "smoke.yaml"
TOTAL, SAVE, INTERRUPTED_AT = 8, 4, 5
STEPS = ["config.runner.total_steps=8", "config.runner.save_step=4", "config.runner.eval_step=1",
         "config.runner.log_step=1", "config.runner.max_keep=2"]


class Interrupted(Exception):
    """Stands in for a killed job."""


@pytest.fixture(scope="module")
def cache_dir(data_dir, tmp_path_factory) -> Path:
    from s3prl_crosscorpus.demo.random_hubert import write_random_hubert

    ckpt = write_random_hubert(tmp_path_factory.mktemp("upstream") / "tiny_hubert.pt", size="tiny", seed=0)
    out = tmp_path_factory.mktemp("cache")
    ex.extract(data_dir, out, "hubert_local", str(ckpt), device="cpu", workers=0, quiet=True)
    return out


def train_argv(expdir: Path, data_dir: Path, cache_dir: Path) -> list:
    """``train-cached`` arguments of the 8-step smoke run into ``expdir`` (seed 0)."""
    settings = [f"config.downstream_expert.datarc.data_dir='{data_dir}'", *STEPS]
    return ["--cache", str(cache_dir), "-m", "train", "-c", str(SMOKE), "-p", str(expdir),
            "-o", ",,".join(settings), "--device", "cpu", "--seed", "0"]


def resume(ckpt: Path, *overrides: str) -> int:
    """``train-cached -m train -e CKPT`` (args and config come from the checkpoint)."""
    extra = ["-o", ",,".join(overrides)] if overrides else []
    return train_cached(["-m", "train", "-e", str(ckpt), "--device", "cpu", *extra])


def interrupted_run(argv: list) -> None:
    """Run ``argv`` and kill it in the training forward of step ``INTERRUPTED_AT`` (one batch per step)."""
    forward, seen = cached.CachedDownstreamExpert.forward, []

    def dying_forward(self, split, *args, **kwargs):
        if split == "train":
            seen.append(split)
            if len(seen) == INTERRUPTED_AT:
                raise Interrupted
        return forward(self, split, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cached.CachedDownstreamExpert, "forward", dying_forward)
        with pytest.raises(Interrupted):
            train_cached(argv)


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)  # our own checkpoints (pickled Namespace)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def log_lines(expdir: Path) -> List[str]:
    return (expdir / "log.log").read_text().splitlines()


def logged(expdir: Path, split: str) -> List[int]:
    """Steps of every ``split`` evaluation in log.log, in the order they were logged."""
    return [int(m.group(1)) for m in map(re.compile(rf"{split} at step (\d+):").match, log_lines(expdir)) if m]


def dev_uars(expdir: Path) -> Dict[int, float]:
    """Step -> dev UAR, as logged (4 decimals)."""
    pattern = re.compile(r"dev at step (\d+): uar ([0-9.]+)")
    return {int(m.group(1)): float(m.group(2)) for m in map(pattern.match, log_lines(expdir)) if m}


def new_best_steps(expdir: Path) -> List[int]:
    return [int(m.group(1)) for m in map(re.compile(r"new best dev uar at step (\d+):").match, log_lines(expdir)) if m]


def record_steps(uars: Dict[int, float]) -> List[int]:
    """Steps whose UAR beats every earlier one (the expert's strict ``>`` rule), from -1."""
    best, steps = -1.0, []
    for step in sorted(uars):
        if uars[step] > best:
            best, steps = uars[step], steps + [step]
    return steps


def adam_steps(ckpt: dict) -> set:
    """Adam's own per-parameter step counters in a runner checkpoint (one optimizer step each)."""
    return {int(state["step"]) for state in ckpt["Optimizer"]["state"].values()}


def continued(expdir: Path) -> bool:
    """Every step logged exactly once, 1..TOTAL, in order: no step redone, none skipped."""
    expected = list(range(1, TOTAL + 1))
    return logged(expdir, "train") == expected and logged(expdir, "dev") == expected


@pytest.fixture(scope="module")
def runs(data_dir, cache_dir, tmp_path_factory) -> dict:
    """A: uninterrupted. B: interrupted in step 5 then resumed from states-4 (its state in between kept).
    Controls from copies of B's interrupted folder: C run again without -e; D resumed from a states-4
    without the optimizer state and with the expert's dev-best bookkeeping reset."""
    root = tmp_path_factory.mktemp("resume")
    a, b, c, d = (root / name for name in "ABCD")
    assert train_cached(train_argv(a, data_dir, cache_dir)) == 0
    interrupted_run(train_argv(b, data_dir, cache_dir))
    between = {"files": sorted(p.name for p in b.iterdir()), "best_sha": sha(b / "dev-best.ckpt"),
               "states": load(b / f"states-{SAVE}.ckpt"), "dev": logged(b, "dev"), "train": logged(b, "train")}
    shutil.copytree(b, c)
    shutil.copytree(b, d)

    assert resume(b / f"states-{SAVE}.ckpt") == 0
    assert train_cached(train_argv(c, data_dir, cache_dir)) == 0
    tampered = dict(between["states"])
    del tampered["Optimizer"]  # s3prl then starts a fresh Adam
    tampered["Downstream"] = dict(tampered["Downstream"])
    tampered["Downstream"]["_extra_state"] = {"uar": -1.0, "step": 0, "per_corpus": {}, "train_seconds": 0.0}
    torch.save(tampered, d / "tampered.ckpt")
    assert resume(d / "tampered.ckpt", f"args.expdir='{d}'") == 0
    return {"A": a, "B": b, "C": c, "D": d, "between": between}


@pytest.mark.e2e
def test_the_interrupted_run_stopped_after_states_4_and_wrote_no_result(runs):
    between = runs["between"]
    assert between["dev"] == between["train"] == [1, 2, 3, 4]  # step 5 died before it was logged
    assert "states-4.ckpt" in between["files"] and not [f for f in between["files"] if f.startswith("states-8")]
    assert "results" not in between["files"]
    assert between["states"]["Step"] == SAVE and adam_steps(between["states"]) == {SAVE}
    # Same seed: up to the interruption B is run A, line for line (the dev/train metrics of steps 1-4).
    head = [line for line in log_lines(runs["A"]) if re.match(r"(train|dev) at step [1-4]:", line)]
    assert head == [line for line in log_lines(runs["B"]) if re.match(r"(train|dev) at step [1-4]:", line)]


@pytest.mark.e2e
def test_the_resumed_run_continues_from_step_4_with_its_optimizer(runs):
    b = runs["B"]
    assert continued(b)  # steps 5..8 only after the resume, 1..4 not redone
    final = load(b / "states-8.ckpt")
    assert final["Step"] == TOTAL
    assert adam_steps(final) == {TOTAL}  # 4 restored + 4 after the resume
    # s3prl replays the checkpoint's epoch from its first batch: steps 5-8 saw other batches than in A.
    assert not torch.equal(final["Downstream"]["model.head.linear.weight"],
                           load(runs["A"] / "states-8.ckpt")["Downstream"]["model.head.linear.weight"])


@pytest.mark.e2e
def test_dev_best_is_the_best_of_both_parts_and_the_result_is_written_once(runs):
    b = runs["B"]
    uars = dev_uars(b)
    assert sorted(uars) == list(range(1, TOTAL + 1))
    best_step = record_steps(uars)[-1]
    # What this test is about: the best was found before the interruption and no later step beat it.
    assert best_step <= SAVE == runs["between"]["states"]["Downstream"]["_extra_state"]["step"]
    assert new_best_steps(b) == record_steps(uars)  # no "new best" after the resume
    assert sha(b / "dev-best.ckpt") == runs["between"]["best_sha"]  # not overwritten by a worse step
    assert load(b / "dev-best.ckpt")["Step"] == best_step
    (result,) = load_results(b / "results")  # one result (matched emodb fold 1), written once
    assert result["dev"]["step"] == best_step
    assert result["dev"]["uar"] == pytest.approx(uars[best_step], abs=5e-5)
    assert sum(line.startswith("wrote ") for line in log_lines(b)) == 1
    (tested,) = [line for line in log_lines(b) if line.startswith("test at step")]
    assert tested.startswith(f"test at step {best_step} (the evaluated checkpoint): uar ")


@pytest.mark.e2e
def test_controls_the_same_checks_fail_without_a_real_resume(runs):
    # C: the same command again without -e starts over at step 0.
    c = runs["C"]
    assert not continued(c)
    assert logged(c, "dev") == [1, 2, 3, 4] + list(range(1, TOTAL + 1))
    # D: resumed at step 4, but without the optimizer state and the expert's bookkeeping.
    d = runs["D"]
    assert continued(d)  # the step count alone is not enough ...
    assert adam_steps(load(d / "states-8.ckpt")) == {TOTAL - SAVE}  # ... Adam started again
    uars = dev_uars(d)
    best_step = record_steps(uars)[-1]
    (result,) = load_results(d / "results")
    assert new_best_steps(d) != record_steps(uars) and result["dev"]["step"] != best_step
    assert result["dev"]["step"] > SAVE  # a step after the resume became the "best"
    assert sha(d / "dev-best.ckpt") != runs["between"]["best_sha"]
