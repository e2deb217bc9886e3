"""End to end on the synthetic corpora: results, shared splits, cache re-use, --fold all, bad files, CLI."""
import json
import shutil

import numpy as np
import pytest

from baseline_svm.cli import main
from baseline_svm.model import GRIDS, load_model, predict_files
from baseline_svm.run import RunConfig, run
from s3prl_crosscorpus.core.folds import DEFAULT_SEED, FOLDS, fold_file_sha256, make_split
from s3prl_crosscorpus.core.io_utils import read_json, read_jsonl, sha256_file, write_json, write_jsonl
from s3prl_crosscorpus.core.labels import CORPORA
from helpers.results import load_results
from s3prl_crosscorpus.results.schema import result_path
from helpers.svm import write_broken_files


CHANCE = 0.25


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("svm_cache")


@pytest.fixture(scope="module")
def extended(data_dir, cache, tmp_path_factory):
    """One extended fold-1 model (GeMAPSv01b, coarse grid) evaluated on all three corpora, via the CLI."""
    out = tmp_path_factory.mktemp("svm_results")
    rc = main(["run", "--data", str(data_dir), "--feature-set", "GeMAPSv01b", "--condition", "extended",
               "--test-corpus", "all", "--fold", "1", "--out", str(out), "--grid", "coarse",
               "--cache", str(cache)])
    assert rc == 0
    return out


@pytest.mark.e2e
def test_extended_run_beats_chance_on_every_corpus(extended):
    results = load_results(extended)
    assert sorted(r["test_corpus"] for r in results) == sorted(CORPORA)
    for r in results:
        assert (r["system"], r["family"], r["features"], r["head"]) == ("GeMAPS-SVM", "svm", "GeMAPSv01b", None)
        assert (r["condition"], r["fold"], r["train_corpora"]) == ("extended", 1, list(CORPORA))
        assert r["metrics"]["uar"] >= CHANCE + 0.25, (r["test_corpus"], r["metrics"])
        assert np.log2(r["hyperparameters"]["C"]) in GRIDS["coarse"]["log2_C"]
        assert np.log2(r["hyperparameters"]["gamma"]) in GRIDS["coarse"]["log2_gamma"]
        assert set(r["timings"]) == {"extraction", "search", "fit", "predict"}
        hyper = r["hyperparameters"]
        assert (hyper["search"], hyper["selection"], hyper["normalisation"], hyper["transductive"]) == \
            ("kernel", "dev", "global", False)
        assert {"opensmile", "scikit-learn", "numpy"} <= set(r["versions"])
        assert all(len(p["probabilities"]) == 4 for p in r["predictions"])
    assert np.mean([r["metrics"]["uar"] for r in results]) >= 0.6


@pytest.mark.e2e
def test_split_used_is_the_shared_one(extended, utterances):
    split = make_split(utterances, "extended", 1, None, CORPORA, DEFAULT_SEED)
    model = load_model(extended / "GeMAPS-SVM" / "extended" / "fold1.model.skops")
    assert model["train_ids"] == list(split.train)
    assert model["dev_ids"] == list(split.dev)
    # The runner refits the chosen point on the training rows only, not train + dev.
    final = model["estimator"].pipeline_
    assert final["svm"].shape_fit_[0] == len(split.train) == final["scale"].n_samples_seen_
    by_id = {u.id: u for u in utterances}
    for r in load_results(extended):
        assert [p["id"] for p in r["predictions"]] == [i for i in split.test if by_id[i].corpus == r["test_corpus"]]
        assert r["sizes"] == {"train": len(split.train), "dev": len(split.dev), "test": len(r["predictions"])}
        assert r["fold_file_sha256"] == fold_file_sha256()
        assert not r["excluded"]


@pytest.mark.e2e
def test_predict_files_reproduces_the_test_predictions(extended, utterances, tmp_path):
    model = load_model(extended / "GeMAPS-SVM" / "extended" / "fold1.model.skops")
    result = json.loads(result_path(extended, "GeMAPS-SVM", "extended", "ravdess", 1).read_text())
    by_id = {row["id"]: row for row in result["predictions"]}
    manifest = {u.id: u.path for u in utterances}
    ids = list(by_id)[:6]
    bad = write_broken_files(tmp_path)["garbage"]
    labels, proba, _ = predict_files(model, [manifest[i] for i in ids] + [bad], progress=False)
    assert labels[:-1] == [by_id[i]["prediction"] for i in ids]
    np.testing.assert_allclose(proba[:-1], [by_id[i]["probabilities"] for i in ids], atol=1e-6)
    assert labels[-1] is None and np.isnan(proba[-1]).all()


