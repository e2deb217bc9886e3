"""Each compatibility workaround: what fails without it on this stack, and that it fixes exactly that.

The checks run in fresh interpreters, because the breakages are import-time and process-wide.
Where a stack does not have a breakage, the test asserts that the workaround leaves it alone.
Importing ``s3prl_crosscorpus.superb`` applies every workaround, so the interpreters load
``compat.py`` alone, from its file (it imports only the standard library).
"""
import importlib
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from s3prl_crosscorpus.superb import compat

#: Loads compat.py without the package, whose import would apply every workaround at once.
LOAD_COMPAT = f"""
import importlib.util
_spec = importlib.util.spec_from_file_location("compat_alone", {str(Path(compat.__file__))!r})
compat = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compat)
"""


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter (one thread: the CI machine is shared)."""
    environment = dict(os.environ, OMP_NUM_THREADS="1", **env)
    environment.pop(compat.SKIP_ENV, None)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=environment, timeout=300)


#: One interpreter applies the workarounds one by one and exercises what each one fixes;
#: it prints a JSON object: workaround name -> whether it patched.
FIXED_STACK = LOAD_COMPAT + """
import argparse, json, os, sys, torch
applied = {}
applied["torchaudio_without_extension"] = compat.torchaudio_without_extension()
import torchaudio.functional as F
assert F.resample(torch.zeros(4800), 48000, 16000).shape == (1600,)

applied["torchaudio_legacy_api"] = compat.torchaudio_legacy_api()
import s3prl.hub, torchaudio
torchaudio.set_audio_backend("sox_io")
from torchaudio.sox_effects import apply_effects_tensor
try:
    apply_effects_tensor(None, 16000, [])
    sys.exit("the stand-in sox_effects must fail when used")
except RuntimeError as err:
    assert "sox_effects" in str(err)

applied["huggingface_hub_legacy_names"] = compat.huggingface_hub_legacy_names()
import s3prl.downstream.runner as runner
try:
    runner.Repository(local_dir=".", clone_from="x")
    assert not applied["huggingface_hub_legacy_names"], "the stand-in Repository must refuse to work"
except RuntimeError as err:
    assert "huggingface_hub" in str(err)

applied["namespace_loadable"] = compat.namespace_loadable()
ckpt = torch.load(os.environ["CKPT"], map_location="cpu")
assert ckpt["Args"].upstream == "fbank"

applied["cpu_ddp"] = compat.cpu_ddp()
import torch.distributed as dist
dist.init_process_group("gloo", init_method="file://" + os.environ["STORE"], rank=0, world_size=1)
if applied["cpu_ddp"]:
    torch.cuda.set_device(0)  # what s3prl's run_downstream does with --local_rank 0
    model = runner.DDP(torch.nn.Linear(2, 2), device_ids=[0], find_unused_parameters=True)
    model(torch.zeros(1, 2)).sum().backward()
dist.destroy_process_group()
print(json.dumps(applied))
"""

#: Without the workaround: the same use as above, on the unpatched stack (each must fail here).
BROKEN = {
    "torchaudio_without_extension": "import torchaudio",
    "torchaudio_legacy_api": LOAD_COMPAT + "compat.torchaudio_without_extension()\nimport s3prl.hub",
    "huggingface_hub_legacy_names": LOAD_COMPAT + "compat.torchaudio_without_extension()\n"
                                    "compat.torchaudio_legacy_api()\nimport s3prl.downstream.runner",
    "namespace_loadable": "import os, torch\ntorch.load(os.environ['CKPT'], map_location='cpu')",
    "cpu_ddp": "import torch\ntorch.cuda.set_device(0)",
    "cpu_ddp_device_ids": "import os, torch, torch.distributed as dist\n"
                          "dist.init_process_group('gloo', init_method='file://' + os.environ['STORE'], rank=0, world_size=1)\n"
                          "torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(2, 2), device_ids=[0])",
}
#: What the failure without the workaround says (a regular expression).
SYMPTOM = {
    "torchaudio_without_extension": "torchaudio", "torchaudio_legacy_api": "sox_effects|set_audio_backend",
    "huggingface_hub_legacy_names": "HfFolder", "namespace_loadable": "Namespace",
    "cpu_ddp": "cuda", "cpu_ddp_device_ids": "device_ids",
}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A file pickling an argparse.Namespace, as s3prl's runner checkpoints do."""
    import argparse

    import torch

    path = tmp_path_factory.mktemp("ckpt") / "states.ckpt"
    torch.save({"Args": argparse.Namespace(upstream="fbank"), "Step": 3}, path)
    return path


