"""A 2-process CPU DDP run (gloo) through ``torchrun -m s3prl_crosscorpus run-downstream``."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from s3prl_crosscorpus.superb import compat
from s3prl_crosscorpus.demo.random_hubert import write_random_hubert


SMOKE = Path(__file__).resolve().parent.parent / "downstream_configs" / "smoke.yaml"


def torchrun(expdir: Path, data_dir: Path, ckpt: Path, **env: str) -> subprocess.CompletedProcess:
    """``torchrun --standalone`` (a free port); six DDP steps on matched EmoDB with the tiny HuBERT and
    class-weighted loss; the leader alone evaluates dev at steps 3 and 6."""
    overrides = ",,".join([f"config.downstream_expert.datarc.data_dir='{data_dir}'",
                           "config.runner.total_steps=6", "config.runner.eval_step=3",
                           "config.runner.log_step=3", "config.runner.save_step=6",
                           "config.downstream_expert.datarc.balance='loss'"])
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "s3prl_crosscorpus", "run-downstream", "-m", "train", "-u", "hubert_local", "-k", str(ckpt),
               "-d", "crosscorpus_emotion", "-c", str(SMOKE), "-p", str(expdir), "--device", "cpu", "-o", overrides]
    environment = dict(os.environ, OMP_NUM_THREADS="1", **env)
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)


@pytest.fixture(scope="module")
def tiny_hubert(tmp_path_factory) -> Path:
    return write_random_hubert(tmp_path_factory.mktemp("upstream") / "tiny_hubert.pt", size="tiny", seed=0)


@pytest.mark.e2e
def test_two_process_gloo_run_trains_and_saves_dev_best(data_dir, tiny_hubert, tmp_path):
    run = torchrun(tmp_path / "exp", data_dir, tiny_hubert)
    assert run.returncode == 0, run.stderr[-4000:]
    compat.apply()
    best = torch.load(tmp_path / "exp" / "dev-best.ckpt", map_location="cpu")
    final = torch.load(tmp_path / "exp" / "states-6.ckpt", map_location="cpu")
    assert best["WorldSize"] == 2 and best["Args"].local_rank is not None and best["Args"].backend == "gloo"
    assert final["Step"] == 6
    log = (tmp_path / "exp" / "log.log").read_text()
    assert log.count("dev at step") == 2  # only the leader evaluates


@pytest.mark.e2e
def test_without_the_progress_workaround_the_non_leader_never_finishes(data_dir, tiny_hubert, tmp_path):
    """s3prl 0.4.18 lets rank 1 skip its step counter: it outlives rank 0 and dies on the closed connection."""
    compat.apply()  # torch.load of s3prl checkpoints needs the workarounds in this process
    run = torchrun(tmp_path / "exp", data_dir, tiny_hubert, **{compat.SKIP_ENV: "ddp_progress"})
    assert run.returncode != 0
    # That failure and no other: rank 1 alone fails, inside s3prl's training loop, on the closed connection.
    assert "rank      : 1 (local_rank: 1)" in run.stderr and "[rank0]: Traceback" not in run.stderr
    rank1 = run.stderr[run.stderr.index("[rank1]: Traceback"):]
    assert "s3prl/downstream/runner.py" in rank1 and ", in train" in rank1
    assert "Connection closed by peer" in rank1 or "Connection reset by peer" in rank1
    final = torch.load(tmp_path / "exp" / "states-6.ckpt", map_location="cpu")  # the leader did finish
    assert final["Step"] == 6
    assert (tmp_path / "exp" / "log.log").read_text().count("dev at step") == 2
