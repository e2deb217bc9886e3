"""Progress output in logs (issue 24, friction 2): when the stream is not a terminal, bars write plain
periodic lines: no carriage returns, no `[A` cursor escapes of nested bars, no lines of thousands of
characters; on a terminal they stay tqdm's bars. Every bar of the project (and s3prl's runner's) is one."""
import ast
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tqdm import tqdm as plain_tqdm

from s3prl_crosscorpus.core import progress
from s3prl_crosscorpus.core.progress import Progress

ROOT = Path(__file__).resolve().parents[1]


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def nested_run(bar_class, stream, outer=3, inner=400) -> None:
    """An outer bar with a nested bar per step and a message written between them, as the SVM search."""
    for k in bar_class(range(outer), desc="models", unit="model", file=stream, mininterval=0):
        for _ in bar_class(range(inner), desc="kernel search", unit="point", leave=False, file=stream, mininterval=0):
            pass
        bar_class.write(f"fold {k} done", file=stream)


def assert_plain(log: str) -> None:
    """No terminal control in ``log``, and short lines."""
    assert "\r" not in log and "\x1b" not in log
    assert max(map(len, log.splitlines())) < 200


def test_bars_in_a_log_write_plain_lines_and_the_last_state(monkeypatch):
    monkeypatch.setattr(progress, "PLAIN_INTERVAL", 0.0)
    log = io.StringIO()
    nested_run(Progress, log)
    text = log.getvalue()
    assert_plain(text)
    lines = text.splitlines()
    assert [line for line in lines if line.startswith("fold")] == ["fold 0 done", "fold 1 done", "fold 2 done"]
    assert re.fullmatch(r"models: 3/3 model \[\d\d:\d\d<00:00, .*model/s\]", lines[-1])
    assert any(re.match(r"kernel search: \d+/400 point \[", line) for line in lines)


def test_the_same_bars_through_plain_tqdm_fill_a_log_with_control_characters():
    log = io.StringIO()
    nested_run(plain_tqdm, log)
    assert "\r" in log.getvalue() and "\x1b[A" in log.getvalue()  # what a log got before


def test_a_log_gets_at_most_one_line_per_interval(monkeypatch):
    monkeypatch.setattr(progress, "PLAIN_INTERVAL", 3600.0)
    log = io.StringIO()
    nested_run(Progress, log, outer=2, inner=20000)
    assert log.getvalue().splitlines() == ["fold 0 done", "fold 1 done", log.getvalue().splitlines()[-1]]
    assert log.getvalue().splitlines()[-1].startswith("models: 2/2 model [")


def test_a_nested_bar_that_stays_writes_no_last_line(monkeypatch):
    monkeypatch.setattr(progress, "PLAIN_INTERVAL", 3600.0)
    log = io.StringIO()
    with Progress(total=3, desc="overall", file=log) as outer:
        for _ in range(3):  # s3prl's runner: one bar per epoch inside the overall bar, tqdm's default leave
            for _ in Progress(range(5), desc="train", file=log):
                pass
            outer.update(1)
    assert log.getvalue().splitlines() == [log.getvalue().splitlines()[0]]
    assert log.getvalue().startswith("overall: 3/3 it [")


def test_a_bar_left_unfinished_writes_no_line_when_it_does_not_stay(monkeypatch):
    monkeypatch.setattr(progress, "PLAIN_INTERVAL", 3600.0)
    log = io.StringIO()
    with Progress(total=10, desc="checking audio", leave=False, file=log) as bar:
        bar.update(4)
    assert log.getvalue() == ""


def test_on_a_terminal_the_bars_are_tqdm_bars():
    screen = Terminal()
    bar = Progress(range(5), desc="models", file=screen, mininterval=0)
    assert not bar.plain
    list(bar)
    assert "\r" in screen.getvalue() and "models: 100%" in screen.getvalue()


def test_every_bar_of_the_project_is_the_projects_progress():
    direct = []
    for path in sorted((ROOT / "s3prl_crosscorpus").rglob("*.py")) + sorted((ROOT / "baseline_svm").rglob("*.py")):
        if path == ROOT / "s3prl_crosscorpus" / "core" / "progress.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            if any(name == "tqdm" or name.startswith("tqdm.") for name in names):
                direct.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert direct == [], "import tqdm through s3prl_crosscorpus.core.progress"


@pytest.mark.e2e  # imports s3prl: seconds
def test_s3prls_runner_draws_the_projects_bars():
    from s3prl_crosscorpus.superb import compat  # applies the workarounds, then s3prl imports

    import s3prl.downstream.runner as runner

    assert runner.tqdm is Progress
    assert compat.plain_progress_in_logs() is False  # idempotent


@pytest.mark.e2e
def test_an_svm_run_logged_to_a_file_has_plain_progress(data_dir, tmp_path):
    log = tmp_path / "job.log"
    env = dict(os.environ, PYTHONPATH=str(ROOT), S3PRL_CROSSCORPUS_PROGRESS_INTERVAL="0")
    with open(log, "w") as stream:
        done = subprocess.run([sys.executable, "-m", "baseline_svm.cli", "run", "--data", str(data_dir),
                               "--feature-set", "eGeMAPSv02", "--condition", "matched", "--test-corpus", "emodb",
                               "--fold", "all", "--grid", "coarse", "--out", str(tmp_path / "results"),
                               "--cache", str(tmp_path / "cache")],
                              stdout=stream, stderr=subprocess.STDOUT, timeout=600)
    text = log.read_text()
    assert done.returncode == 0, text
    assert_plain(text)
    assert re.search(r"^eGeMAPS-SVM matched: 5/5 model \[", text, re.M)
    assert len(re.findall(r"^eGeMAPS-SVM matched fold \d train emodb -> emodb: ", text, re.M)) == 5