@pytest.fixture(scope="module")
def fixed_stack(checkpoint, tmp_path_factory) -> dict:
    result = run_python(FIXED_STACK, CKPT=str(checkpoint), STORE=str(tmp_path_factory.mktemp("s") / "store"))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_workaround_fixes_what_fails_without_it(name, fixed_stack, checkpoint, tmp_path):
    workaround = name.replace("_device_ids", "")
    broken = run_python(BROKEN[name], CKPT=str(checkpoint), STORE=str(tmp_path / "store"))
    if fixed_stack[workaround]:
        assert broken.returncode != 0, f"{name}: works without the workaround, so it is no longer needed"
        assert re.search(SYMPTOM[name], broken.stderr, re.IGNORECASE), broken.stderr[-2000:]
    else:  # this stack does not have the breakage: the workaround must leave it alone
        assert broken.returncode == 0, broken.stderr[-2000:]


def test_ddp_progress_is_only_patched_where_non_leaders_skip_the_step_count():
    import inspect

    compat.apply()
    import s3prl.downstream.runner as runner

    assert getattr(runner.is_leader_process, "_crosscorpus_progress", False)
    source = inspect.getsource(runner.Runner.train)
    # s3prl 0.4.18: non-leaders `continue` before the step counter moves (the end-to-end DDP test
    # in test_downstream_ddp.py shows the 2-process run failing without this workaround).
    assert source.find("if not is_leader_process():") < source.find("pbar.update(1)")
    assert compat.ddp_progress() is False  # idempotent


def test_torchrun_arguments():
    import torch

    assert compat.torchrun_args(["-m", "train"], environ={}) == ["-m", "train"]
    added = compat.torchrun_args(["-m", "train"], environ={"LOCAL_RANK": "1"})
    assert added[:4] == ["-m", "train", "--local_rank", "1"]
    assert ("--backend" in added) == (not torch.cuda.is_available())
    given = ["--local_rank", "0", "--backend", "nccl"]
    assert compat.torchrun_args(given, environ={"LOCAL_RANK": "1"}) == given


def test_apply_is_idempotent_and_rejects_unknown_skips(monkeypatch):
    first = compat.apply()
    assert set(first) == {w.__name__ for w in compat.WORKAROUNDS}
    assert compat.apply() == first
    monkeypatch.setenv(compat.SKIP_ENV, "no_such_workaround")
    with pytest.raises(ValueError, match="no_such_workaround"):
        compat.apply()


def test_registration_aliases_the_expert_without_writing_into_s3prl():
    from s3prl_crosscorpus.superb import expert
    from s3prl_crosscorpus.superb.registration import register

    register()  # importing the package registered it already: a second call changes nothing
    import s3prl.downstream

    assert importlib.import_module("s3prl.downstream.crosscorpus_emotion.expert") is expert
    assert not any((Path(p) / "crosscorpus_emotion").exists() for p in s3prl.downstream.__path__)


@pytest.mark.parametrize("quiet", [False, True])
def test_espnet_notice_is_quieted_only_by_its_workaround(quiet):
    code = (LOAD_COMPAT + "compat.torchaudio_without_extension()\ncompat.torchaudio_legacy_api()\n"
            + ("compat.quiet_espnet_notice()\n" if quiet else "") + "import s3prl.hub\n")
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert ("ESPnet is not installed" in out.stderr) != quiet
