"""Ctrl-C (SIGINT) in a command or the launcher: one line, exit 130, no traceback, no job left running."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from baseline_svm import cli as svm_cli
from s3prl_crosscorpus.commands import main as dispatcher

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
LINE = "interrupted; finished work is kept; re-run the same command to resume"


def wait_for(path: Path, seconds: float = 60) -> None:
    end = time.time() + seconds
    while not path.exists() or not path.read_text().strip():
        assert time.time() < end, f"{path} never appeared"
        time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.e2e
def test_ctrl_c_in_launch_stops_the_jobs_and_prints_one_line(tmp_path):
    pid = tmp_path / "pid"
    jobs = tmp_path / "jobs.tsv"
    jobs.write_text(f"sleeper\techo $$ > {pid}; sleep 60\nnever\ttouch {tmp_path / 'never'}\n")
    proc = subprocess.Popen([sys.executable, "-m", "s3prl_crosscorpus", "launch", str(jobs), "--nj", "1",
                             "--logs", str(tmp_path / "logs")], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    wait_for(pid)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "Traceback" not in err and err.count(LINE) == 1
    assert err.strip().splitlines()[-1].split("\r")[-1] == LINE
    time.sleep(0.5)
    assert not alive(int(pid.read_text()))  # the running job was stopped with the launcher
    assert not (tmp_path / "never").exists()  # and no job started after the interrupt
    assert not (tmp_path / "logs" / "rc" / "1").exists()  # the stopped job has no exit status: redone next time


def returned(main, argv) -> int:
    """``main(argv)``; an escaping KeyboardInterrupt is a test failure (not pytest's own abort)."""
    try:
        return main(argv)
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped the command (a traceback for the user)")


def test_every_sub_command_turns_ctrl_c_into_one_line(monkeypatch, capsys):
    class Interrupted:
        @staticmethod
        def main(argv):
            raise KeyboardInterrupt

    monkeypatch.setattr(dispatcher.importlib, "import_module", lambda name: Interrupted)
    assert returned(dispatcher.main, ["prepare", "--out", "x"]) == 130
    assert capsys.readouterr().err.splitlines() == [LINE]


def test_baseline_svm_turns_ctrl_c_into_one_line(monkeypatch, capsys):
    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(svm_cli, "build_parser", interrupted)  # the first thing a run does
    assert returned(svm_cli.main, ["run"]) == 130
    assert capsys.readouterr().err.splitlines() == [LINE]
    assert svm_cli.INTERRUPTED == dispatcher.INTERRUPTED == LINE


@pytest.mark.e2e
def test_ctrl_c_in_run_sh_is_one_line_and_exit_130(tmp_path):
    """The terminal's Ctrl-C reaches the whole process group: the recipe and its running command."""
    proc = subprocess.Popen(["bash", str(ROOT / "recipes" / "run.sh"), "--out", str(tmp_path / "out"),
                             "--synth-per-class", "4", "--stop-stage", "0"], cwd=tmp_path, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    wait_for_any = time.time() + 60
    while not (tmp_path / "out" / "corpora").exists():
        assert time.time() < wait_for_any
        time.sleep(0.1)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and err.count(LINE) == 1, err
