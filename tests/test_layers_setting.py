"""A layer selection as a study setting (issue 23 follow-up): `study dnn --layers` / `run.sh --layers` plan runs
with ``modelrc.layers``, expect their results under the tagged name, and keep them apart from all-layer runs."""
import shlex
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from s3prl_crosscorpus.core.names import override_value
from s3prl_crosscorpus.results.schema import result_path
from s3prl_crosscorpus.study.plan import DnnSettings, dnn_plan

ROOT = Path(__file__).resolve().parents[1]


def settings(tmp_path: Path, layers=None) -> DnnSettings:
    return DnnSettings(data=tmp_path / "data", results=tmp_path / "results", exp=tmp_path / "exp", upstream="hubert",
                       config=tmp_path / "paper.yaml", pool=("emodb", "iemocap"), cache=tmp_path / "cache",
                       layers=layers)


def overrides_of(command: str) -> str:
    words = shlex.split(command)
    return words[words.index("-o") + 1]


def test_a_layer_selection_is_passed_on_and_names_the_row_and_experiment(tmp_path):
    (job,) = dnn_plan(settings(tmp_path, (4, 5, 6, 7, 8)), ["linear"], ["matched"], [1], [1337], ["iemocap"]).jobs
    overrides = overrides_of(job.command)
    assert "modelrc.layers=[4, 5, 6, 7, 8]" in overrides
    assert f"system_name={override_value('HuBERT-Linear_L4-8')}" in overrides
    assert job.name == "hubert-linear-L4-8.matched-iemocap.fold1.seed1337"  # not the all-layer run's folder
    (plain,) = dnn_plan(settings(tmp_path), ["linear"], ["matched"], [1], [1337], ["iemocap"]).jobs
    assert "layers" not in overrides_of(plain.command) and plain.name == "hubert-linear.matched-iemocap.fold1.seed1337"


def test_the_plan_expects_results_under_the_tagged_name(tmp_path):
    chosen = settings(tmp_path, (0, 4, 8))
    untagged = result_path(chosen.results, "HuBERT-Linear", "matched", "iemocap", 1)
    untagged.parent.mkdir(parents=True)
    untagged.write_text("{}")  # an all-layer result does not count as the selection's
    assert len(dnn_plan(chosen, ["linear"], ["matched"], [1], [1337], ["iemocap"]).jobs) == 1
    tagged = result_path(chosen.results, "HuBERT-Linear_L0+4+8", "matched", "iemocap", 1)
    tagged.parent.mkdir(parents=True)
    tagged.write_text("{}")
    plan = dnn_plan(chosen, ["linear"], ["matched"], [1], [1337], ["iemocap"])
    assert plan.done == 1 and not plan.jobs
    assert dnn_plan(replace(chosen, layers=None), ["linear"], ["matched"], [1], [1337], ["iemocap"]).done == 1


def test_study_refuses_a_malformed_layer_selection(tmp_path):
    done = subprocess.run([sys.executable, "-m", "s3prl_crosscorpus", "study", "dnn", "--data", str(tmp_path),
                           "--results", str(tmp_path / "r"), "--config", str(tmp_path / "c.yaml"), "--layers", "8-4"],
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True)
    assert done.returncode == 2 and "argument --layers: --layers '8-4': give one layer (6), a range" in done.stderr
