"""Bad input named, never a traceback (issue 13): results, checkpoints, caches, bundles, full disks."""
import json
from pathlib import Path

import pytest

from helpers.resultgen import write_results
from s3prl_crosscorpus.commands import leaderboard
from s3prl_crosscorpus.core.folds import make_split
from s3prl_crosscorpus.core.io_utils import read_json, write_json
from s3prl_crosscorpus.results.schema import ResultError, load_result_files, make_result


def test_a_result_predicting_an_id_twice_is_refused(utterances):
    split = make_split(utterances, "matched", 1, "emodb")
    label_of = {u.id: u.label for u in utterances}
    ids = list(split.test[:3]) + [split.test[0]]
    with pytest.raises(ResultError, match=rf"predictions/3: utterance id '{ids[0]}' is listed twice"):
        make_result(system="S", family="svm", features="f", head=None, split=split, test_corpus="emodb", seed=0,
                    hyperparameters={}, dev_uar=0.5, ids=ids, labels=[label_of[i] for i in ids],
                    predictions=[label_of[i] for i in ids])


def test_a_result_file_with_a_repeated_row_is_named_by_the_leaderboard(utterances, tmp_path, capsys):
    results = tmp_path / "results"
    paths = write_results(results, utterances, systems=("ComParE-SVM",), conditions=("matched",),
                          corpora=("emodb",), folds=(1, 2))
    load_result_files(results)  # valid as written
    result = read_json(paths[0])
    result["predictions"].append(dict(result["predictions"][1]))
    write_json(paths[0], result)
    with pytest.raises(ResultError, match=f"{paths[0]}: predictions/{len(result['predictions']) - 1}: "):
        load_result_files(results)
    assert leaderboard.main([str(results)]) == 2
    assert f"{paths[0]}" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["missing", "text", "truncated", "plain dict", "folder"])
