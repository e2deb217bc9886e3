"""The DownstreamExpert on its own (no upstream): data order, balancing, selection on dev UAR, outputs."""
from pathlib import Path
from types import SimpleNamespace
from typing import List

import pytest
import torch
import yaml
from torch.utils.data import WeightedRandomSampler

from s3prl_crosscorpus.core.labels import LABEL_TO_INDEX, LABELS
from s3prl_crosscorpus.core.names import dnn_system_name
from helpers.results import load_results
from s3prl_crosscorpus.superb import expert as expert_module
from s3prl_crosscorpus.superb.expert import BEST_CKPT, DownstreamExpert, expected_results
from s3prl_crosscorpus.superb.heads import masked_mean, valid_mask

SMOKE = Path(__file__).resolve().parent.parent / "downstream_configs" / "smoke.yaml"
DIM = 6


class Logger:
    """Collects tensorboard scalars."""

    def __init__(self):
        self.scalars = {}

    def add_scalar(self, tag, value, global_step):
        self.scalars[tag] = value


def make_expert(data_dir, tmp_path, mode="train", **datarc) -> DownstreamExpert:
    config = yaml.safe_load(SMOKE.read_text())
    config["downstream_expert"]["datarc"].update(data_dir=str(data_dir), **datarc)
    torch.manual_seed(0)
    return DownstreamExpert(DIM, 320, config["downstream_expert"], str(tmp_path), mode=mode, seed=7,
                            upstream="fbank", runner=config["runner"], optimizer=config["optimizer"])


class Oracle(torch.nn.Module):
    """Stands in for the trained model: the logits are the first four feature dimensions, averaged."""

    def forward(self, features, lengths):
        return 10 * masked_mean(features[..., :len(LABELS)], valid_mask(lengths, features.size(1)))


def oracle_features(labels: List[int]) -> List[torch.Tensor]:
    """Features whose first dimensions spell the label (one-hot), of different lengths."""
    return [torch.nn.functional.one_hot(torch.tensor(label), DIM).float().repeat(3 + label, 1) for label in labels]


def feed(expert, split, records, predict_right=True):
    """One pass of ``split`` through ``forward`` with the oracle in place of the model (no upstream)."""
    model, expert.model = expert.model, Oracle()
    try:
        for wavs, labels, ids, corpora in expert.get_dataloader(split):
            with torch.no_grad():
                expert.forward(split, oracle_features(labels), labels, ids, corpora, records)
    finally:
        expert.model = model
    if not predict_right:
        records["predict"] = [LABELS[0]] * len(records["predict"])


def test_train_order_is_seeded_by_seed_and_epoch(data_dir, tmp_path):
    expert = make_expert(data_dir, tmp_path)
    order = lambda epoch: [i for batch in expert.get_dataloader("train", epoch=epoch) for i in batch[2]]  # noqa
    assert order(0) == order(0) != order(1)
    assert sorted(order(0)) == sorted(expert.split.train)
    dev = [i for batch in expert.get_dataloader("dev") for i in batch[2]]
    assert dev == list(expert.split.dev)
    with pytest.raises(ValueError, match="unknown split"):
        expert.get_dataloader("valid")


def test_balancing_options_and_no_buffers(data_dir, tmp_path):
    plain = make_expert(data_dir, tmp_path)
    assert plain.loss_weights is None and not isinstance(plain.get_dataloader("train").sampler,
                                                         WeightedRandomSampler)
    sampled = make_expert(data_dir, tmp_path, balance="sampler", condition="extended", test_corpus=None)
    assert isinstance(sampled.get_dataloader("train").sampler, WeightedRandomSampler)
    weighted = make_expert(data_dir, tmp_path, balance="loss")
    assert weighted.loss_weights.shape == (len(LABELS),)
    # DDP broadcasts buffers in every forward, also in the leader-only dev evaluation: there must be none
    assert not list(weighted.buffers())


