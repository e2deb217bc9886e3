"""`recipes/run.sh` stopped before its last stage prints the one command that continues it (issue 24,
friction 5: stage 0 used to print synth's `next:` hint, which names another DATA_DIR than the recipe's)."""
import os
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "recipes" / "run.sh"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def run_sh(*args: str, cwd: Path, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(RUN), *args], cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=timeout)


def next_lines(stderr: str) -> list:
    return [line for line in stderr.splitlines() if line.startswith("next:")]


def test_a_stopped_run_names_the_command_that_continues_it(tmp_path, data_dir):
    out = tmp_path / "my out"
    done = run_sh("--data-dir", str(data_dir), "--out", str(out), "--device", "cpu", "--stage=0",
                  "--conditions", "matched loco", "--stop-stage", "0", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    [line] = next_lines(done.stderr)
    assert shlex.split(line[len("next:"):]) == [str(RUN), "--data-dir", str(data_dir), "--out", str(out),
                                                "--device", "cpu", "--conditions", "matched loco", "--stage", "1"]


def test_a_refused_run_prints_no_next_command(tmp_path):
    done = run_sh("--out", str(tmp_path / "out"), "--stage", "3", "--stop-stage", "1", cwd=tmp_path)
    assert done.returncode == 2 and next_lines(done.stderr) == []  # nothing ran: no hint either


@pytest.mark.e2e
def test_synthetic_stage_0_prints_only_the_recipes_next_command(tmp_path):
    out = tmp_path / "out"
    done = run_sh("--out", str(out), "--synth-per-class", "1", "--device", "cpu", "--stop-stage", "0",
                  cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert next_lines(done.stdout) == []
    assert next_lines(done.stderr) == [f"next: {RUN} --out {out} --synth-per-class 1 --device cpu --stage 1"]
    assert (out / "data" / "manifest.jsonl").is_file() and not (out / "corpora" / "data").exists()
