"""Recipe settings are typed and checked (GitHub issue 20): a bad value is one `error:` line and exit 2,
and no setting is ever pasted into code; `launch --nj` refuses what is not a whole number >= 1; stage 0
of run.sh is stamped with the content of its input files; the study redoes what an older manifest made."""
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from s3prl_crosscorpus.study.plan import DnnSettings, dnn_plan, svm_plan

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "recipes"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def recipe(name: str, *args: str, cwd: Path, timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(RECIPES / name), *args], cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=timeout)


def must_be(name: str, option: str) -> str:
    return rf"{re.escape(name)}: error: {option} must be "


def bad(name: str, option: str, value: str) -> tuple:
    """A recipe given ``option value``: refused by ``must_be``'s line."""
    return name, (option, value), must_be(name, option)


#: Every bad setting: (command, its arguments, the start of the one error line it must print). A recipe's value
#: must also appear in that line; nothing may run (no PWNED file, no output folder).
BAD = [
    bad("run.sh", "--nj", '__import__("os").system("touch PWNED")'),
    bad("run.sh", "--nj", "abc"),
    bad("run.sh", "--nj", "0"),
    bad("run.sh", "--stage", "abc"),
    bad("run.sh", "--stop-stage", "1.5"),
    bad("run.sh", "--stage", "6"),
    bad("run.sh", "--nj", "08"),  # bash arithmetic would read it as (bad) octal
    bad("run.sh", "--synth-per-class", "9"),
    bad("run.sh", "--steps", "20; touch PWNED"),
    bad("run.sh", "--folds", "1 $(touch PWNED)"),
    bad("run.sh", "--seeds", "x"),
    bad("run.sh", "--cache", "maybe"),
    bad("run.sh", "--device", "cpu;touch PWNED"),
    bad("run.sh", "--layers", "4-x"),
    bad("run.sh", "--layers", "6;touch PWNED"),
    ("run.sh", ("--stage", "3", "--stop-stage", "1"),
     r"run\.sh: error: --stage 3 is after --stop-stage 1: nothing to run$"),
    bad("run_fold.sh", "--fold", "abc"),
    bad("run_fold.sh", "--seed", "-1"),
    bad("run_fold.sh", "--layers", "0,,4"),
    bad("run_all_folds.sh", "--folds", "1,x"),
    bad("run_all_folds.sh", "--layers", "all layers"),
    bad("paper_table4.sh", "--nj", "-2"),
    bad("svm_grid.sh", "--cmd", "ssh"),
    ("launch", ("--nj=0",), r"error: --nj must be a whole number >= 1, got '0'$"),
    ("launch", ("--nj=-1",), r"error: --nj must be a whole number >= 1, got '-1'$"),
    ("launch", ("--nj=1.5",), r"error: --nj must be a whole number >= 1, got '1\.5'$"),
    ("launch", ("--nj=abc",), r"error: --nj must be a whole number >= 1, got 'abc'$"),
]


def run_bad(name: str, args, tmp_path: Path) -> subprocess.CompletedProcess:
    """One bad setting: a recipe (with a data folder and, where it has one, an output folder) or `launch`."""
    if name == "launch":
        jobs = tmp_path / "jobs.tsv"
        jobs.write_text(f"touch\ttouch {tmp_path / 'PWNED'}\n")
        return subprocess.run([sys.executable, "-m", "s3prl_crosscorpus", "launch", str(jobs), *args,
                               "--logs", str(tmp_path / "logs")], env=ENV, capture_output=True, text=True)
    out = ("--out", str(tmp_path / "out")) if name in ("run.sh", "paper_table4.sh", "svm_grid.sh") else ()
    return recipe(name, "--data-dir", str(tmp_path), *out, *args, cwd=tmp_path)


@pytest.mark.parametrize("name,args,line", BAD, ids=[f"{n} {' '.join(a)}" for n, a, _ in BAD])
def test_a_bad_setting_is_one_error_line_and_exit_2(tmp_path, name, args, line):
    done = run_bad(name, args, tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and re.match(line, lines[0]), done.stderr
    if name != "launch" and "must be" in line:
        assert args[-1] in lines[0]
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "out").exists()


