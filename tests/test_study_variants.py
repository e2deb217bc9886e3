"""The study's extra rows: SVM normalisations, DNN domain variants and several seeds, planned as jobs."""
from pathlib import Path

import shlex

from s3prl_crosscorpus.core.names import override_value
from s3prl_crosscorpus.study.plan import DnnSettings, dnn_plan, svm_plan

POOL = ("emodb", "ravdess", "iemocap")


def settings(tmp_path: Path, cache: bool = True) -> DnnSettings:
    return DnnSettings(data=tmp_path / "data", results=tmp_path / "results", exp=tmp_path / "exp", upstream="hubert",
                       config=tmp_path / "paper.yaml", pool=POOL, cache=tmp_path / "cache" if cache else None)


def test_svm_rows_per_normalisation(tmp_path):
    plan = svm_plan(tmp_path, tmp_path / "r", ["eGeMAPSv02"], ["matched", "loco"], [1, 2, 3, 4, 5], "coarse", POOL,
                    norms=["global", "corpus"])
    names = sorted(job.name for job in plan.jobs)
    assert names == ["eGeMAPS-SVM.loco.foldall", "eGeMAPS-SVM.matched.foldall",
                     "eGeMAPS-SVM_corpus-norm.loco.foldall", "eGeMAPS-SVM_corpus-norm.matched.foldall"]
    commands = {job.name: job.command for job in plan.jobs}
    assert "--norm corpus" in commands["eGeMAPS-SVM_corpus-norm.loco.foldall"]
    assert "--norm global" in commands["eGeMAPS-SVM.loco.foldall"]


def test_dnn_variants_are_tagged_rows_and_dann_skips_matched(tmp_path):
    plan = dnn_plan(settings(tmp_path), ["linear"], ["matched", "extended"], [1], [0],
                    matched=["iemocap"], variants=["plain", "corpus-norm+dann"])
    by_name = {job.name: job.command for job in plan.jobs}
    assert sorted(by_name) == ["hubert-linear-corpus-norm+dann.extended-all.fold1.seed0",
                               "hubert-linear.extended-all.fold1.seed0", "hubert-linear.matched-iemocap.fold1.seed0"]
    tagged = by_name["hubert-linear-corpus-norm+dann.extended-all.fold1.seed0"]
    overrides = shlex.split(tagged)[shlex.split(tagged).index("-o") + 1]
    assert "datarc.normalisation='corpus'" in overrides and "modelrc.dann.enabled=True" in overrides
    assert f"system_name={override_value('HuBERT-Linear_corpus-norm_dann')}" in overrides
    assert "train-cached" in tagged
    plain = by_name["hubert-linear.extended-all.fold1.seed0"]
    assert "normalisation" not in plain and "dann" not in plain


def test_normalisation_variants_need_the_cache(tmp_path):
    plan = dnn_plan(settings(tmp_path, cache=False), ["linear"], ["extended"], [1], [0],
                    variants=["plain", "speaker-norm", "dann"])
    assert sorted(job.name for job in plan.jobs) == ["hubert-linear-dann.extended-all.fold1.seed0",
                                                      "hubert-linear.extended-all.fold1.seed0"]


def test_seeds_after_the_first_write_into_seed_folders_of_the_same_system(tmp_path):
    plan = dnn_plan(settings(tmp_path), ["linear"], ["matched"], [2], [7, 8], matched=["emodb"])
    commands = {job.name: job.command for job in plan.jobs}
    assert set(commands) == {"hubert-linear.matched-emodb.fold2.seed7", "hubert-linear.matched-emodb.fold2.seed8"}
    first, second = commands["hubert-linear.matched-emodb.fold2.seed7"], commands["hubert-linear.matched-emodb.fold2.seed8"]
    assert "--seed 7" in first and "--seed 8" in second
    seed_folder = override_value(str(tmp_path / "results" / "seed8"))
    assert f"results_dir={seed_folder}" in shlex.split(second)[shlex.split(second).index("-o") + 1]
    assert f"results_dir={override_value(str(tmp_path / 'results'))}," in shlex.split(first)[shlex.split(first).index("-o") + 1]