def test_dev_uar_selects_the_checkpoint_and_travels_in_the_state(data_dir, tmp_path):
    expert = make_expert(data_dir, tmp_path, condition="extended", test_corpus=None)
    logger = Logger()
    records = {key: [] for key in ("loss", "id", "corpus", "truth", "predict", "probabilities")}
    feed(expert, "dev", records, predict_right=False)
    assert expert.log_records("dev", records, logger, 100) == [BEST_CKPT]
    assert logger.scalars["crosscorpus_emotion/dev-uar"] == pytest.approx(0.25)
    assert {"crosscorpus_emotion/dev-emodb-uar", "crosscorpus_emotion/dev-ravdess-macro_f1"} <= set(logger.scalars)
    assert expert.log_records("dev", records, logger, 200) == []  # not better
    records = {key: [] for key in records}
    feed(expert, "dev", records)
    assert expert.log_records("dev", records, logger, 300) == [BEST_CKPT]
    assert expert.best["step"] == 300 and expert.best["uar"] == 1.0
    assert set(expert.best["per_corpus"]) == {"emodb", "ravdess", "iemocap"}

    restored = make_expert(data_dir, tmp_path, condition="extended", test_corpus=None)
    restored.load_state_dict(expert.state_dict())
    assert restored.best == expert.best
    truth = (tmp_path / "dev_fold1_truth.txt").read_text().split()
    assert truth[:2] == [expert.split.dev[0], expert.datasets["dev"].utterances[0].label]


def test_time_to_best_of_a_resumed_run_counts_the_seconds_before_the_interruption(data_dir, tmp_path, monkeypatch):
    clock = [1000.0]  # the expert's clock, set by hand
    monkeypatch.setattr(expert_module, "time", SimpleNamespace(time=lambda: clock[0]))
    first = make_expert(data_dir, tmp_path)
    clock[0] = 1100.0
    saved = first.state_dict()  # the states-N.ckpt written after 100 s of training
    clock[0] = 5000.0  # `-e states-N.ckpt` after a downtime
    resumed = make_expert(data_dir, tmp_path)
    resumed.load_state_dict(saved)
    clock[0] = 5030.0  # 30 s after the resume, a better dev score
    records = {key: [] for key in ("loss", "id", "corpus", "truth", "predict", "probabilities")}
    feed(resumed, "dev", records)
    assert resumed.log_records("dev", records, Logger(), 6) == [BEST_CKPT]
    assert resumed.best["train_seconds"] == 100.0 + 30.0  # the downtime is not training time
    assert "seconds_so_far" not in resumed.best  # bookkeeping, not part of the recorded best


def test_evaluating_on_test_writes_one_result_per_corpus(data_dir, tmp_path):
    expert = make_expert(data_dir, tmp_path, mode="evaluate", condition="extended", test_corpus=None,
                         corpora=["emodb", "iemocap"])
    expert.best = {"uar": 0.5, "step": 40, "per_corpus": {"emodb": 0.6, "iemocap": 0.4}, "train_seconds": 3.0}
    records = {key: [] for key in ("loss", "id", "corpus", "truth", "predict", "probabilities")}
    feed(expert, "test", records)
    assert expert.log_records("test", records, Logger(), 0) == []
    results = load_results(tmp_path / "results")
    assert [r["test_corpus"] for r in results] == ["emodb", "iemocap"]
    assert {Path(r["_path"]) for r in results} == set(expected_results(
        str(tmp_path / "results"), "fbank", "linear", "extended", None, ["emodb", "iemocap"], 1))
    for result in results:
        assert result["system"] == dnn_system_name("fbank", "linear") == "FBANK-Linear"
        assert result["metrics"]["uar"] == 1.0 and result["dev"] == {"uar": 0.5, "step": 40,
                                                                     "per_corpus": {"emodb": 0.6, "iemocap": 0.4}}
        assert result["hyperparameters"]["init_seed"] == 7 and result["seed"] == 0
        assert result["init_seed"] == 7  # the run's identity among seeds of its cell
        assert all(LABEL_TO_INDEX[p["label"]] == max(range(4), key=lambda k: p["probabilities"][k])
                   for p in result["predictions"])

    partial = {key: values[:5] for key, values in records.items()}
    with pytest.raises(RuntimeError, match="evaluated 5 test utterances"):
        expert.log_records("test", partial, Logger(), 0)