def test_no_recipe_pastes_a_value_into_python_source():
    """`python3 -c` code is single-quoted (values reach it through argv), and no recipe uses eval."""
    for path in RECIPES.glob("*.sh"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not re.search(r"python3 -c \"", line), f"{path.name}:{number}: {line}"
            assert not re.search(r"(^|[;&|]\s*)eval\b", line), f"{path.name}:{number}: {line}"


def test_good_settings_pass_and_help_names_the_types(tmp_path):
    done = recipe("run.sh", "--help", cwd=tmp_path)
    assert done.returncode == 0
    assert re.search(r"--nj .*\(count\)", done.stdout) and re.search(r"--seeds .*\(ints\)", done.stdout)
    assert re.search(r"--layers .*\(layers\)", done.stdout)
    # a good value goes through the check: only the (empty) DATA_DIR stops it later
    done = recipe("run_fold.sh", "--data-dir", "", "--fold", "3", "--seed", "7", "--layers", "0,4,8", cwd=tmp_path)
    assert "error: --" not in done.stderr and "set --data-dir" in done.stderr


def test_the_study_redoes_svm_results_older_than_the_manifest(tmp_path, data_dir):
    data = tmp_path / "data"
    shutil.copytree(data_dir, data)
    results = tmp_path / "results"
    plan = svm_plan(data, results, ["eGeMAPSv02"], ["matched"], [1], "coarse", ["emodb"])
    assert len(plan.jobs) == 1 and not plan.stale
    result = results / "eGeMAPS-SVM" / "matched" / "emodb" / "fold1.json"
    result.parent.mkdir(parents=True)
    result.write_text(json.dumps({"system": "eGeMAPS-SVM"}))
    assert svm_plan(data, results, ["eGeMAPSv02"], ["matched"], [1], "coarse", ["emodb"]).done == 1
    later = time.time() + 5
    os.utime(data / "manifest.jsonl", (later, later))  # prepare made the manifest again
    plan = svm_plan(data, results, ["eGeMAPSv02"], ["matched"], [1], "coarse", ["emodb"])
    assert len(plan.jobs) == 1 and plan.stale == [result]


@pytest.mark.e2e
def test_stage_0_is_redone_when_an_input_file_changes(tmp_path, synth_roots):
    emodb = tmp_path / "emodb"
    shutil.copytree(synth_roots["emodb"], emodb)
    out = tmp_path / "out"

    def stage0() -> tuple:
        done = recipe("run.sh", "--emodb", str(emodb), "--out", str(out), "--stop-stage", "0", cwd=tmp_path,
                      timeout=300)
        assert done.returncode == 0, done.stderr
        hints = [line for line in done.stderr.splitlines() if line.startswith("next:")]
        assert hints == [f"next: {RECIPES / 'run.sh'} --emodb {emodb} --out {out} --stage 1"]  # the recipe's own
        return "kept" in done.stderr, len((out / "data" / "manifest.jsonl").read_text().splitlines())

    kept, rows = stage0()
    assert not kept
    assert stage0() == (True, rows)
    next(emodb.rglob("*.wav")).unlink()  # a file removed from a root: the old manifest is stale
    assert stage0() == (False, rows - 1)
    wav = next(emodb.rglob("*.wav"))
    os.utime(wav, (time.time() + 5, time.time() + 5))  # a file re-made
    assert stage0() == (False, rows - 1)


def test_a_dnn_run_of_an_older_manifest_is_not_resumed(tmp_path):
    """An interrupted run's experiment folder older than the manifest is stale: `-a` would resume it."""
    data, exp = tmp_path / "data", tmp_path / "exp"
    data.mkdir()
    (data / "manifest.jsonl").write_text("{}\n")
    settings = DnnSettings(data=data, results=tmp_path / "results", exp=exp, upstream="hubert",
                           config=tmp_path / "paper.yaml", pool=("iemocap",), cache=tmp_path / "cache")
    expdir = exp / "hubert-linear" / "matched-iemocap" / "fold1" / "seed1337"
    expdir.mkdir(parents=True)
    (expdir / "states-4.ckpt").write_text("old")
    old = time.time() - 100
    os.utime(expdir / "states-4.ckpt", (old, old))
    plan = dnn_plan(settings, ["linear"], ["matched"], [1], [1337], ["iemocap"])
    assert len(plan.jobs) == 1 and plan.stale == [expdir]
    os.utime(expdir / "states-4.ckpt")  # written after the manifest: this manifest's run, resumed
    assert dnn_plan(settings, ["linear"], ["matched"], [1], [1337], ["iemocap"]).stale == []
