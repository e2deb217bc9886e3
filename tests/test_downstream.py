"""End to end through ``s3prl-crosscorpus run-downstream`` (s3prl's own runner) on the synthetic corpora.

Upstream: a tiny random HuBERT in s3prl's converted format (``-u hubert_local -k``), or ``fbank_no_cmvn``.
"""
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import pytest
import torch

from s3prl_crosscorpus.commands import main as cli
from s3prl_crosscorpus.core.audio import load_audio
from s3prl_crosscorpus.core.folds import make_split
from s3prl_crosscorpus.core.io_utils import read_json, sha256_file, write_json
from s3prl_crosscorpus.core.labels import CORPORA, LABELS
from s3prl_crosscorpus.core.metrics import uar
from s3prl_crosscorpus.core.names import HEAD_DISPLAY
from s3prl_crosscorpus.demo.random_hubert import write_random_hubert
from helpers.results import load_results
from helpers.truth import hand_uar


SMOKE = Path(__file__).resolve().parent.parent / "downstream_configs" / "smoke.yaml"
#: (condition, test corpus, fold) of the two conditions every head is run in.
CONDITIONS = {"matched": ("matched", "emodb", 2), "extended": ("extended", None, 1)}


@pytest.fixture(scope="module")
def tiny_hubert(tmp_path_factory) -> Path:
    return write_random_hubert(tmp_path_factory.mktemp("upstream") / "tiny_hubert.pt", size="tiny", seed=0)


def override(data_dir: Path, condition: str, test_corpus: Optional[str], fold: int, head: str,
             steps: int = 8, **extra: object) -> str:
    """An s3prl ``-o`` string for the smoke config."""
    fields = {
        "config.downstream_expert.datarc.data_dir": repr(str(data_dir)),
        "config.downstream_expert.datarc.condition": repr(condition),
        "config.downstream_expert.datarc.test_corpus": repr(test_corpus),
        "config.downstream_expert.datarc.fold": fold,
        "config.downstream_expert.modelrc.head": repr(head),
        "config.runner.total_steps": steps, "config.runner.eval_step": steps // 2,
        "config.runner.log_step": steps // 2, "config.runner.save_step": steps // 2, "config.runner.max_keep": 2,
    }
    fields.update({key: value for key, value in extra.items()})
    return ",,".join(f"{key}={value}" for key, value in fields.items())


def run_downstream(*argv: str) -> int:
    return cli.main(["run-downstream", *argv])


def train_and_evaluate(expdir: Path, upstream: List[str], overrides: str, seed: int = 1337) -> None:
    assert run_downstream("-m", "train", *upstream, "-d", "crosscorpus_emotion", "-c", str(SMOKE), "-p", str(expdir),
                          "--device", "cpu", "--seed", str(seed), "-o", overrides) == 0
    assert run_downstream("-m", "evaluate", "-e", str(expdir / "dev-best.ckpt"), "-t", "test",
                          "--device", "cpu") == 0


_RUNS: Dict[Tuple[str, str], Path] = {}


@pytest.fixture(scope="module")
def trained(data_dir, tiny_hubert, tmp_path_factory):
    """(head, condition) -> expdir of a finished train + evaluate run (each run made once)."""
    def get(head: str, condition: str) -> Path:
        if (head, condition) not in _RUNS:
            expdir = tmp_path_factory.mktemp(f"{head}-{condition}")
            train_and_evaluate(expdir, ["-u", "hubert_local", "-k", str(tiny_hubert)],
                               override(data_dir, *CONDITIONS[condition], head))
            _RUNS[head, condition] = expdir
        return _RUNS[head, condition]
    return get


def read_pairs(path: Path) -> List[Tuple[str, str]]:
    return [tuple(line.split()) for line in path.read_text().splitlines()]


