"""``train-cached``: same losses as s3prl's on-the-fly path, and the same results, files and checkpoints."""
from pathlib import Path
from typing import Optional

import numpy as np
import pytest
import torch
import yaml

from s3prl_crosscorpus.cache import extract as ex
from s3prl_crosscorpus.commands.run_downstream import main as run_downstream
from s3prl_crosscorpus.commands.train_cached import main as train_cached
from s3prl_crosscorpus.core.folds import make_split
from s3prl_crosscorpus.core.io_utils import write_jsonl
from helpers.results import load_results
from s3prl_crosscorpus.superb.runner import CacheSource, build_runner


SMOKE = Path(__file__).resolve().parent.parent / "downstream_configs" / "smoke.yaml"
#: fp16 keeps 11 significant bits: each stored value is within 2**-11 (4.9e-4) of the fp32 one, relative.
#: The loss is a smooth function of averages of many such values (layer weighting, projector, pooling),
#: so its relative change is at most of that order (measured: about 6e-6 over the first 12 steps).
#: A real difference is far above it: the negative control, a different layer weighting, moves the
#: loss by more than 10x this bound.
LOSS_RTOL = 2 ** -11


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory) -> str:
    from s3prl_crosscorpus.demo.random_hubert import write_random_hubert

    return str(write_random_hubert(tmp_path_factory.mktemp("upstream") / "tiny_hubert.pt", size="tiny", seed=0))