@pytest.mark.e2e
def test_rerun_extracts_nothing(data_dir, utterances, cache, extended, tmp_path, capsys):
    config = RunConfig(data_dir=data_dir, out=tmp_path, feature_set="GeMAPSv01b", condition="matched",
                       test_corpus="emodb", folds=(2,), grid="coarse", cache_dir=cache)
    report = run(config)
    assert report.extraction.extracted == 0
    assert report.extraction.cached == sum(u.corpus == "emodb" for u in utterances)
    assert "0 extracted" in capsys.readouterr().out


@pytest.mark.e2e
def test_fold_all_skips_finished_folds(data_dir, cache, tmp_path, capsys):
    args = ["run", "--data", str(data_dir), "--feature-set", "eGeMAPSv02", "--condition", "matched",
            "--test-corpus", "emodb", "--fold", "all", "--out", str(tmp_path), "--grid", "coarse",
            "--cache", str(cache), "--no-save-model"]
    assert main(args) == 0
    files = [result_path(tmp_path, "eGeMAPS-SVM", "matched", "emodb", k) for k in FOLDS]
    assert all(f.exists() for f in files) and not list(tmp_path.rglob("*.model.*"))
    stamps = {f: f.stat().st_mtime_ns for f in files}
    files[2].unlink()
    files[3].write_text("{}")  # an interrupted or foreign file is not a finished fold
    capsys.readouterr()
    assert main(args) == 0
    out = capsys.readouterr()
    assert "wrote 2 result(s), skipped 3 existing" in out.out
    assert "recomputing" in out.err and "fold4.json" in out.err
    for k, f in enumerate(files):
        assert (f.stat().st_mtime_ns == stamps[f]) == (k not in (2, 3))
    assert len(load_results(tmp_path)) == 5


@pytest.mark.e2e
def test_bad_files_are_excluded_and_recorded(data_dir, utterances, cache, tmp_path, capsys):
    """Two EmoDB files replaced by broken audio: named on stderr and in the results, the run goes on."""
    bad = write_broken_files(tmp_path / "broken")
    rows = read_jsonl(data_dir / "manifest.jsonl")
    split = make_split(utterances, "matched", 1, "emodb", ("emodb",), DEFAULT_SEED)
    victims = {split.train[0]: str(bad["garbage"]), split.test[0]: str(bad["nan"])}
    for row in rows:
        row["path"] = victims.get(row["id"], row["path"])
    data = tmp_path / "data"
    write_jsonl(data / "manifest.jsonl", rows)
    meta = read_json(data_dir / "manifest.meta.json")
    meta["manifest_sha256"] = sha256_file(data / "manifest.jsonl")  # the meta describes the edited manifest
    write_json(data / "manifest.meta.json", meta)
    rc = main(["run", "--data", str(data), "--feature-set", "eGeMAPSv02", "--condition", "matched",
               "--test-corpus", "emodb", "--fold", "1", "--out", str(tmp_path / "res"), "--grid", "coarse",
               "--cache", str(cache), "--corpora", "emodb"])
    assert rc == 0
    err = capsys.readouterr().err
    for path in victims.values():
        assert f"excluded {path}:" in err
    (result,) = load_results(tmp_path / "res")
    assert sorted(e["path"] for e in result["excluded"]) == sorted(victims.values())
    assert result["sizes"]["train"] == len(split.train) - 1
    assert split.test[0] not in [p["id"] for p in result["predictions"]]
    assert len(result["predictions"]) == len(split.test) - 1


@pytest.mark.e2e
def test_reference_search_writes_the_same_results(data_dir, cache, tmp_path):
    """--search sklearn (GridSearchCV) and the default kernel search: same table, choice and predictions."""
    found = {}
    for search in ("kernel", "sklearn"):
        assert main(["run", "--data", str(data_dir), "--feature-set", "eGeMAPSv02", "--condition", "matched",
                     "--test-corpus", "emodb", "--fold", "2", "--out", str(tmp_path / search), "--grid", "coarse",
                     "--cache", str(cache), "--no-save-model", "--search", search]) == 0
        (found[search],) = load_results(tmp_path / search)
    kernel, reference = found["kernel"], found["sklearn"]
    assert (kernel["hyperparameters"]["search"], reference["hyperparameters"]["search"]) == ("kernel", "sklearn")
    assert kernel["system"] == reference["system"] == "eGeMAPS-SVM"
    for key in ("C", "gamma"):
        assert kernel["hyperparameters"][key] == reference["hyperparameters"][key]
    grid = [np.array([row["dev_uar"] for row in r["config"]["dev_uar_grid"]]) for r in (kernel, reference)]
    np.testing.assert_allclose(grid[0], grid[1], rtol=0, atol=1e-12)
    assert kernel["predictions"] == reference["predictions"] and kernel["metrics"] == reference["metrics"]