@pytest.mark.e2e
@pytest.mark.parametrize("condition", sorted(CONDITIONS))
@pytest.mark.parametrize("head", sorted(HEAD_DISPLAY))
def test_train_and_evaluate_writes_checkpoint_superb_files_and_results(trained, head, condition, utterances,
                                                                       tiny_hubert):
    expdir = trained(head, condition)
    name, test_corpus, fold = CONDITIONS[condition]
    split = make_split(utterances, name, fold, test_corpus)
    labels = {u.id: u.label for u in utterances}

    ckpt = torch.load(expdir / "dev-best.ckpt", map_location="cpu")
    assert ckpt["Args"].downstream == "crosscorpus_emotion" and ckpt["Step"] in (4, 8)
    assert ckpt["Downstream"]["_extra_state"]["step"] == ckpt["Step"]

    predicted = read_pairs(expdir / f"test_fold{fold}_predict.txt")
    truth = read_pairs(expdir / f"test_fold{fold}_truth.txt")
    assert [utt for utt, _ in predicted] == list(split.test) == [utt for utt, _ in truth]
    assert all(label == labels[utt] for utt, label in truth)
    assert {label for _, label in predicted} <= set(LABELS)

    results = load_results(expdir / "results")
    assert sorted(r["test_corpus"] for r in results) == sorted(split.test_corpora)
    for result in results:
        corpus = result["test_corpus"]
        assert Path(result["_path"]) == (expdir / "results" / f"HuBERT-{HEAD_DISPLAY[head]}" / name / corpus
                                         / f"fold{fold}.json")
        assert (result["family"], result["features"], result["head"]) == ("dnn", "hubert_local", head)
        assert result["condition"] == name and result["fold"] == fold
        assert result["train_corpora"] == list(split.train_corpora)
        assert [p["id"] for p in result["predictions"]] == [i for i in split.test if i.startswith(corpus)]
        assert [(p["id"], p["prediction"]) for p in result["predictions"]] == [
            pair for pair in predicted if pair[0].startswith(corpus)]
        assert all(abs(sum(p["probabilities"]) - 1) < 1e-4 for p in result["predictions"])
        assert result["dev"]["step"] == ckpt["Step"] == result["hyperparameters"]["step"]
        assert result["config"]["upstream_ckpt_sha256"] == sha256_file(tiny_hubert)

    log = (expdir / "log.log").read_text()
    assert "dev at step 4: uar" in log and "macro_f1" in log
    if condition == "extended":  # one model, dev and test reported per corpus and overall
        best = f"at step {results[0]['dev']['step']} (the evaluated checkpoint)"  # not the runner's "step 0"
        assert all(f"dev-{c} at step" in log and f"test-{c} {best}" in log for c in CORPORA)


@pytest.mark.e2e
def test_checkpoint_predictor_reproduces_the_evaluated_probabilities(trained, utterances):
    from s3prl_crosscorpus.superb.inference import DnnPredictor

    expdir = trained("cnn_selfatt", "extended")
    predictor = DnnPredictor.from_checkpoint(expdir / "dev-best.ckpt")
    paths = {u.id: u.path for u in utterances}
    result = load_results(expdir / "results")[0]
    rows = result["predictions"][:6]
    probabilities = predictor.predict_proba([load_audio(paths[row["id"]]) for row in rows])
    np.testing.assert_allclose(probabilities, [row["probabilities"] for row in rows], atol=1e-5)
    assert [LABELS[k] for k in probabilities.argmax(axis=1)] == [row["prediction"] for row in rows]


def dev_uar_of(ckpt: Path, split_ids, utterances) -> float:
    """Dev UAR of a checkpoint recomputed outside the runner: its probabilities, argmax, recall by hand."""
    from s3prl_crosscorpus.superb.inference import DnnPredictor

    by_id = {u.id: u for u in utterances}
    probabilities = DnnPredictor.from_checkpoint(ckpt).predict_proba([load_audio(by_id[i].path) for i in split_ids])
    predicted = np.array([LABELS[k] for k in probabilities.argmax(axis=1)])
    truth = np.array([by_id[i].label for i in split_ids])
    return hand_uar(truth, predicted)


@pytest.mark.e2e
@pytest.mark.parametrize("head,condition", [("linear", "matched"), ("cnn_selfatt", "extended")])
def test_dev_best_is_the_step_with_the_best_dev_uar(trained, head, condition, utterances):
    """Dev is evaluated at steps 4 and 8 and both states are saved: dev-best must be the later one only if
    its dev UAR, recomputed here from the states' own predictions, is strictly higher."""
    expdir = trained(head, condition)
    name, test_corpus, fold = CONDITIONS[condition]
    dev = make_split(utterances, name, fold, test_corpus).dev
    at = {step: dev_uar_of(expdir / f"states-{step}.ckpt", dev, utterances) for step in (4, 8)}
    expected = 8 if at[8] > at[4] + 1e-9 else 4
    best = torch.load(expdir / "dev-best.ckpt", map_location="cpu")
    assert best["Step"] == expected, at
    assert best["Downstream"]["_extra_state"]["uar"] == pytest.approx(at[expected], abs=1e-9)


@pytest.mark.e2e
def test_same_seed_gives_the_same_model(trained, data_dir, tiny_hubert, tmp_path):
    first = trained("linear", "matched")
    train_and_evaluate(tmp_path, ["-u", "hubert_local", "-k", str(tiny_hubert)],
                       override(data_dir, *CONDITIONS["matched"], "linear"))
    again, before = load_results(tmp_path / "results")[0], load_results(first / "results")[0]
    assert again["predictions"] == before["predictions"]


