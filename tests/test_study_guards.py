"""Guards that keep a wrong number from being silent: misspelled config keys, the dead fbank+linear pair,
degenerate training, and a training pool other than the paper's."""
import json

import pytest

from s3prl_crosscorpus.commands.main import main
from s3prl_crosscorpus.superb.runner import config_path

EXPERT = "config.downstream_expert"


def run_downstream(data_dir, tmp_path, upstream, *overrides):
    """``run-downstream -m train`` on the smoke config; stops (rc 2) before any upstream or training on a bad config."""
    settings = [f"{EXPERT}.datarc.data_dir='{data_dir}'", f"{EXPERT}.datarc.test_corpus='emodb'", *overrides]
    return main(["run-downstream", "-m", "train", "-u", upstream, "-d", "crosscorpus_emotion",
                 "-c", str(config_path("smoke")), "-p", str(tmp_path / "exp"), "--device", "cpu",
                 "-o", ",,".join(settings)])


@pytest.mark.parametrize("key,section", [("datarc.conditon", "downstream_expert.datarc"),
                                         ("modelrc.projecter_dim", "downstream_expert.modelrc"),
                                         ("result_dir", "downstream_expert")])
def test_unknown_key_is_refused_naming_it_and_the_known_keys(data_dir, tmp_path, capsys, key, section):
    assert run_downstream(data_dir, tmp_path, "fbank_no_cmvn", f"{EXPERT}.{key}='x'") == 2
    err = capsys.readouterr().err
    assert f"unknown key downstream_expert.{key}" in err and f"known keys of {section} are" in err
    assert not (tmp_path / "exp" / "dev-best.ckpt").exists()


@pytest.mark.parametrize("upstream", ["fbank", "mfcc"])
def test_cmvn_upstream_under_the_linear_head_is_refused_with_the_alternative(data_dir, tmp_path, capsys, upstream):
    assert run_downstream(data_dir, tmp_path, upstream, f"{EXPERT}.modelrc.head='linear'") == 2
    err = capsys.readouterr().err
    assert "zero by construction" in err and "fbank_no_cmvn" in err


def test_known_keys_of_the_shipped_configs_pass(data_dir, tmp_path, capsys):
    """Negative control: the same command with correct keys gets past the checks (fails later on purpose)."""
    code = run_downstream(data_dir, tmp_path, "fbank_no_cmvn", f"{EXPERT}.datarc.condition='matched'",
                          "config.runner.eval_step=999")  # eval_step > total_steps: the next check refuses
    assert code == 2 and "eval_step 999 is above runner.total_steps" in capsys.readouterr().err


def test_degenerate_training_is_recognised():
    from s3prl_crosscorpus.core.labels import LABELS
    from s3prl_crosscorpus.core.metrics import degenerate_warnings

    assert degenerate_warnings(0.80, 40, LABELS) == []  # negative control: clearly above chance, all classes
    near_chance = degenerate_warnings(0.31, 40, ["neu", "ang"])  # 0.25 + 2 standard errors of 40 = 0.387
    assert len(near_chance) == 1 and "never rose clearly above chance" in near_chance[0]
    single = degenerate_warnings(0.25, 400, ["neu"])
    assert len(single) == 2 and "predicts only 'neu' on dev" in single[1]


def test_flagged_result_is_marked_in_the_leaderboard(tmp_path, utterances):
    from helpers.resultgen import write_results
    from s3prl_crosscorpus.results.leaderboard import load_cells, render_markdown, summary
    from s3prl_crosscorpus.results.schema import validate_result

    paths = write_results(tmp_path, utterances, systems=["HuBERT-Linear"], conditions=["matched"], corpora=["iemocap"])
    flagged = json.loads(paths[2].read_text())
    flagged["warnings"] = ["degenerate training: the chosen checkpoint predicts only 'neu' on dev"]
    validate_result(flagged)  # the optional field is part of the schema; files without it stay valid
    paths[2].write_text(json.dumps(flagged))
    table = summary(*load_cells(tmp_path))
    cell = table["cells"][0]
    assert cell["warnings"] == {"3": flagged["warnings"]}
    text = render_markdown(table)
    assert " !" in text.splitlines()[4]
    assert "! HuBERT-Linear matched iemocap fold 3: degenerate training: the chosen checkpoint predicts only" in text


