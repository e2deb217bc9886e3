"""Model selection on data where UAR and accuracy disagree (GitHub issue 16).

Every synthetic corpus is class-balanced, where accuracy equals UAR, so a selection rule scored on the
wrong metric would pass every other test. Here the dev sets are imbalanced (30/10/5/5 per class, as
real IEMOCAP is not balanced) and the truth is computed by hand: recall per class with numpy, dev
predictions of each grid point from a plain scikit-learn pipeline, crafted dev records for the DNN.
"""
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from baseline_svm.model import SVMEmotionClassifier, build_pipeline, grid_values
from helpers.truth import hand_accuracy, hand_uar
from s3prl_crosscorpus.superb.expert import BEST_CKPT, DownstreamExpert

LABELS = ("neu", "hap", "ang", "sad")
#: Utterances per class (neu, hap, ang, sad): imbalanced like IEMOCAP's, majority class first.
TRAIN_COUNTS, DEV_COUNTS = (60, 20, 10, 10), (30, 10, 5, 5)
SMOKE = Path(__file__).resolve().parent.parent / "downstream_configs" / "smoke.yaml"


def imbalanced_blobs(counts, seed: int, spread: float = 1.0):
    """Four overlapping Gaussian classes in 5 dimensions (large offset and scale), ``counts`` rows each."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0, 0, 0, 0], [2, 0, 0, 0, 0], [0, 2, 0, 0, 0], [0, 0, 2, 0, 0]], dtype=float)
    X = np.concatenate([c + spread * rng.standard_normal((n, 5)) for c, n in zip(centres, counts)])
    return 100 + 50 * X, np.repeat(np.array(LABELS), counts)


@pytest.fixture(scope="module")
def imbalanced():
    """(train X, y, dev X, y) and per grid point (GridSearchCV order) the dev UAR and accuracy, by hand."""
    X, y = imbalanced_blobs(TRAIN_COUNTS, seed=2)
    X_dev, y_dev = imbalanced_blobs(DEV_COUNTS, seed=102)
    values = grid_values("coarse")
    uars, accuracies = [], []
    for C in values["svm__C"]:
        for gamma in values["svm__gamma"]:
            predicted = build_pipeline(C, gamma).fit(X, y).predict(X_dev)
            uars.append(hand_uar(y_dev, predicted))
            accuracies.append(hand_accuracy(y_dev, predicted))
    return X, y, X_dev, y_dev, np.array(uars), np.array(accuracies)


def test_the_imbalanced_dev_set_separates_uar_from_accuracy(imbalanced):
    *_, uars, accuracies = imbalanced
    by_uar, by_accuracy = int(np.argmax(uars)), int(np.argmax(accuracies))
    assert by_uar != by_accuracy
    assert uars[by_uar] - uars[by_accuracy] > 0.1 and accuracies[by_accuracy] > accuracies[by_uar]


@pytest.mark.parametrize("search", ["kernel", "sklearn"])
def test_svm_search_scores_by_dev_uar_and_picks_the_uar_point(imbalanced, search):
    X, y, X_dev, y_dev, uars, _ = imbalanced
    model = SVMEmotionClassifier(grid="coarse", search=search, n_jobs=1).fit(X, y, X_dev=X_dev, y_dev=y_dev)
    np.testing.assert_allclose(model.cv_results_["mean_test_score"], uars, rtol=0, atol=1e-12)
    values = grid_values("coarse")
    params = [{"C": C, "gamma": g} for C in values["svm__C"] for g in values["svm__gamma"]]
    assert model.best_params_ == params[int(np.argmax(uars))]  # first of the best, in GridSearchCV's order
    assert model.best_score_ == pytest.approx(uars.max())


def test_svm_refits_the_chosen_point_on_the_training_rows_only(imbalanced):
    X, y, X_dev, y_dev, _, _ = imbalanced
    model = SVMEmotionClassifier(grid="coarse", n_jobs=1).fit(X, y, X_dev=X_dev, y_dev=y_dev)
    svm = model.pipeline_["svm"]
    assert svm.shape_fit_ == X.shape and model.pipeline_["scale"].n_samples_seen_ == len(X)
    reference = build_pipeline(model.best_params_["C"], model.best_params_["gamma"]).fit(X, y)
    np.testing.assert_array_equal(model.predict(X_dev), reference.predict(X_dev))


# ---- the DNN's dev-best checkpoint ----------------------------------------------------------------

def crafted_dev(neu_right: int, others_right: tuple) -> dict:
    """Dev records over 30/10/5/5 utterances: ``neu_right`` of neu right (the rest called hap), and for
    hap/ang/sad the given number right (the rest called neu)."""
    truth, predict = [], []
    for label, count in zip(LABELS, DEV_COUNTS):
        right = neu_right if label == "neu" else others_right[LABELS.index(label) - 1]
        wrong = "hap" if label == "neu" else "neu"
        truth += [label] * count
        predict += [label] * right + [wrong] * (count - right)
    n = len(truth)
    return {"loss": [1.0], "id": [f"emodb_u{k:03d}" for k in range(n)], "corpus": ["emodb"] * n,
            "truth": truth, "predict": predict, "probabilities": [[0.25] * 4] * n}


#: Majority-leaning: WA 45/50 = 0.9, UAR (1 + 1 + 0.8 + 0.2) / 4 = 0.75. Its WA is above BALANCED's UAR and
#: BALANCED's WA below its UAR, so comparing any mix of the two metrics picks another checkpoint.
MAJORITY = (30, (10, 4, 1))
#: Balanced: WA 35/50 = 0.7, UAR (0.5 + 1 + 1 + 1) / 4 = 0.875.
BALANCED = (15, (10, 5, 5))


class Logger:
    def __init__(self):
        self.scalars = {}

    def add_scalar(self, tag, value, global_step):
        self.scalars[tag] = value


@pytest.fixture
def expert(data_dir, tmp_path) -> DownstreamExpert:
    config = yaml.safe_load(SMOKE.read_text())
    config["downstream_expert"]["datarc"].update(data_dir=str(data_dir))
    torch.manual_seed(0)
    return DownstreamExpert(6, 320, config["downstream_expert"], str(tmp_path), mode="train", seed=7,
                            upstream="fbank", runner=config["runner"], optimizer=config["optimizer"])


def test_crafted_records_disagree_on_uar_and_accuracy():
    for (neu, others), (uar_, wa) in ((MAJORITY, (0.75, 0.9)), (BALANCED, (0.875, 0.7))):
        records = crafted_dev(neu, others)
        assert hand_uar(records["truth"], records["predict"]) == uar_
        assert hand_accuracy(records["truth"], records["predict"]) == wa


@pytest.mark.parametrize("order", ["majority first", "balanced first"])
def test_dev_best_checkpoint_follows_dev_uar_not_accuracy(expert, order):
    first, second = (MAJORITY, BALANCED) if order == "majority first" else (BALANCED, MAJORITY)
    logger = Logger()
    saved_first = expert.log_records("dev", crafted_dev(*first), logger, 100)
    assert logger.scalars["crosscorpus_emotion/dev-uar"] == pytest.approx(hand_uar(**_pair(first)))
    assert logger.scalars["crosscorpus_emotion/dev-wa"] == pytest.approx(hand_accuracy(**_pair(first)))
    saved_second = expert.log_records("dev", crafted_dev(*second), logger, 200)
    assert saved_first == [BEST_CKPT]
    assert saved_second == ([BEST_CKPT] if order == "majority first" else [])
    assert expert.best["uar"] == 0.875
    assert expert.best["step"] == (200 if order == "majority first" else 100)


def _pair(setting) -> dict:
    records = crafted_dev(*setting)
    return {"y_true": records["truth"], "y_pred": records["predict"]}
