"""DANN: gradient reversal, lambda schedule, config checks, and the corpus information it removes."""
from collections import defaultdict

import numpy as np
import pytest
import torch

from s3prl_crosscorpus.core.labels import LABEL_TO_INDEX
from s3prl_crosscorpus.domain.dann import DannConfigError, DannSettings, dann_lambda, reverse_gradient
from s3prl_crosscorpus.superb.dataset import ConfigError
from s3prl_crosscorpus.superb.expert import DownstreamExpert

from helpers.domain_data import shifted_frames


LR = 1e-2
BATCH = 24
RUNNER = {"total_steps": 150, "gradient_accumulate_steps": 1}


def test_lambda_follows_ganins_schedule_and_reversal_flips_the_gradient():
    values = [dann_lambda(p, 0.5) for p in np.linspace(0, 1, 11)]
    assert values[0] == 0.0 and all(b > a for a, b in zip(values, values[1:]))
    assert values[-1] == pytest.approx(0.5 * (2 / (1 + np.exp(-10)) - 1))
    assert dann_lambda(0.0, 0.3, "constant") == dann_lambda(1.0, 0.3, "constant") == 0.3
    x = torch.randn(4, 3, requires_grad=True)
    (reverse_gradient(x, 0.7) * torch.arange(3.0)).sum().backward()
    torch.testing.assert_close(x.grad, -0.7 * torch.arange(3.0).expand(4, 3))


def test_dann_is_off_by_default_and_bad_sections_are_named():
    assert not DannSettings.from_config(None).enabled and not DannSettings.from_config({}).enabled
    with pytest.raises(DannConfigError, match="schedule"):
        DannSettings.from_config({"enabled": True, "schedule": "linear"})
    with pytest.raises(DannConfigError, match="unknown key"):
        DannSettings.from_config({"enable": True})


def expert(data_dir, tmp_path, dann: bool, condition: str = "extended", seed: int = 0,
           weight: float = 1.0) -> DownstreamExpert:
    config = {"datarc": {"data_dir": str(data_dir), "condition": condition, "test_corpus": None if condition ==
                         "extended" else "emodb", "fold": 1},
              "modelrc": {"projector_dim": 8, "head": "linear",
                          "dann": {"enabled": dann, "weight": weight, "hidden_dim": 32}}}
    return DownstreamExpert(10, 160, config, str(tmp_path), runner=RUNNER, mode="train", seed=seed,
                            upstream="fbank")


def batch_features(utts, rng):
    """Layer 0 of the shifted frames: emotion cue plus a strong per-corpus channel."""
    return [torch.from_numpy(shifted_frames(u, rng)[:, 0].astype(np.float32)) for u in utts]


def train(exp: DownstreamExpert, steps: int, seed: int = 0) -> dict:
    """Training steps as s3prl's runner takes them (expert forward, backward, one optimiser); the records."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    utts = exp.datasets["train"].utterances
    features = batch_features(utts, rng)
    optimizer = torch.optim.Adam(exp.parameters(), lr=LR)
    records = defaultdict(list)
    for _ in range(steps):
        picked = rng.choice(len(utts), BATCH, replace=False)
        loss = exp("train", [features[k] for k in picked], [LABEL_TO_INDEX[utts[k].label] for k in picked],
                   [utts[k].id for k in picked], [utts[k].corpus for k in picked], records)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return records


def thirds(records) -> np.ndarray:
    """Corpus-classifier accuracy on the training batches of each third of training."""
    return np.asarray(records["corpus_correct"], dtype=float).reshape(3, -1).mean(axis=1)


def test_reversal_keeps_the_corpus_classifier_from_reading_the_embedding(data_dir, tmp_path):
    # Negative control: the same corpus classifier with weight 0 (no reversed gradient) learns the corpus.
    control = train(expert(data_dir, tmp_path / "control", dann=True, weight=0.0), RUNNER["total_steps"])
    adversarial = train(expert(data_dir, tmp_path / "dann", dann=True), RUNNER["total_steps"])
    assert len(adversarial["corpus_correct"]) == BATCH * RUNNER["total_steps"]  # every training batch
    assert thirds(control)[-1] > 0.85 and thirds(control)[-1] > thirds(control)[0]
    assert thirds(adversarial)[-1] < thirds(control)[-1] - 0.2
    lambdas = adversarial["dann_lambda"]
    assert lambdas[0] == 0.0 and lambdas[-1] > 0.99 and set(control["dann_lambda"]) == {0.0}


def test_dann_needs_two_training_corpora_and_tags_the_system(data_dir, tmp_path):
    from s3prl_crosscorpus.superb.expert import validate_config

    def config(**datarc):
        return {"runner": {"eval_dataloaders": ["dev"], "total_steps": 1, "eval_step": 1}, "optimizer": {},
                "downstream_expert": {"datarc": {"data_dir": str(data_dir), "test_corpus": "emodb", **datarc},
                                      "modelrc": {"dann": {"enabled": True}}}}

    one_corpus = r"needs two or more training corpora: use it with condition extended, loco or a transfer pool"
    with pytest.raises(ConfigError, match=one_corpus):
        validate_config(config())  # matched
    with pytest.raises(ConfigError, match=one_corpus):
        validate_config(config(condition="transfer", train_corpora="ravdess"))
    assert expert(data_dir, tmp_path, dann=True).system() == "FBANK-Linear_dann"
    assert expert(data_dir, tmp_path, dann=False).system() == "FBANK-Linear"
    plain = expert(data_dir, tmp_path, dann=False)
    assert not hasattr(plain, "corpus_head")
    records = defaultdict(list)
    plain("train", batch_features(plain.datasets["train"].utterances[:4], np.random.default_rng(0)), [0] * 4,
          ["a"] * 4, ["emodb"] * 4, records)
    assert "corpus_correct" not in records and plain._hyperparameters()["dann"]["enabled"] is False


def test_overrides_command_carries_the_domain_variants():
    from s3prl_crosscorpus.commands.overrides import override_string
    from s3prl_crosscorpus.superb.dataset import DataSettings

    text = override_string(["normalisation=speaker", "dann=1", "dann_weight=0.5", "head=cnn_selfatt"])
    config = {}
    for option in text.split(",,"):  # as s3prl's override() applies them
        key, value = option.split("=")
        target = config
        *path, last = key.split(".")[1:]
        for name in path:
            target = target.setdefault(name, {})
        target[last] = eval(value)
    expert = config["downstream_expert"]
    assert DannSettings.from_config(expert["modelrc"]["dann"]) == DannSettings(enabled=True, weight=0.5)
    assert expert["modelrc"]["head"] == "cnn_selfatt"
    assert DataSettings.from_config({"data_dir": "d", **expert["datarc"]}).normalisation == "speaker"