def test_a_two_corpus_pool_is_not_compared_with_the_paper(tmp_path, utterances):
    """Extended on EmoDB+IEMOCAP is a different experiment from the paper's three-corpus extended."""
    from helpers.resultgen import write_results
    from s3prl_crosscorpus.results.leaderboard import load_cells, render_markdown, summary

    write_results(tmp_path / "three", utterances, systems=["ComParE-SVM"], conditions=["extended"], corpora=["iemocap"])
    for path in write_results(tmp_path / "two", utterances, systems=["ComParE-SVM"], conditions=["extended"],
                              corpora=["iemocap"]):  # as if the manifest held EmoDB and IEMOCAP only
        result = json.loads(path.read_text())
        path.write_text(json.dumps(dict(result, train_corpora=["emodb", "iemocap"])))
    paper = summary(*load_cells(tmp_path / "three"))["cells"][0]
    assert paper["paper_pool"] and paper["diff_uar"] is not None  # negative control: the paper's pool
    table = summary(*load_cells(tmp_path / "two"))
    cell = table["cells"][0]
    assert cell["train_corpora"] == ["emodb", "iemocap"] and not cell["paper_pool"] and cell["diff_uar"] is None
    assert "[63.54; trained on emodb+iemocap, not compared]" in render_markdown(table)


def test_folds_of_one_cell_on_different_pools_are_refused(tmp_path, utterances):
    from helpers.resultgen import write_results
    from s3prl_crosscorpus.results.cells import LeaderboardError, load_cells

    write_results(tmp_path, utterances, systems=["ComParE-SVM"], conditions=["extended"], corpora=["iemocap"],
                  folds=[1, 2, 3])
    for path in write_results(tmp_path, utterances, systems=["ComParE-SVM"], conditions=["extended"],
                              corpora=["iemocap"], folds=[4, 5]):
        path.write_text(json.dumps(dict(json.loads(path.read_text()), train_corpora=["emodb", "iemocap"])))
    with pytest.raises(LeaderboardError, match="folds trained on different corpus pools"):
        load_cells(tmp_path)


@pytest.mark.e2e
def test_a_run_that_cannot_learn_is_flagged_in_its_result_and_the_leaderboard(tmp_path, capsys):
    """Corpora whose audio carries no emotion (``emotion_strength=0``), trained exactly as
    ``test_downstream.py::test_fbank_linear_beats_chance`` trains the normal ones (which learn, unflagged):
    the run must end flagged in the log, in every result file and in the leaderboard."""
    from helpers.results import load_results
    from s3prl_crosscorpus.core.manifest import prepare
    from s3prl_crosscorpus.demo.synth import synthesize

    prepare(synthesize(tmp_path / "corpora", per_class=2, seed=0, emotion_strength=0.0), tmp_path / "data")
    settings = [f"{EXPERT}.datarc.data_dir='{tmp_path / 'data'}'", f"{EXPERT}.datarc.condition='extended'",
                f"{EXPERT}.datarc.test_corpus=None", f"{EXPERT}.datarc.fold=1", f"{EXPERT}.modelrc.head='linear'",
                "config.optimizer.lr=3.0e-3", "config.runner.total_steps=80", "config.runner.eval_step=20",
                "config.runner.save_step=20"]
    exp = tmp_path / "exp"
    assert main(["run-downstream", "-m", "train", "-u", "fbank_no_cmvn", "-d", "crosscorpus_emotion", "-c",
                 str(config_path("smoke")), "-p", str(exp), "--device", "cpu", "-o", ",,".join(settings)]) == 0
    assert main(["run-downstream", "-m", "evaluate", "-e", str(exp / "dev-best.ckpt"), "-t", "test",
                 "--device", "cpu"]) == 0
    assert "WARNING: degenerate training" in capsys.readouterr().out
    results = load_results(exp / "results")
    assert len(results) == 3 and all(any(w.startswith("degenerate training") for w in r.get("warnings", []))
                                     for r in results)
    assert main(["leaderboard", str(exp / "results")]) == 0
    board = capsys.readouterr().out
    row = next(line for line in board.splitlines() if line.startswith("| FBANK-noCMVN-Linear"))
    assert row.count(" !") == 3  # the three extended cells
    # one training run tested on three corpora: its message once, naming the three places
    note = next(line for line in board.splitlines() if line.startswith("! degenerate training"))
    assert note.endswith(" — " + "; ".join(f"FBANK-noCMVN-Linear extended {corpus} fold 1"
                                           for corpus in ("emodb", "ravdess", "iemocap"))), note