def test_evaluate_with_a_file_that_is_no_checkpoint_names_it(kind, tmp_path, capsys):
    import argparse

    import torch

    from s3prl_crosscorpus.commands import run_downstream

    path = tmp_path / "dev-best.ckpt"
    if kind == "text":
        path.write_text("not a checkpoint\n")
    elif kind in ("truncated", "plain dict"):
        torch.save({"Args": argparse.Namespace(downstream="crosscorpus_emotion"), "Config": {}}
                   if kind == "truncated" else {"weights": torch.zeros(2)}, path)
        if kind == "truncated":
            path.write_bytes(path.read_bytes()[:200])
    elif kind == "folder":
        path = tmp_path
    assert run_downstream.main(["-m", "evaluate", "-e", str(path), "-t", "test", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    expected = {"missing": "checkpoint not found", "text": "not a loadable checkpoint",
                "truncated": "not a loadable checkpoint", "plain dict": "missing Args, Config",
                "folder": "holds no states-*.ckpt"}[kind]
    assert f"error: -e {path}: " in err and expected in err and "Traceback" not in err


# --------------------------------------------------------------------------- unusable audio in the DNN paths

@pytest.fixture(scope="module")
def bad_audio_data(utterances, tmp_path_factory):
    """(data dir, {id: kind}): EmoDB only, one fold-2 test clip too short for HuBERT and one training clip
    holding NaN, in a folder whose name s3prl's ``-o`` parser would split if pasted."""
    import numpy as np
    import soundfile as sf

    from s3prl_crosscorpus.core.io_utils import write_jsonl

    root = tmp_path_factory.mktemp("bad") / "it's a=b"
    emodb = sorted((u for u in utterances if u.corpus == "emodb"), key=lambda u: u.id)
    split = make_split(emodb, "matched", 2, "emodb", corpora=("emodb",))
    victims = {split.test[1]: "short", split.train[3]: "nan"}
    rows = []
    for utt in emodb:
        row = utt.to_dict()
        if utt.id in victims:
            path = root / "audio" / f"{utt.id}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            samples = np.full(200, 0.01, np.float32) if victims[utt.id] == "short" else np.full(16000, np.nan, np.float32)
            sf.write(str(path), samples, 16000, subtype="FLOAT")
            row["path"] = str(path)
        rows.append(row)
    write_jsonl(root / "data" / "manifest.jsonl", rows)
    return root / "data", victims


def bad_audio_overrides(data, results):
    from s3prl_crosscorpus.core.names import expert_overrides, s3prl_overrides

    return s3prl_overrides({**expert_overrides(dict(data_dir=str(data), condition="matched", test_corpus="emodb",
                                                    fold=2, corpora=["emodb"]),
                                               results_dir=str(results), modelrc={"head": "linear"}),
                            "config.runner.total_steps": 4, "config.runner.eval_step": 2,
                            "config.runner.log_step": 2, "config.runner.save_step": 4})


def check_excluded(results_dir, victims, utterances):
    """One result, without the excluded test clip, naming both excluded files and why."""
    from helpers.results import load_results

    [result] = load_results(results_dir)
    short, nan = sorted(victims, key=victims.get, reverse=True)
    test = [u.id for u in utterances if u.corpus == "emodb"]
    expected_test = [i for i in make_split([u for u in utterances if u.corpus == "emodb"], "matched", 2, "emodb",
                                           corpora=("emodb",)).test if i != short]
    assert [p["id"] for p in result["predictions"]] == expected_test and set(expected_test) <= set(test)
    reasons = {e["path"].rsplit("/", 1)[1]: e["reason"] for e in result["excluded"]}
    assert set(reasons) == {f"{short}.wav", f"{nan}.wav"}
    assert "too short" in reasons[f"{short}.wav"] and "non-finite" in reasons[f"{nan}.wav"]
    assert result["sizes"]["test"] == len(expected_test)
    return result


@pytest.mark.e2e
def test_the_dnn_excludes_unusable_clips_before_training_and_records_them(bad_audio_data, utterances, tmp_path,
                                                                          capsys):
    from s3prl_crosscorpus.commands import run_downstream
    from s3prl_crosscorpus.demo.random_hubert import write_random_hubert

    data, victims = bad_audio_data
    ckpt = write_random_hubert(tmp_path / "tiny.pt", size="tiny", seed=0)
    smoke = str(Path(__file__).resolve().parent.parent / "downstream_configs" / "smoke.yaml")
    expdir = tmp_path / "exp"
    assert run_downstream.main(["-m", "train", "-u", "hubert_local", "-k", str(ckpt), "-d", "crosscorpus_emotion",
                                "-c", smoke, "-p", str(expdir), "--device", "cpu",
                                "-o", bad_audio_overrides(data, tmp_path / "results")]) == 0
    assert run_downstream.main(["-m", "evaluate", "-e", str(expdir / "dev-best.ckpt"), "-t", "test",
                                "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert all(f"excluded {data.parent}/audio/{i}.wav" in out for i in victims)
    check_excluded(tmp_path / "results", victims, utterances)


@pytest.mark.e2e
def test_extract_skips_and_records_unusable_clips_and_train_cached_excludes_them(bad_audio_data, utterances,
                                                                                 tmp_path):
    from s3prl_crosscorpus.cache import extract as ex
    from s3prl_crosscorpus.cache.format import FeatureCache
    from s3prl_crosscorpus.commands.train_cached import main as train_cached
    from s3prl_crosscorpus.demo.random_hubert import write_random_hubert

    data, victims = bad_audio_data
    ckpt = str(write_random_hubert(tmp_path / "tiny.pt", size="tiny", seed=0))
    report = ex.extract(data, tmp_path / "cache", "hubert_local", ckpt, device="cpu", workers=0, shard_size=16,
                        quiet=True)
    assert set(report.excluded) == set(victims) and report.utterances == 80 - 2
    cache = FeatureCache(tmp_path / "cache", full=True)
    assert not cache.problems and len(cache) == 78 and set(cache.excluded) == set(victims)
    again = ex.extract(data, tmp_path / "cache", "hubert_local", ckpt, device="cpu", workers=0, shard_size=16,
                       quiet=True)
    assert again.written == {} and len(again.skipped) == 5  # shards with an excluded clip count as complete
    smoke = str(Path(__file__).resolve().parent.parent / "downstream_configs" / "smoke.yaml")
    assert train_cached(["--cache", str(tmp_path / "cache"), "-c", smoke, "-p", str(tmp_path / "exp"),
                         "-o", bad_audio_overrides(data, tmp_path / "results")]) == 0
    result = check_excluded(tmp_path / "results", victims, utterances)
    assert result["config"]["feature_cache"] == str((tmp_path / "cache").resolve())


def test_extract_refuses_a_cache_of_another_manifest(bad_audio_data, data_dir, tmp_path):
    from s3prl_crosscorpus.cache import extract as ex
    from s3prl_crosscorpus.cache.format import CacheError

    data, _ = bad_audio_data
    ex.extract(data, tmp_path / "cache", "fbank", None, device="cpu", workers=0, quiet=True)
    before = {p.name: p.read_bytes() for p in (tmp_path / "cache" / "shards").iterdir()}
    with pytest.raises(CacheError, match=r"holds features of another manifest .*80 utterances.*not of"):
        ex.extract(data_dir, tmp_path / "cache", "fbank", None, device="cpu", workers=0, quiet=True)
    assert {p.name: p.read_bytes() for p in (tmp_path / "cache" / "shards").iterdir()} == before


# --------------------------------------------------------------------------- full disk

@pytest.fixture
def full_disk(monkeypatch):
    """Every atomic write in this process fails as on a full disk (the error surfaces at fsync)."""
    import errno
    import os

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)


def test_svm_feature_cache_on_a_full_disk_warns_and_keeps_the_features(utterances, tmp_path, full_disk, capsys):
    from baseline_svm.features import extract

    paths = [u.path for u in utterances[:3]]
    found = extract(paths, "GeMAPSv01b", cache_dir=tmp_path / "cache", n_jobs=1, progress=False)
    assert sorted(found.vectors) == sorted(paths) and not found.excluded and len(found.cache_errors) == 3
    err = capsys.readouterr().err
    assert "3 feature-cache entries could not be written" in err and "No space left on device" in err
    assert f"cannot write {tmp_path / 'cache'}" in err
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]  # no partial entry left


@pytest.mark.e2e
def test_svm_run_on_a_full_disk_names_the_file(data_dir, tmp_path, full_disk, capsys):
    from baseline_svm.cli import main

    assert main(["run", "--data", str(data_dir), "--feature-set", "GeMAPSv01b", "--condition", "matched",
                 "--test-corpus", "emodb", "--fold", "1", "--out", str(tmp_path / "out"), "--grid", "coarse",
                 "--n-jobs", "1", "--cache", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert err.count("error: ") == 1 and f"cannot write {tmp_path / 'out'}" in err and "No space left on device" in err
    assert "Traceback" not in err


def test_submit_on_a_full_disk_names_the_bundle(utterances, tmp_path, monkeypatch, capsys):
    import errno
    import os

    from s3prl_crosscorpus.commands import submit

    results = tmp_path / "results"
    write_results(results, utterances, systems=("ComParE-SVM",), conditions=("matched",), corpora=("emodb",))

    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    assert submit.main([str(results), "-o", str(tmp_path / "b.zip"), "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert "error: " in err and f"cannot write {tmp_path / 'b.zip'}: No space left on device" in err
    assert not [p for p in tmp_path.iterdir() if p.name != "results"]


# --------------------------------------------------------------------------- run-downstream arguments

SMOKE = Path(__file__).resolve().parent.parent / "downstream_configs" / "smoke.yaml"


@pytest.mark.parametrize("case,message", [
    ("config missing", "-c {tmp}/nope.yaml: cannot read the config (No such file or directory)"),
    ("config not YAML", "-c {tmp}/bad.yaml:3: not valid YAML"),
    ("config a list", "-c {tmp}/list.yaml: the config must be a YAML mapping"),
    ("override without =", "-o: 'garbage' is not config.SECTION.KEY=VALUE"),
    ("steps not a number", "runner.total_steps must be an integer, got 'many'"),
    ("unknown upstream", "-u no_such_upstream: unknown s3prl upstream"),
    ("local upstream without its file", "-u hubert_local needs -k CHECKPOINT_FILE; {tmp}/nope.pt is not a file"),
])
def test_run_downstream_arguments_are_checked_before_s3prl_sees_them(case, message, data_dir, tmp_path, capsys):
    from s3prl_crosscorpus.commands import run_downstream
    from s3prl_crosscorpus.core.names import expert_overrides, s3prl_overrides

    (tmp_path / "bad.yaml").write_text("runner:\n  total_steps: [\n")
    (tmp_path / "list.yaml").write_text("- 1\n")
    config = {"config missing": "nope.yaml", "config not YAML": "bad.yaml", "config a list": "list.yaml"}
    upstream = {"unknown upstream": ["-u", "no_such_upstream"],
                "local upstream without its file": ["-u", "hubert_local", "-k", str(tmp_path / "nope.pt")]}
    overrides = s3prl_overrides(expert_overrides({"data_dir": str(data_dir)}))
    overrides += {"override without =": ",,garbage", "steps not a number": ",,config.runner.total_steps='many'"}.get(case, "")
    argv = ["-m", "train", *upstream.get(case, ["-u", "fbank_no_cmvn"]), "-d", "crosscorpus_emotion",
            "-c", str(tmp_path / config[case]) if case in config else str(SMOKE), "-p", str(tmp_path / "exp"),
            "--device", "cpu", "-o", overrides]
    assert run_downstream.main(argv) == 2
    err = capsys.readouterr().err
    assert message.format(tmp=tmp_path) in err and "Traceback" not in err
    assert not list(tmp_path.glob("exp/*.ckpt"))


@pytest.mark.parametrize("command", ["synth", "demo"])
def test_an_unwritable_output_folder_is_named(command, tmp_path, capsys):
    from s3prl_crosscorpus.commands import main as cli

    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should go\n")
    extra = ["--skip-dnn"] if command == "demo" else []
    assert cli.main([command, "--out", str(blocker / "out"), *extra]) == 1
    err = capsys.readouterr().err
    assert "error: " in err and str(blocker) in err and "Traceback" not in err