@pytest.mark.e2e
def test_group_cv_selection_is_recorded_and_kept_apart(data_dir, cache, extended, tmp_path):
    from s3prl_crosscorpus.results.leaderboard import load_cells

    out = tmp_path / "res"
    shutil.copytree(extended, out)
    assert main(["run", "--data", str(data_dir), "--feature-set", "GeMAPSv01b", "--condition", "extended",
                 "--test-corpus", "all", "--fold", "1", "--out", str(out), "--grid", "coarse",
                 "--cache", str(cache), "--no-save-model", "--select", "group-cv", "--cv-folds", "4"]) == 0
    variant = [r for r in load_results(out) if r["system"] == "GeMAPS-SVM_group-cv"]
    assert len(variant) == len(CORPORA)
    hyper, config = variant[0]["hyperparameters"], variant[0]["config"]
    assert (hyper["selection"], hyper["cv_folds"]) == ("group-cv", 4) and 0 < hyper["cv_uar"] <= 1
    best = [row for row in config["cv_uar_grid"] if (row["C"], row["gamma"]) == (hyper["C"], hyper["gamma"])]
    assert best[0]["cv_uar"] == hyper["cv_uar"] == max(row["cv_uar"] for row in config["cv_uar_grid"])
    assert all(len(row["split_uar"]) == 4 for row in config["cv_uar_grid"])
    cells, _ = load_cells(out)
    assert {c.system for c in cells} == {"GeMAPS-SVM", "GeMAPS-SVM_group-cv"}


@pytest.mark.parametrize("change, message", [
    ({"--feature-set": "IS09"}, "invalid choice: 'IS09'"),
    ({"--fold": "6"}, "invalid choice: '6'"),
    ({"--condition": "crossed"}, "invalid choice: 'crossed'"),
    ({"--corpora": "emodb,Timit!"}, "unknown corpus"),
    ({"--n-jobs": "0"}, "must be >= 1"),
    ({"--cv-folds": "1"}, "must be >= 2"),
    ({"--search": "fast"}, "invalid choice: 'fast'"),
    ({"--norm": "utterance"}, "invalid choice: 'utterance'"),
])
def test_bad_cli_input_fails_clearly(change, message, tmp_path, capsys):
    options = {"--data": str(tmp_path), "--feature-set": "eGeMAPSv02", "--condition": "matched",
               "--test-corpus": "emodb", "--fold": "1", "--out": str(tmp_path)}
    options.update(change)
    with pytest.raises(SystemExit) as exit_info:
        main(["run"] + [x for kv in options.items() for x in kv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.e2e
def test_runtime_errors_are_reported_not_raised(data_dir, cache, tmp_path, capsys):
    base = ["run", "--feature-set", "eGeMAPSv02", "--fold", "1", "--out", str(tmp_path)]
    assert main(base + ["--data", str(tmp_path / "nowhere"), "--condition", "matched", "--test-corpus", "emodb"]) == 2
    assert "manifest not found" in capsys.readouterr().err
    assert main(base + ["--data", str(data_dir), "--condition", "loco", "--test-corpus", "emodb",
                        "--corpora", "emodb"]) == 2
    assert "loco needs at least two corpora" in capsys.readouterr().err
    assert main(base + ["--data", str(data_dir), "--condition", "matched", "--test-corpus", "emodb",
                        "--corpora", "emodb", "--select", "group-cv", "--cv-folds", "20", "--grid", "coarse",
                        "--no-save-model", "--cache", str(cache)]) == 2
    assert ("eGeMAPS-SVM_group-cv matched fold 1: group-cv with 20 folds needs at least 20 speakers"
            in capsys.readouterr().err)


def test_reachable_as_s3prl_crosscorpus_subcommand(capsys):
    from s3prl_crosscorpus.commands.main import main as top

    with pytest.raises(SystemExit) as exit_info:
        top(["svm", "run", "--help"])
    assert exit_info.value.code == 0
    assert "--feature-set {GeMAPSv01b,eGeMAPSv02,ComParE_2016}" in capsys.readouterr().out


def test_sets_emptied_by_exclusions_stop_with_the_experiment_named(utterances, tmp_path):
    from baseline_svm.model import ModelError
    from baseline_svm.run import Job, RunConfig, check_usable
    from s3prl_crosscorpus.core.folds import make_split

    split = make_split(utterances, "matched", 1, "emodb")
    by_id = {u.id: u for u in utterances}
    job = Job(split, ("emodb",))
    config = RunConfig(data_dir=tmp_path, out=tmp_path, feature_set="eGeMAPSv02", condition="matched",
                       test_corpus="emodb", folds=(1,))
    sets = {"train": split.train, "dev": split.dev, "test": split.test}
    check_usable(job, config, sets, by_id)  # nothing excluded: fine
    with pytest.raises(ModelError, match="eGeMAPS-SVM matched fold 1: every emodb test file was excluded"):
        check_usable(job, config, {**sets, "test": ()}, by_id)
    one_class = tuple(i for i in split.train if by_id[i].label == "neu")
    with pytest.raises(ModelError, match="fold 1: .* the train set holds .* fewer than 2 classes"):
        check_usable(job, config, {**sets, "train": one_class}, by_id)
