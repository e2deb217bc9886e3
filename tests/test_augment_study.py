"""The study's augmented rows: pooling against augmentation in the leaderboard's paired tests and in ``compare``."""
import pytest

from s3prl_crosscorpus.augment.spec import SpecError
from s3prl_crosscorpus.commands import compare, leaderboard
from s3prl_crosscorpus.results.cells import load_cells
from s3prl_crosscorpus.results.significance import automatic_pairs

from helpers.resultgen import write_results

AUG = "ComParE-SVM_aug-speed+noise-x2"


def test_leaderboard_pairs_pooling_against_augmentation(tmp_path, utterances, capsys):
    write_results(tmp_path, utterances, systems=("ComParE-SVM", AUG), corpora=("emodb",))
    cells, _ = load_cells(tmp_path)
    pairs = {(a.system, a.condition, b.system, b.condition) for a, b in automatic_pairs(cells)}
    assert (AUG, "matched", "ComParE-SVM", "extended") in pairs  # extended − matched+aug
    assert ("ComParE-SVM", "extended", AUG, "extended") in pairs  # extended+aug − extended
    assert ("ComParE-SVM", "matched", "ComParE-SVM", "extended") in pairs
    assert leaderboard.main([str(tmp_path), "--stats", "--resamples", "200"]) == 0
    out = capsys.readouterr().out
    assert f"| {AUG} matched" in out and f"| {AUG} extended" in out
    assert compare.main([str(tmp_path), f"{AUG}/matched", "ComParE-SVM/extended", "--resamples", "200"]) == 0
    assert "ComParE-SVM extended" in capsys.readouterr().out


def test_study_plans_the_augmented_rows_of_both_systems(data_dir, tmp_path):
    from pathlib import Path

    from s3prl_crosscorpus.study.plan import DnnSettings, dnn_plan, extract_plan, svm_plan

    svm = svm_plan(data_dir, tmp_path / "r", ["eGeMAPSv02"], ["matched", "extended"], [1], "coarse",
                   ("emodb", "ravdess", "iemocap"), augment="speed,noise", augment_copies=2)
    names = [job.name for job in svm.jobs]
    assert "eGeMAPS-SVM_aug-speed+noise-x2.matched.fold1" in names and "eGeMAPS-SVM.matched.fold1" in names
    aug_job = next(job for job in svm.jobs if "aug-" in job.name)
    assert "--augment speed,noise --augment-copies 2" in aug_job.command
    extract = extract_plan(data_dir, tmp_path / "cache", "hubert_local", "x.pt", 1, "cpu", "speed,noise", 2)
    assert [job.name for job in extract.jobs] == ["extract.0of1", "extract-aug.0of1"]
    settings = DnnSettings(data=data_dir, results=tmp_path / "r", exp=tmp_path / "exp", upstream="hubert_local",
                           config=Path("smoke.yaml"), pool=("emodb",), cache=tmp_path / "cache",
                           augment="speed,noise", augment_copies=2)
    dnn = dnn_plan(settings, ["linear"], ["matched"], [1], [1337], ["emodb"])
    commands = {job.name: job.command for job in dnn.jobs}
    assert set(commands) == {"hubert_local-linear.matched-emodb.fold1.seed1337",
                             "hubert_local-linear-aug.matched-emodb.fold1.seed1337"}
    assert "datarc.augment.copies=2" in commands["hubert_local-linear-aug.matched-emodb.fold1.seed1337"]
    babble = DnnSettings(**{**settings.__dict__, "augment": "babble"})
    with pytest.raises(SpecError, match="babble mixes talkers"):
        dnn_plan(babble, ["linear"], ["matched"], [1], [1337], ["emodb"])


def test_study_plans_svm_rows_on_degraded_test_audio(data_dir, tmp_path):
    from s3prl_crosscorpus.study.plan import svm_plan

    plan = svm_plan(data_dir, tmp_path / "r", ["eGeMAPSv02"], ["matched"], [1], "coarse", ("emodb",),
                    norms=("global", "speaker"), degrade=["noise:snr=10", "telephone"])
    names = sorted(job.name for job in plan.jobs)
    assert names == ["eGeMAPS-SVM.matched.fold1", "eGeMAPS-SVM_speaker-norm.matched.fold1",
                     "eGeMAPS-SVM_test-noise-snr10.matched.fold1", "eGeMAPS-SVM_test-telephone.matched.fold1"]
    with pytest.raises(SpecError, match="speed changes the speech itself"):
        svm_plan(data_dir, tmp_path / "r", ["eGeMAPSv02"], ["matched"], [1], "coarse", ("emodb",), degrade=["speed"])


def test_dnn_runs_are_also_evaluated_on_degraded_audio_and_only_that_is_redone(data_dir, tmp_path):
    from pathlib import Path

    from s3prl_crosscorpus.results.schema import result_path
    from s3prl_crosscorpus.study.plan import DnnSettings, dnn_plan

    settings = DnnSettings(data=data_dir, results=tmp_path / "r", exp=tmp_path / "exp", upstream="hubert_local",
                           config=Path("smoke.yaml"), pool=("emodb",), upstream_name="Tiny", degrade=("noise:snr=0",))
    plan = dnn_plan(settings, ["linear"], ["matched"], [1], [1337], ["emodb"])
    [job] = plan.jobs
    assert job.command.count("run-downstream -m evaluate") == 2  # the clean test, then the degraded one
    assert "datarc.test_degrade=" in job.command
    clean = result_path(tmp_path / "r", "Tiny-Linear", "matched", "emodb", 1)
    clean.parent.mkdir(parents=True)
    clean.write_text("{}")
    [job] = dnn_plan(settings, ["linear"], ["matched"], [1], [1337], ["emodb"]).jobs
    assert job.name.endswith(".degrade") and "-m train" not in job.command
    degraded = result_path(tmp_path / "r", "Tiny-Linear_test-noise-snr0", "matched", "emodb", 1)
    degraded.parent.mkdir(parents=True)
    degraded.write_text("{}")
    again = dnn_plan(settings, ["linear"], ["matched"], [1], [1337], ["emodb"])
    assert not again.jobs and again.done == 1
