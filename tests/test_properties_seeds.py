"""Properties of cells with several seeds (GitHub issue 25): per-seed and pooled UARs computed by hand with numpy
from each seed's own rows, written in any order.

A seed's predictions are matched to utterances by id, never by position: every fold file of every seed is
written here in its own random row order, so a result that pairs rows by position gets different numbers.
"""
import random
from typing import Dict, List, Sequence, Tuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.properties import QUICK
from helpers.truth import hand_uar
from s3prl_crosscorpus.core.folds import FOLDS, make_split
from s3prl_crosscorpus.results.cells import collect_cells
from s3prl_crosscorpus.results.schema import make_result
from s3prl_crosscorpus.results.significance import statistics
from s3prl_crosscorpus.results.stats import StatsConfig

CORPUS = "emodb"
SYSTEM = "HuBERT-Linear"
CONFIG = StatsConfig(resamples=200)
#: seed -> fold -> (ids, labels, predictions), in the order the result file lists them.
Runs = Dict[int, Dict[int, Tuple[List[str], List[str], List[str]]]]


@pytest.fixture(scope="module")
def splits(utterances):
    """condition -> fold -> the shared split whose EmoDB test partition both conditions are scored on."""
    return {condition: {fold: make_split(utterances, condition, fold, CORPUS) for fold in FOLDS}
            for condition in ("matched", "extended")}


def draw_runs(splits, labels_of: Dict[str, str], seeds: Sequence[int], accuracy: float, rng: random.Random) -> Runs:
    """Per seed and fold: predictions right with probability ``accuracy``, else mostly 'neu' (so UAR is not
    accuracy), in a row order of the seed's own."""
    runs: Runs = {}
    for seed in seeds:
        for fold, split in splits.items():
            ids = list(split.test)
            rng.shuffle(ids)
            labels = [labels_of[i] for i in ids]
            predicted = [lab if rng.random() < accuracy else rng.choice(["neu", "neu", "sad", "hap"]) for lab in labels]
            runs.setdefault(seed, {})[fold] = (ids, labels, predicted)
    return runs


def results_of(runs: Runs, splits) -> List[dict]:
    """One schema-valid result per seed and fold, rows in the order ``runs`` lists them."""
    return [make_result(system=SYSTEM, family="dnn", features="hubert", head="linear", split=splits[fold],
                        test_corpus=CORPUS, seed=seed, hyperparameters={}, dev_uar=0.5, ids=ids, labels=labels,
                        predictions=predicted, versions={"s3prl_crosscorpus": "test", "python": "3"})
            for seed, folds in runs.items() for fold, (ids, labels, predicted) in folds.items()]


def reordered(results: Sequence[dict], rng: random.Random) -> List[dict]:
    """The same results, every file's prediction rows in another order."""
    out = []
    for result in results:
        rows = list(result["predictions"])
        rng.shuffle(rows)
        out.append(dict(result, predictions=rows))
    return out


def pooled_uar(folds) -> float:
    """UAR in % of one seed's rows of all folds together (each utterance tested once)."""
    labels = [lab for _, labs, _ in folds.values() for lab in labs]
    predicted = [p for _, _, preds in folds.values() for p in preds]
    return 100.0 * hand_uar(labels, predicted)


def only_cell(results: Sequence[dict]) -> dict:
    (cell,) = collect_cells(results)
    (entry,) = statistics([cell], [], CONFIG)["cells"]
    assert entry["available"], entry["reason"]
    return entry


@settings(max_examples=12, **QUICK)
@given(seeds=st.lists(st.integers(0, 99), min_size=2, max_size=3, unique=True), accuracy=st.floats(0.2, 0.95),
       draw=st.integers(0, 2 ** 32 - 1))
def test_each_seeds_pooled_uar_is_that_of_its_own_rows_in_any_order(utterances, splits, seeds, accuracy, draw):
    """For any seeds and any row order of each seed's files: a seed's pooled UAR is that of its own rows (matched
    to utterances by id), the cell's is the mean over seeds; another row order changes no figure."""
    rng = random.Random(draw)
    runs = draw_runs(splits["matched"], {u.id: u.label for u in utterances}, seeds, accuracy, rng)
    results = results_of(runs, splits["matched"])
    entry = only_cell(results)
    per_seed = [pooled_uar(runs[seed]) for seed in seeds]
    assert sorted(entry["per_seed"].values()) == pytest.approx(sorted(per_seed), abs=1e-9)
    assert entry["uar"] == pytest.approx(np.mean(per_seed), abs=1e-9)
    assert only_cell(reordered(results, rng)) == entry


@settings(max_examples=8, **QUICK)
@given(seeds=st.lists(st.integers(0, 99), min_size=2, max_size=2, unique=True),
       accuracy=st.tuples(st.floats(0.2, 0.95), st.floats(0.2, 0.95)), draw=st.integers(0, 2 ** 32 - 1))
def test_paired_difference_is_the_difference_of_the_pooled_uars(utterances, splits, seeds, accuracy, draw):
    """For any pair of cells on the same utterances (two seeds each, rows in any order): B - A equals the difference
    of the two cells' pooled UARs (each the mean over seeds of a seed's own UAR)."""
    rng = random.Random(draw)
    labels_of = {u.id: u.label for u in utterances}
    runs = {condition: draw_runs(splits[condition], labels_of, seeds, acc, rng)
            for condition, acc in zip(("matched", "extended"), accuracy)}
    cells = {c.condition: c for c in collect_cells(results_of(runs["matched"], splits["matched"])
                                                   + results_of(runs["extended"], splits["extended"]))}
    (comparison,) = statistics([], [(cells["matched"], cells["extended"])], CONFIG)["comparisons"]
    assert comparison["available"], comparison["reason"]
    pooled = {condition: np.mean([pooled_uar(runs[condition][seed]) for seed in seeds]) for condition in runs}
    assert comparison["diff"] == pytest.approx(pooled["extended"] - pooled["matched"], abs=1e-9)


@settings(max_examples=15, **QUICK)
@given(seeds=st.lists(st.integers(0, 99), min_size=1, max_size=3, unique=True), accuracy=st.floats(0.2, 0.95),
       draw=st.integers(0, 2 ** 32 - 1))
def test_leaderboard_fold_figures_average_each_seeds_own_fold_uar(utterances, splits, seeds, accuracy, draw):
    """The table's per-fold UAR is the mean over seeds of each seed's fold UAR, and a seed's figure the mean of
    its folds' UARs, each from that seed's own rows."""
    labels_of = {u.id: u.label for u in utterances}
    runs = draw_runs(splits["matched"], labels_of, seeds, accuracy, random.Random(draw))
    (cell,) = collect_cells(results_of(runs, splits["matched"]))
    fold_uar = {seed: {fold: 100.0 * hand_uar(labels, predicted) for fold, (_, labels, predicted) in folds.items()}
                for seed, folds in runs.items()}
    for fold, value in cell.percent("uar").items():
        assert value == pytest.approx(np.mean([fold_uar[seed][fold] for seed in seeds]), abs=1e-9)
    assert sorted(cell.seed_percent("uar").values()) == pytest.approx(
        sorted(np.mean(list(fold_uar[seed].values())) for seed in seeds), abs=1e-9)
