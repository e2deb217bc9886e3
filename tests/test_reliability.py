"""Bad input named, never a traceback (issue 13): results, checkpoints, caches, bundles, full disks."""
import json

import pytest

from resultgen import write_results
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
    assert leaderboard.main([str(results)]) == 1
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
