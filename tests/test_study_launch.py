"""The study's launcher (local and slurm through a stand-in sbatch) and the recipes' one settings parser."""
import os
import subprocess
from pathlib import Path

import pytest

from s3prl_crosscorpus.commands.main import main
from s3prl_crosscorpus.study.launch import Job, launch, write_jobs


ROOT = Path(__file__).resolve().parent.parent

#: Stands in for slurm's sbatch: runs each array task of `--array=1-N%M` locally, output to `--output`.
FAKE_SBATCH = r"""#!/usr/bin/env bash
set -u
echo "$*" >> "$(dirname "$0")/calls"
for arg in "$@"; do
  case "$arg" in
    --array=*) range=${arg#--array=}; range=${range%%%*} ;;
    --output=*) output=${arg#--output=} ;;
    --wait|--job-name=*|--partition=*) ;;
    *) script=$arg ;;
  esac
done
for ((i = ${range%-*}; i <= ${range#*-}; i++)); do
  SLURM_ARRAY_TASK_ID=$i bash "$script" > "${output//%a/$i}" 2>&1
done
"""


def jobs(tmp_path):
    """Three jobs that leave a mark; the second fails."""
    return [Job("a", f"echo one > {tmp_path}/a"), Job("b", "echo failing; exit 3"),
            Job("c", f"printf 'x y' > '{tmp_path}/c d'")]


@pytest.fixture
def fake_sbatch(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(FAKE_SBATCH)
    (bin_dir / "sbatch").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


@pytest.mark.parametrize("cmd", ["local", "slurm"])
def test_launch_runs_every_job_and_names_the_failed_one(tmp_path, fake_sbatch, cmd):
    report = launch(jobs(tmp_path), tmp_path / "logs", cmd=cmd, nj=2, sbatch_args=["--partition=gpu"])
    assert (tmp_path / "a").read_text() == "one\n" and (tmp_path / "c d").read_text() == "x y"
    assert len(report.failed) == 1 and report.failed[0].startswith("b (exit 3)")
    assert "failing" in (tmp_path / "logs" / "job.2.log").read_text()
    calls = (fake_sbatch / "calls").read_text() if (fake_sbatch / "calls").exists() else ""
    if cmd == "slurm":  # one array of three tasks, at most two at a time, waited for
        assert "--wait --array=1-3%2" in calls and "--partition=gpu" in calls
    else:
        assert calls == ""


def test_a_task_that_never_reports_is_a_failure(tmp_path, fake_sbatch):
    """A task killed before it wrote its exit status (e.g. slurm's time limit) is not taken for a success."""
    (fake_sbatch / "sbatch").write_text("#!/usr/bin/env bash\nexit 0\n")  # runs nothing
    report = launch([Job("x", "true")], tmp_path / "logs", cmd="slurm")
    assert report.failed == [f"x (no exit status: killed or never started): {tmp_path / 'logs' / 'job.1.log'}"]


def test_launch_command_reads_a_job_file(tmp_path, fake_sbatch, capsys):
    write_jobs(tmp_path / "jobs.tsv", jobs(tmp_path))
    assert main(["launch", str(tmp_path / "jobs.tsv"), "--cmd", "slurm", "--logs", str(tmp_path / "logs")]) == 1
    assert "failed: b (exit 3)" in capsys.readouterr().err
    (tmp_path / "bad.tsv").write_text("no tab here\n")
    assert main(["launch", str(tmp_path / "bad.tsv"), "--logs", str(tmp_path / "logs")]) == 2
    assert "bad.tsv:1: expected 'NAME<TAB>COMMAND'" in capsys.readouterr().err


def recipe(name, *args):
    return subprocess.run(["bash", str(ROOT / "recipes" / name), *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", ["run.sh", "run_fold.sh", "run_all_folds.sh", "paper_table4.sh", "svm_grid.sh"])
def test_recipes_share_one_settings_convention(name):
    shown = recipe(name, "--help")
    assert shown.returncode == 0 and "settings (--name value" in shown.stdout
    assert "--folds" in shown.stdout or "--fold " in shown.stdout
    unknown = recipe(name, "--no-such-setting", "1")
    assert unknown.returncode == 2 and "unknown setting --no-such-setting; known settings:" in unknown.stderr
    bare = recipe(name, "FOLD=1")
    assert bare.returncode == 2 and "settings are given as --name value; got 'FOLD=1'" in bare.stderr


def test_run_sh_help_lists_defaults():
    shown = recipe("run.sh", "--help").stdout
    assert "--stop-stage         last stage to run [5]" in shown
    assert "--heads              DNN heads [linear cnn_selfatt transformer]" in shown
