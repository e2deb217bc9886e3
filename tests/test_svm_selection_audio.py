"""SVM selection through the experiment runner on imbalanced, hard synthetic audio (issue 16).

``baseline_svm.run.run`` is run once per search (``kernel``, ``sklearn``; EmoDB matched, fold 1, eGeMAPSv02,
coarse grid) on a corpus where
the grid point with the best dev UAR is not a point with the best dev accuracy. The truth is computed
outside the runner: the fold's ids from ``make_split``, features straight from the ``opensmile`` API on
the wav files, a plain scikit-learn ``StandardScaler + SVC`` per grid point fitted on the train rows, dev
UAR and accuracy with numpy.
"""
import hashlib
from pathlib import Path

import numpy as np
import opensmile
import pytest
import soundfile as sf
from sklearn.model_selection import ParameterGrid
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from baseline_svm.model import grid_values, load_model
from baseline_svm.run import RunConfig, run
from helpers.results import load_results
from helpers.truth import hand_uar
from s3prl_crosscorpus.core.folds import DEFAULT_SEED, make_split
from s3prl_crosscorpus.core.manifest import load_manifest, prepare
from s3prl_crosscorpus.demo.synth import synthesize


#: The data, picked by hand (one try each of a few settings, before this test existed) only because the
#: two metrics disagree on its fold-1 dev set: 20 utterances per speaker (neu 12, hap 4, ang 2, sad 2),
#: emotion cues at 0.3 of full strength, 3x the prosody jitter, seed 1. There the best dev UAR is 0.70
#: (at C=2^11, gamma=2^-11 and C=2^15, gamma=2^-11) and the best dev accuracy 0.8125 (only at C=2^3,
#: gamma=2^-7, whose dev UAR is 0.58). Nothing here was tuned to make the runner pass; the tests assert
#: the disagreement first (test_precondition_best_uar_and_best_accuracy_points_differ).
SYNTH = {"per_class": 1, "seed": 1, "corpora": ("emodb",), "class_counts": {"neu": 12, "hap": 4, "ang": 2, "sad": 2},
         "emotion_strength": 0.3, "prosody_noise": 3.0}
FEATURE_SET, GRID, FOLD = "eGeMAPSv02", "coarse", 1
SEARCHES = ("kernel", "sklearn")


def hand_features(paths) -> np.ndarray:
    """eGeMAPSv02 functionals from the opensmile API on the 16 kHz mono wavs (float32, as the runner feeds)."""
    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.Functionals)
    rows = []
    for path in paths:
        audio, rate = sf.read(str(path), dtype="float32")
        assert rate == 16000 and audio.ndim == 1, path
        rows.append(smile.process_signal(audio, rate).to_numpy().reshape(-1))
    return np.asarray(rows, dtype=np.float32)


def hand_pipeline(C: float, gamma: float) -> Pipeline:
    return Pipeline([("scale", StandardScaler()), ("svm", SVC(kernel="rbf", C=C, gamma=gamma))])


def digest(ids) -> str:
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    """The runner's result and model file per search, and the truth computed by hand on the same data."""
    work = tmp_path_factory.mktemp("svm_selection_audio")
    prepare(synthesize(work / "corpora", **SYNTH), work / "data", progress=False)
    results, models = {}, {}
    for search in SEARCHES:
        run(RunConfig(data_dir=work / "data", out=work / search, feature_set=FEATURE_SET, condition="matched",
                      test_corpus="emodb", folds=(FOLD,), corpora=("emodb",), grid=GRID, n_jobs=1,
                      cache_dir=work / "cache", search=search))
        (results[search],) = load_results(work / search)
        models[search] = load_model(Path(results[search]["config"]["model_file"]))
    utts = load_manifest(work / "data")
    by_id = {u.id: u for u in utts}
    split = make_split(utts, "matched", FOLD, "emodb", ("emodb",), DEFAULT_SEED)
    X = {name: hand_features([by_id[i].path for i in getattr(split, name)]) for name in ("train", "dev", "test")}
    y = {name: np.array([by_id[i].label for i in getattr(split, name)]) for name in ("train", "dev", "test")}
    points = list(ParameterGrid(grid_values(GRID)))  # GridSearchCV's order: C outer, gamma inner
    dev_uar, dev_acc = [], []
    for point in points:
        predicted = hand_pipeline(point["svm__C"], point["svm__gamma"]).fit(X["train"], y["train"]).predict(X["dev"])
        dev_uar.append(hand_uar(y["dev"], predicted))
        dev_acc.append(float(np.mean(predicted == y["dev"])))
    return {"results": results, "models": models, "split": split,
            "X": X, "y": y, "points": points, "dev_uar": np.array(dev_uar), "dev_acc": np.array(dev_acc)}