@pytest.mark.e2e
def test_runner_inference_mode_on_a_48k_stereo_file(trained, utterances, capsys):
    expdir = trained("transformer", "matched")
    stereo = next(u for u in utterances if u.channels == 2 and u.sample_rate == 48000)
    assert run_downstream("-m", "inference", "-e", str(expdir / "dev-best.ckpt"), "-t", stereo.path,
                          "--device", "cpu") == 0
    name, label, *probabilities = (expdir / "inference.txt").read_text().split("\n")[0].split()
    assert name == Path(stereo.path).stem and label in LABELS
    assert abs(sum(map(float, probabilities)) - 1) < 1e-3


@pytest.mark.e2e
def test_fbank_linear_beats_chance(data_dir, tmp_path):
    """s3prl's plain ``fbank`` normalises each utterance to zero mean (CMVN), so the mean-pooled input of a
    linear head is zero by construction; ``fbank_no_cmvn`` is the same features without that step."""
    overrides = override(data_dir, "extended", None, 1, "linear", steps=80,
                         **{"config.optimizer.lr": 3.0e-3, "config.runner.eval_step": 20})
    train_and_evaluate(tmp_path, ["-u", "fbank_no_cmvn"], overrides)
    results = load_results(tmp_path / "results")
    truth = [p["label"] for r in results for p in r["predictions"]]
    predicted = [p["prediction"] for r in results for p in r["predictions"]]
    assert len(truth) == 72
    assert uar(truth, predicted) >= 0.45  # chance is 0.25; measured 0.57-0.85 over seeds
    assert {r["system"] for r in results} == {"FBANK-noCMVN-Linear"}  # one naming style for every upstream
    assert not any(r.get("warnings") for r in results)  # learning: the degenerate-training guard stays quiet


@pytest.mark.parametrize("case,message", [
    ("unknown corpus", "unknown corpus 'crema'"),
    ("fold 6", "fold 6 does not exist"),
    ("empty training set", "no utterances of"),
    ("manifest missing", "manifest not found"),
    ("fold file changed", "made with fold file sha256"),
    ("no config", "needs a config: pass -c"),
    ("bad head", "unknown head"),
])
def test_bad_configuration_stops_before_training(data_dir, tmp_path, capsys, case, message):
    fields = {"unknown corpus": {"config.downstream_expert.datarc.test_corpus": "'crema'"},
              "fold 6": {"config.downstream_expert.datarc.fold": 6},
              "bad head": {"config.downstream_expert.modelrc.head": "'lstm'"}}.get(case, {})
    data = data_dir
    if case == "manifest missing":
        data = tmp_path / "nowhere"
    elif case in ("fold file changed", "empty training set"):
        data = tmp_path / "data"
        data.mkdir()
        lines = (data_dir / "manifest.jsonl").read_text().splitlines()
        keep = [l for l in lines if case == "fold file changed" or '"corpus": "emodb"' not in l]
        (data / "manifest.jsonl").write_text("\n".join(keep) + "\n")
        meta = read_json(data_dir / "manifest.meta.json")
        meta["manifest_sha256"] = sha256_file(data / "manifest.jsonl")  # the meta describes the edited manifest
        if case == "fold file changed":
            meta["fold_file_sha256"] = "f" * 64
        write_json(data / "manifest.meta.json", meta)
    overrides = override(data, "matched", "emodb", 1, "linear", **fields)
    config = [] if case == "no config" else ["-c", str(SMOKE)]
    # -u hubert would try to download HuBERT: the error must come before the upstream is built
    code = run_downstream("-m", "train", "-u", "hubert", "-d", "crosscorpus_emotion", *config,
                          "-p", str(tmp_path / "exp"), "--device", "cpu", "-o", overrides)
    assert code == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.glob("exp/*.ckpt"))


def test_device_defaults_to_cpu_without_cuda():
    from s3prl_crosscorpus.superb.runner import default_device

    given = ["-m", "train", "--device", "cuda:1"]
    assert default_device(given) == given
    expected = given[:2] + ([] if torch.cuda.is_available() else ["--device", "cpu"])
    assert default_device(given[:2]) == expected


@pytest.mark.e2e
def test_evaluating_a_moved_checkpoint_writes_next_to_it(trained, tmp_path):
    expdir = trained("linear", "matched")
    log_before = (expdir / "log.log").read_text()
    moved = tmp_path / "moved"
    moved.mkdir()
    (moved / "dev-best.ckpt").write_bytes((expdir / "dev-best.ckpt").read_bytes())
    assert run_downstream("-m", "evaluate", "-e", str(moved / "dev-best.ckpt"), "-t", "test", "--device", "cpu") == 0
    assert (moved / "test_fold2_predict.txt").read_text() == (expdir / "test_fold2_predict.txt").read_text()
    [result] = load_results(moved / "results")
    assert result["config"]["expdir"] == str(moved)
    assert (expdir / "log.log").read_text() == log_before  # the recorded folder is left alone
