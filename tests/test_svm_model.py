"""The SVM estimator: grid, exact kernel search vs GridSearchCV, selection, refit, model files."""
import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import StratifiedKFold

from baseline_svm.model import (GRIDS, ModelError, SVMEmotionClassifier, build_pipeline, grid_values,
                                group_cv_splits, labels_and_probabilities, load_model, save_model)
from baseline_svm.search import SearchMemoryError, plan_memory
from baseline_svm.search import uar as search_uar
from s3prl_crosscorpus.core.labels import LABELS
from s3prl_crosscorpus.core.metrics import uar
from helpers.svm import functionals_like

#: A grid around the useful gammas of thousands of standardised dimensions (d * gamma ~ 0.01..1).
WIDE = {"log2_C": (-3, -1, 1, 3, 5, 7), "log2_gamma": (-17, -15, -14, -13, -12, -11)}


@pytest.fixture
def wide_grid(monkeypatch):
    monkeypatch.setitem(GRIDS, "wide", WIDE)
    return "wide"


def blobs(n_per_class: int, seed: int, spread: float = 1.0):
    """Four overlapping Gaussian classes in 5 dimensions with a large offset and scale."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0, 0, 0, 0], [2, 0, 0, 0, 0], [0, 2, 0, 0, 0], [0, 0, 2, 0, 0]], dtype=float)
    X = np.concatenate([c + spread * rng.standard_normal((n_per_class, 5)) for c in centres])
    y = np.repeat(np.array(LABELS), n_per_class)
    return 100 + 50 * X, y


def both_searches(X, y, X_dev, y_dev, **params):
    """The same estimator fitted with the kernel search and with GridSearchCV."""
    return [SVMEmotionClassifier(search=s, n_jobs=1, **params).fit(X, y, X_dev=X_dev, y_dev=y_dev)
            for s in ("kernel", "sklearn")]


def test_libsvm_grid_is_powers_of_two_over_the_usual_ranges():
    values = grid_values("libsvm")
    assert values["svm__C"] == [2.0 ** e for e in range(-5, 16, 2)]
    assert values["svm__gamma"] == [2.0 ** e for e in range(-15, 4, 2)]
    coarse = grid_values("coarse")
    assert set(coarse["svm__C"]) <= set(values["svm__C"]) and len(coarse["svm__C"]) < len(values["svm__C"])
    with pytest.raises(ValueError, match="unknown grid"):
        grid_values("fine")


@pytest.mark.parametrize("shape", ["ComParE", "eGeMAPS"])
def test_kernel_search_gives_gridsearchcvs_table_and_choice(shape, wide_grid):
    """Every grid point's dev UAR equals GridSearchCV's to 1e-12 (identical dev predictions)."""
    if shape == "ComParE":  # thousands of dimensions, a few hundred rows
        (X, y), (X_dev, y_dev), grid = functionals_like(180, 2500, 0, 0.2), functionals_like(45, 2500, 1, 0.2), wide_grid
    else:
        (X, y), (X_dev, y_dev), grid = functionals_like(240, 88, 0), functionals_like(60, 88, 1), "libsvm"
    kernel, reference = both_searches(X, y, X_dev, y_dev, grid=grid)
    table = kernel.cv_results_["mean_test_score"]
    assert len(set(table)) >= 8  # a table with structure, not one value everywhere
    assert kernel.cv_results_["params"] == reference.cv_results_["params"]
    np.testing.assert_allclose(table, reference.cv_results_["mean_test_score"], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(kernel.cv_results_["rank_test_score"], reference.cv_results_["rank_test_score"])
    assert kernel.best_params_ == reference.best_params_ and kernel.best_score_ == reference.best_score_


def test_ties_go_to_the_first_point_in_gridsearchcvs_order():
    X, y = blobs(30, seed=1, spread=0.6)
    X_dev, y_dev = blobs(6, seed=2, spread=0.6)
    kernel, reference = both_searches(X, y, X_dev, y_dev, grid="coarse")
    scores = kernel.cv_results_["mean_test_score"]
    best = np.flatnonzero(scores == scores.max())
    assert len(best) > 1  # the case that matters: several points share the best dev UAR
    assert kernel.best_index_ == best[0] == reference.best_index_
    values = grid_values("coarse")  # C outer, gamma inner, as ParameterGrid orders them
    assert kernel.cv_results_["params"] == [{"C": C, "gamma": g} for C in values["svm__C"] for g in values["svm__gamma"]]


def test_each_point_is_scored_by_dev_uar_of_a_model_trained_on_train():
    X, y = blobs(30, seed=1, spread=1.2)
    X_dev, y_dev = blobs(10, seed=2, spread=1.2)
    found = SVMEmotionClassifier(grid="coarse", n_jobs=1).fit(X, y, X_dev=X_dev, y_dev=y_dev)
    results = found.cv_results_
    assert len(results["params"]) == len(GRIDS["coarse"]["log2_C"]) * len(GRIDS["coarse"]["log2_gamma"])
    for params, score in list(zip(results["params"], results["mean_test_score"]))[::7]:
        manual = build_pipeline(params["C"], params["gamma"]).fit(X, y).predict(X_dev)
        assert score == pytest.approx(uar(y_dev, manual))
    assert found.best_score_ == pytest.approx(max(results["mean_test_score"])) and found.best_score_ > 0.5


def test_group_cv_matches_gridsearchcv_with_speaker_disjoint_folds():
    (X, y), (X_dev, y_dev) = functionals_like(200, 62, 0), functionals_like(40, 62, 1)
    speakers = np.array([f"s{k % 9}" for k in range(len(X))])
    speakers_dev = np.array([f"s{k % 9}" for k in range(len(X_dev))])
    groups = {"groups": speakers, "groups_dev": speakers_dev}
    pool = np.concatenate([speakers, speakers_dev])
    for train, val in group_cv_splits(pool, 4):
        assert not set(pool[train]) & set(pool[val])  # no speaker on both sides
    fitted = [SVMEmotionClassifier(search=s, select="group-cv", cv_folds=4, grid="coarse", n_jobs=1)
              .fit(X, y, X_dev=X_dev, y_dev=y_dev, **groups) for s in ("kernel", "sklearn")]
    kernel, reference = fitted
    for k in range(4):
        np.testing.assert_allclose(kernel.cv_results_[f"split{k}_test_score"],
                                   reference.cv_results_[f"split{k}_test_score"], rtol=0, atol=1e-12)
    assert kernel.best_params_ == reference.best_params_ and kernel.n_splits_ == 4
    # The chosen point is refitted on the training rows only, as with dev selection.
    np.testing.assert_allclose(kernel.pipeline_["scale"].mean_, X.astype(np.float64).mean(axis=0), rtol=1e-6)
    with pytest.raises(ModelError, match="at least 12 speakers .* found 9"):
        SVMEmotionClassifier(select="group-cv", cv_folds=12).fit(X, y, X_dev=X_dev, y_dev=y_dev, **groups)
    with pytest.raises(ValueError, match="needs groups"):
        SVMEmotionClassifier(select="group-cv").fit(X, y)


def test_final_model_is_the_old_pipeline_refitted_on_training_rows():
    X_train, y_train = blobs(25, seed=3)
    X_dev, y_dev = blobs(8, seed=6)
    model = SVMEmotionClassifier(grid="coarse", n_jobs=1).fit(X_train, y_train, X_dev=X_dev, y_dev=y_dev)
    C, gamma = model.best_params_["C"], model.best_params_["gamma"]
    np.testing.assert_allclose(model.pipeline_["scale"].mean_, X_train.mean(axis=0))
    np.testing.assert_allclose(model.pipeline_["scale"].scale_, X_train.std(axis=0))
    assert model.pipeline_["svm"].kernel == "rbf" and (model.pipeline_["svm"].C, model.pipeline_["svm"].gamma) == (C, gamma)
    X_test, _ = blobs(10, seed=4)
    old = CalibratedClassifierCV(build_pipeline(C, gamma), method="sigmoid", cv=StratifiedKFold(5),
                                 ensemble=False).fit(X_train, y_train)
    np.testing.assert_array_equal(model.predict(X_test), old.calibrated_classifiers_[0].estimator.predict(X_test))
    np.testing.assert_allclose(model.predict_proba(X_test), old.predict_proba(X_test), rtol=0, atol=1e-12)
    labels, proba = labels_and_probabilities(model, X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    agree = np.mean([LABELS[int(np.argmax(p))] == lab for p, lab in zip(proba, labels)])
    assert agree > 0.8  # probability columns are in LABELS order


def test_estimator_follows_scikit_learn_conventions():
    params = {"grid": "coarse", "search": "sklearn", "select": "dev", "class_weight": "balanced", "n_jobs": 1}
    estimator = SVMEmotionClassifier(**params)
    assert {k: v for k, v in clone(estimator).get_params().items() if k in params} == params
    with pytest.raises(NotFittedError):
        estimator.predict(np.zeros((1, 5)))
    X, y = blobs(10, seed=5)
    assert estimator.fit(X, y, X_dev=X, y_dev=y) is estimator
    assert not hasattr(clone(estimator), "best_params_")
    for bad, message in (({"search": "fast"}, "unknown search"), ({"select": "test"}, "unknown select"),
                         ({"grid": "fine"}, "unknown grid")):
        with pytest.raises(ValueError, match=message):
            SVMEmotionClassifier(**bad).fit(X, y, X_dev=X, y_dev=y)
    with pytest.raises(ValueError, match="needs X_dev and y_dev"):
        SVMEmotionClassifier().fit(X, y)


def test_search_uar_is_the_metric_uar_exactly():
    rng = np.random.default_rng(0)
    names = np.array(LABELS)
    for _ in range(300):
        n = int(rng.integers(1, 60))
        y_true, y_pred = names[rng.integers(0, rng.integers(1, 5), n)], names[rng.integers(0, 4, n)]
        assert search_uar(y_true, y_pred) == uar(y_true, y_pred)


def test_memory_is_checked_before_allocating():
    with pytest.raises(SearchMemoryError, match=r"40000 training .* n_train\^2 .* 8 bytes = 13.11 GiB per matrix"):
        plan_memory(40000, 4000, 6373, n_jobs=4, limit=8 * 2 ** 30)
    with pytest.warns(RuntimeWarning, match="memory for 2 of 8 parallel workers"):
        assert plan_memory(4000, 400, 6373, n_jobs=8, limit=int(1.2 * 2 ** 30)) == 2
    assert plan_memory(500, 50, 88, n_jobs=8, limit=64 * 2 ** 30) == 8
    X, y = blobs(10, seed=5)
    with pytest.raises(SearchMemoryError, match="is available"):
        SVMEmotionClassifier(memory_limit=10_000).fit(X, y, X_dev=X, y_dev=y)


def test_model_file_holds_the_estimator_and_refuses_foreign_files(tmp_path):
    X_train, y_train = blobs(10, seed=5)
    model = SVMEmotionClassifier(grid="coarse", n_jobs=1).fit(X_train, y_train, X_dev=X_train, y_dev=y_train)
    metadata = {"feature_set": "eGeMAPSv02", "labels": list(LABELS), "normalisation": "global",
                "fold_file_sha256": "0" * 64, "hyperparameters": dict(model.best_params_)}
    loaded = load_model(save_model(tmp_path / "m.skops", model, metadata))
    assert isinstance(loaded["estimator"], SVMEmotionClassifier) and loaded["feature_set"] == "eGeMAPSv02"
    np.testing.assert_array_equal(loaded["estimator"].predict(X_train), model.predict(X_train))
    np.testing.assert_array_equal(loaded["estimator"].predict_proba(X_train), model.predict_proba(X_train))
    (tmp_path / "junk.joblib").write_bytes(b"not a model")
    joblib.dump({"pipeline": model.pipeline_, "calibrator": model.calibrator_, "labels": list(LABELS)},
                tmp_path / "old.joblib")
    joblib.dump(model, tmp_path / "bare.joblib")
    for name, message in (("junk", "junk.joblib: not a readable"), ("old", "old.joblib: .* old format 1"),
                          ("bare", "bare.joblib: not a baseline-svm model"), ("absent", "absent.joblib: .*not found")):
        with pytest.raises(ModelError, match=message):
            load_model(tmp_path / f"{name}.joblib", trust_pickle=True)
    with pytest.raises(ModelError, match="lacks"):
        save_model(tmp_path / "x.skops", model, {"feature_set": "eGeMAPSv02"})