@pytest.fixture(scope="module")
def cache_dir(data_dir, tiny_ckpt, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cache")
    ex.extract(data_dir, out, "hubert_local", tiny_ckpt, device="cpu", workers=0, quiet=True)
    return out


def runner_argv(expdir: Path, data_dir: Path, ckpt: Optional[str], *overrides: str) -> list:
    """s3prl run_downstream arguments of a smoke-config training; no ``-u/-k`` when ``ckpt`` is None."""
    settings = [f"config.downstream_expert.datarc.data_dir='{data_dir}'", *overrides]
    upstream = ["-u", "hubert_local", "-k", ckpt] if ckpt else []
    return ["-m", "train", *upstream, "-d", "crosscorpus_emotion", "-c", str(SMOKE), "-p", str(expdir),
            "-o", ",,".join(settings), "--device", "cpu", "--seed", "0"]


def on_the_fly_runner(argv):
    """s3prl's own Runner with the upstream computed on the fly, built as run-downstream builds it."""
    return build_runner(argv)[0]


def training_losses(runner) -> list:
    """Train; return the loss of every training forward of the expert (dev evaluations left out)."""
    losses = []

    def keep(module, inputs, loss):
        if inputs[0] == "train":
            losses.append(loss.item())

    handle = runner.downstream.model.register_forward_hook(keep)
    runner.train()
    handle.remove()
    return losses


@pytest.mark.e2e
def test_first_steps_give_the_same_losses_from_the_cache_as_on_the_fly(tmp_path, data_dir, tiny_ckpt, cache_dir):
    # Batches of one utterance (accumulated two per step): on the fly, s3prl pads a batch and HuBERT's
    # group-norm feature encoder then sees the padding, so only unpadded batches are comparable with
    # the per-utterance cache (see CACHE.md). Same seed, same batch order, no dropout in the linear head.
    overrides = ["config.downstream_expert.datarc.train_batch_size=1", "config.runner.gradient_accumulate_steps=2",
                 "config.runner.total_steps=6", "config.runner.log_step=1000", "config.runner.eval_step=6",
                 "config.runner.save_step=1000", "config.downstream_expert.modelrc.head='linear'"]
    fly = on_the_fly_runner(runner_argv(tmp_path / "fly", data_dir, tiny_ckpt, *overrides))
    with torch.no_grad():  # a non-uniform layer weighting, so that every stored layer matters
        fly.featurizer.model.weights.copy_(torch.tensor([1.5, -1.0, 0.5]))
    runs = {}
    for name, weights in (("cached", None), ("control", torch.tensor([0.5, -1.0, 1.5]))):
        runner, _ = build_runner(runner_argv(tmp_path / name, data_dir, tiny_ckpt, *overrides), CacheSource(cache_dir))
        runner.featurizer.model.load_state_dict(fly.featurizer.model.state_dict())
        runner.downstream.model.load_state_dict(fly.downstream.model.state_dict())
        if weights is not None:
            with torch.no_grad():
                runner.featurizer.model.weights.copy_(weights)
        runs[name] = (runner, training_losses(runner))
    fly_losses = training_losses(fly)

    cached_runner, cached_losses = runs["cached"]
    assert len(fly_losses) == len(cached_losses) == 12
    np.testing.assert_allclose(cached_losses, fly_losses, rtol=LOSS_RTOL, atol=0)
    np.testing.assert_allclose(cached_runner.featurizer.model.weights.detach(), fly.featurizer.model.weights.detach(),
                               rtol=LOSS_RTOL, atol=1e-5)
    assert not np.allclose(fly.featurizer.model.weights.detach(), [1.5, -1.0, 0.5])  # the weighting learned
    control = np.asarray(runs["control"][1])
    assert np.max(np.abs(control - fly_losses) / np.abs(fly_losses)) > 10 * LOSS_RTOL


@pytest.fixture(scope="module")
def extended_run(data_dir, tiny_ckpt, cache_dir, tmp_path_factory):
    """`train-cached` on the extended condition of fold 2: one model tested on every corpus."""
    expdir = tmp_path_factory.mktemp("extended")
    argv = ["--cache", str(cache_dir), *runner_argv(expdir, data_dir, None,  # -u/-k come from the cache
            "config.downstream_expert.datarc.condition='extended'", "config.downstream_expert.datarc.test_corpus=None",
            "config.downstream_expert.datarc.fold=2")]
    assert train_cached(argv) == 0
    return expdir


@pytest.mark.e2e
def test_train_cached_writes_schema_valid_results_on_the_shared_folds(extended_run, utterances, cache_dir):
    results = load_results(extended_run / "results")  # validated against the shared schema
    split = make_split(utterances, "extended", 2)
    runner = yaml.safe_load(SMOKE.read_text())["runner"]
    assert sorted(r["test_corpus"] for r in results) == ["emodb", "iemocap", "ravdess"]
    by_id = {u.id: u for u in utterances}
    for result in results:
        ids = [row["id"] for row in result["predictions"]]
        assert ids == [i for i in split.test if by_id[i].corpus == result["test_corpus"]]
        assert result["system"] == "HuBERT-Linear" and result["condition"] == "extended" and result["fold"] == 2
        assert result["sizes"]["train"] == len(split.train) and result["sizes"]["dev"] == len(split.dev)
        assert result["config"]["feature_cache"] == str(cache_dir.resolve())
        assert result["dev"]["step"] > 0 and result["dev"]["step"] % runner["eval_step"] == 0  # chosen on dev UAR
        assert result["hyperparameters"]["upstream"] == "hubert_local"
    predicted = (extended_run / "test_fold2_predict.txt").read_text().split("\n")
    assert [line.split()[0] for line in predicted if line] == list(split.test)
    assert (extended_run / "dev_fold2_truth.txt").exists()


@pytest.mark.e2e
def test_a_cache_trained_checkpoint_runs_on_raw_audio_through_s3prl(extended_run, tmp_path):
    cached = {r["test_corpus"]: r for r in load_results(extended_run / "results")}
    results_dir = tmp_path / "raw_audio_results"
    # Unpadded batches, so that on-the-fly features equal the cached ones (see CACHE.md).
    assert run_downstream(["-m", "evaluate", "-e", str(extended_run / "dev-best.ckpt"), "-t", "test", "--device",
                           "cpu", "-o", f"config.downstream_expert.datarc.eval_batch_size=1,,"
                           f"config.downstream_expert.results_dir='{results_dir}'"]) == 0
    for result in load_results(results_dir):
        reference = cached[result["test_corpus"]]
        assert [r["prediction"] for r in result["predictions"]] == [r["prediction"] for r in reference["predictions"]]
        np.testing.assert_allclose([r["probabilities"] for r in result["predictions"]],
                                   [r["probabilities"] for r in reference["predictions"]], atol=2e-3)


@pytest.mark.e2e
def test_incomplete_cache_or_other_upstream_is_refused(tmp_path, data_dir, utterances, tiny_ckpt, cache_dir, capsys):
    partial_data = tmp_path / "partial"
    write_jsonl(partial_data / "manifest.jsonl", [u.to_dict() for u in utterances if u.corpus != "emodb"][:40])
    ex.extract(partial_data, tmp_path / "partial_cache", "hubert_local", tiny_ckpt, device="cpu", workers=0,
               quiet=True)
    argv = runner_argv(tmp_path / "exp", data_dir, tiny_ckpt)
    assert train_cached(["--cache", str(tmp_path / "partial_cache"), *argv]) == 2
    assert "utterances are not in the cache" in capsys.readouterr().err
    other = [("fbank_no_cmvn" if a == "hubert_local" else a) for a in argv]
    assert train_cached(["--cache", str(cache_dir), *other]) == 2
    assert "the run uses upstream 'fbank_no_cmvn'" in capsys.readouterr().err
