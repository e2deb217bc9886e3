"""The SVM pipeline: the C/gamma grid, selection on the predefined dev set, the final refit."""
import numpy as np
import pytest

from baseline_svm.model import (GRIDS, ModelError, build_pipeline, fit_final, grid_values,
                                load_model, predict, save_model, search)
from s3prl_crosscorpus.core.labels import LABELS
from s3prl_crosscorpus.core.metrics import uar


def blobs(n_per_class: int, seed: int, spread: float = 1.0):
    """Four overlapping Gaussian classes in 5 dimensions with a large offset and scale."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0, 0, 0, 0, 0], [2, 0, 0, 0, 0], [0, 2, 0, 0, 0], [0, 0, 2, 0, 0]], dtype=float)
    X = np.concatenate([c + spread * rng.standard_normal((n_per_class, 5)) for c in centres])
    y = np.repeat(np.array(LABELS), n_per_class)
    return 100 + 50 * X, y


def test_libsvm_grid_is_powers_of_two_over_the_usual_ranges():
    values = grid_values("libsvm")
    assert values["svm__C"] == [2.0 ** e for e in range(-5, 16, 2)]
    assert values["svm__gamma"] == [2.0 ** e for e in range(-15, 4, 2)]
    coarse = grid_values("coarse")
    assert set(coarse["svm__C"]) <= set(values["svm__C"]) and len(coarse["svm__C"]) < len(values["svm__C"])
    with pytest.raises(ValueError, match="unknown grid"):
        grid_values("fine")


def test_search_scores_each_point_by_dev_uar_of_a_model_trained_on_train():
    X_train, y_train = blobs(30, seed=1, spread=1.2)
    X_dev, y_dev = blobs(10, seed=2, spread=1.2)
    found = search(X_train, y_train, X_dev, y_dev, grid="coarse", n_jobs=1)
    assert len(found.table) == len(GRIDS["coarse"]["log2_C"]) * len(GRIDS["coarse"]["log2_gamma"])
    for row in found.table[::7]:
        manual = build_pipeline(row["C"], row["gamma"]).fit(X_train, y_train).predict(X_dev)
        assert row["dev_uar"] == pytest.approx(uar(y_dev, manual))
    assert found.dev_uar == pytest.approx(max(r["dev_uar"] for r in found.table))
    best = [r for r in found.table if (r["C"], r["gamma"]) == (found.C, found.gamma)]
    assert best[0]["dev_uar"] == pytest.approx(found.dev_uar)
    assert found.dev_uar > 0.5


def test_final_model_is_fitted_on_training_rows_only():
    X_train, y_train = blobs(25, seed=3)
    pipeline, calibrator = fit_final(X_train, y_train, C=2.0, gamma=2.0 ** -3)
    np.testing.assert_allclose(pipeline["scale"].mean_, X_train.mean(axis=0))
    np.testing.assert_allclose(pipeline["scale"].scale_, X_train.std(axis=0))
    assert (pipeline["svm"].C, pipeline["svm"].gamma) == (2.0, 2.0 ** -3)
    X_test, _ = blobs(10, seed=4)
    reference = build_pipeline(2.0, 2.0 ** -3).fit(X_train, y_train).predict(X_test)
    labels, proba = predict(pipeline, calibrator, X_test)
    assert labels == list(reference)  # the SVM's decision, as used when choosing on dev
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    agree = np.mean([LABELS[int(np.argmax(p))] == lab for p, lab in zip(proba, labels)])
    assert agree > 0.8  # probability columns are in LABELS order


def test_model_file_round_trip_and_bad_files(tmp_path):
    X_train, y_train = blobs(10, seed=5)
    pipeline, calibrator = fit_final(X_train, y_train, C=1.0, gamma=0.5)
    model = {"pipeline": pipeline, "calibrator": calibrator, "feature_set": "eGeMAPSv02",
             "labels": list(LABELS), "fold_file_sha256": "0" * 64, "hyperparameters": {"C": 1.0}}
    loaded = load_model(save_model(tmp_path / "m.joblib", model))
    assert loaded["pipeline"]["svm"].C == 1.0
    np.testing.assert_array_equal(loaded["pipeline"].predict(X_train), pipeline.predict(X_train))
    (tmp_path / "junk.joblib").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="junk.joblib"):
        load_model(tmp_path / "junk.joblib")
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "absent.joblib")
    with pytest.raises(ModelError, match="lacks"):
        save_model(tmp_path / "x.joblib", {"pipeline": pipeline})