def best_points(scores: np.ndarray) -> list:
    """Indices of the grid points within 1e-12 of the best score, in grid order."""
    return [k for k in range(len(scores)) if scores[k] >= scores.max() - 1e-12]


def uar_choice(experiment) -> dict:
    """GridSearchCV's rule: the first point (in grid order) of those with the best dev UAR."""
    return experiment["points"][best_points(experiment["dev_uar"])[0]]


@pytest.mark.e2e
def test_precondition_best_uar_and_best_accuracy_points_differ(experiment):
    y_dev = experiment["y"]["dev"]
    assert set(y_dev) == {"neu", "hap", "ang", "sad"}
    assert max(np.unique(y_dev, return_counts=True)[1]) >= 3 * min(np.unique(y_dev, return_counts=True)[1])
    by_uar, by_acc = best_points(experiment["dev_uar"]), best_points(experiment["dev_acc"])
    assert not set(by_uar) & set(by_acc), (by_uar, by_acc)
    # choosing by accuracy would cost dev UAR
    assert experiment["dev_uar"][by_acc].max() < experiment["dev_uar"].max() - 0.05


@pytest.mark.e2e
@pytest.mark.parametrize("search", SEARCHES)
def test_runner_uses_the_shared_split(experiment, search):
    split, result = experiment["split"], experiment["results"][search]
    assert result["config"]["split_sha256"] == {"train": digest(split.train), "dev": digest(split.dev),
                                                "test": digest(split.test)}
    assert [p["id"] for p in result["predictions"]] == list(split.test)
    assert experiment["models"][search]["train_ids"] == list(split.train)
    assert experiment["models"][search]["dev_ids"] == list(split.dev)


@pytest.mark.e2e
@pytest.mark.parametrize("search", SEARCHES)
def test_chosen_point_is_the_dev_uar_argmax(experiment, search):
    result, chosen = experiment["results"][search], uar_choice(experiment)
    hyper = result["hyperparameters"]
    assert hyper["search"] == search
    assert (hyper["log2_C"], hyper["log2_gamma"]) == (round(np.log2(chosen["svm__C"])),
                                                     round(np.log2(chosen["svm__gamma"])))
    assert result["dev"]["uar"] == pytest.approx(experiment["dev_uar"].max(), abs=1e-9)


@pytest.mark.e2e
@pytest.mark.parametrize("search", SEARCHES)
def test_stored_dev_uar_grid_equals_the_hand_dev_uars(experiment, search):
    grid = experiment["results"][search]["config"]["dev_uar_grid"]
    stored = {(row["C"], row["gamma"]): row["dev_uar"] for row in grid}
    hand = {(p["svm__C"], p["svm__gamma"]): u for p, u in zip(experiment["points"], experiment["dev_uar"])}
    assert set(stored) == set(hand)
    for point, value in hand.items():
        assert stored[point] == pytest.approx(value, abs=1e-9), point


@pytest.mark.e2e
@pytest.mark.parametrize("search", SEARCHES)
def test_saved_model_is_fitted_on_the_train_rows_and_predicts_like_the_hand_pipeline(experiment, search):
    X, y, result = experiment["X"], experiment["y"], experiment["results"][search]
    final = experiment["models"][search]["estimator"].pipeline_
    assert final["scale"].n_samples_seen_ == len(experiment["split"].train) == len(X["train"])
    np.testing.assert_allclose(final["scale"].mean_, X["train"].astype(np.float64).mean(axis=0), rtol=1e-4, atol=1e-5)
    svm = final["svm"]
    assert svm.support_.max() < len(X["train"])
    np.testing.assert_allclose(svm.support_vectors_, final["scale"].transform(X["train"])[svm.support_],
                               rtol=1e-4, atol=1e-4)
    chosen = uar_choice(experiment)
    hand = hand_pipeline(chosen["svm__C"], chosen["svm__gamma"]).fit(X["train"], y["train"])
    assert [p["prediction"] for p in result["predictions"]] == hand.predict(X["test"]).tolist()
    assert [p["label"] for p in result["predictions"]] == y["test"].tolist()
