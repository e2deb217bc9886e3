"""The init seed is part of a result's identity: a cell run with several seeds is one cell with k seeds
everywhere results are keyed (leaderboard, compare, plots, bundle, validate); issue 20, "Studies that cannot finish".

The results below share the dev draw's ``seed`` (0), as ``run.sh --seeds '1337 7'`` writes them.
"""
import json
import zipfile

import numpy as np
import pytest

from helpers.bundles import repack
from helpers.resultgen import write_results
from s3prl_crosscorpus.commands import compare, leaderboard, plot
from s3prl_crosscorpus.core.folds import make_split
from s3prl_crosscorpus.core.io_utils import read_json, write_json
from s3prl_crosscorpus.results.cells import LeaderboardError, load_cells, seed_of
from s3prl_crosscorpus.results.schema import ResultError, make_result, validate_result
from s3prl_crosscorpus.submission.bundle import build_bundle
from s3prl_crosscorpus.submission.format import BUNDLE_INDEX
from s3prl_crosscorpus.submission.validate import validate_bundle

SEEDS = (1337, 7)
CELL = "HuBERT-Linear/matched/iemocap"


def write_seeds(out, utterances, init_seeds=SEEDS):
    """The first seed's results at the top, the others in seed<S>/ (as recipes/run.sh and `study dnn` do)."""
    for k, init_seed in enumerate(init_seeds):
        write_results(out if k == 0 else out / f"seed{init_seed}", utterances, systems=("HuBERT-Linear",),
                      corpora=("iemocap",), seed=0, init_seed=init_seed)
    return out


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory, utterances):
    return write_seeds(tmp_path_factory.mktemp("init-seeds"), utterances)


def run_json(main, args, capsys):
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


def test_make_result_records_the_init_seed_beside_the_dev_draw_seed(utterances):
    split = make_split(utterances, "matched", 1, "emodb")
    labels = [u.label for u in utterances if u.id in set(split.test)]
    ids = [u.id for u in utterances if u.id in set(split.test)]
    common = dict(system="HuBERT-Linear", family="dnn", features="hubert", head="linear", split=split,
                  test_corpus="emodb", seed=0, hyperparameters={}, dev_uar=0.5, ids=ids, labels=labels,
                  predictions=labels)
    result = make_result(**common, init_seed=7)
    assert result["seed"] == 0 and result["init_seed"] == 7 and seed_of(result) == 7
    assert "init_seed" not in make_result(**common)  # optional: SVM results have none
    with pytest.raises(ResultError, match="init_seed"):
        validate_result(dict(result, init_seed="7"))


def test_old_results_keep_their_identity():
    """Written before init_seed: a DNN result by its hyperparameters.init_seed, any other by its seed."""
    assert seed_of({"seed": 0, "hyperparameters": {"init_seed": 1337}}) == 1337
    assert seed_of({"seed": 3, "hyperparameters": {"C": 1.0}}) == 3
    assert seed_of({"seed": 0, "init_seed": 7, "hyperparameters": {"init_seed": 7}}) == 7


def test_two_init_seeds_make_one_cell_with_mean_and_spread(two_seeds, capsys):
    cells, _ = load_cells(two_seeds)
    assert {(c.system, c.condition): tuple(c.seeds) for c in cells} == {
        ("HuBERT-Linear", "matched"): (7, 1337), ("HuBERT-Linear", "extended"): (7, 1337)}
    table = run_json(leaderboard.main, [str(two_seeds), "--stats", "--format", "json"], capsys)
    cell = next(c for c in table["cells"] if c["condition"] == "matched")
    per_seed = cell["metrics"]["uar"]["per_seed"]
    assert set(per_seed) == {"7", "1337"} and cell["complete"]
    assert cell["metrics"]["uar"]["seed_std"] == pytest.approx(np.std(list(per_seed.values()), ddof=1))
    stats = next(c for c in table["statistics"]["cells"] if c["condition"] == "matched")
    assert stats["seeds"] == [7, 1337] and stats["seed_std"] is not None
    assert leaderboard.main([str(two_seeds)]) == 0
    shown = f"(2 seeds, sd {cell['metrics']['uar']['seed_std']:.2f})"
    assert shown in capsys.readouterr().out  # the mean over seeds with the spread across them


def test_the_same_init_seed_twice_is_refused(tmp_path, utterances):
    write_seeds(tmp_path, utterances, (1337,))
    write_results(tmp_path / "again", utterances, systems=("HuBERT-Linear",), corpora=("iemocap",), seed=0,
                  init_seed=1337)
    with pytest.raises(LeaderboardError, match="HuBERT-Linear matched iemocap fold 1 seed 1337; keep one"):
        load_cells(tmp_path)


def test_compare_and_plot_read_a_cell_with_two_init_seeds(two_seeds, tmp_path, capsys):
    found = run_json(compare.main, [str(two_seeds), "HuBERT-Linear/matched", "HuBERT-Linear/extended",
                                    "--format", "json", "--resamples", "200"], capsys)
    assert [c["available"] for c in found["comparisons"]] == [True]
    assert all(c["seeds"] == [7, 1337] for c in found["cells"])
    assert plot.main([str(two_seeds), "--out", str(tmp_path / "plots"), "--no-stats"]) == 0
    assert list((tmp_path / "plots").glob("*.png"))


@pytest.fixture(scope="module")
def seeded_bundle(two_seeds, tmp_path_factory):
    out = tmp_path_factory.mktemp("seed-bundle") / "bundle.zip"
    build_bundle(two_seeds, out, plots=False)
    return out


def test_a_bundle_keeps_each_seed_in_its_folder_and_validates(seeded_bundle, data_dir):
    with zipfile.ZipFile(seeded_bundle) as zf:
        names = set(zf.namelist())
        meta = json.loads(zf.read(BUNDLE_INDEX))
    for seed in SEEDS:
        assert {f"{CELL}/seed{seed}/fold{k}.json" for k in range(1, 6)} <= names
        assert f"{CELL}/seed{seed}/test_fold3_predict.txt" in names
    assert f"{CELL}/fold1.json" not in names
    assert meta["format_version"] == 3
    assert sorted(r["init_seed"] for r in meta["runs"]) == sorted(SEEDS * 10)  # 2 conditions x 5 folds per seed
    found = validate_bundle(seeded_bundle, data_dir=data_dir)
    assert found.ok, found.problems


def test_a_result_in_another_seeds_folder_is_rejected(seeded_bundle, tmp_path):
    def swap(members, meta):
        a, b = f"{CELL}/seed7/fold2.json", f"{CELL}/seed1337/fold2.json"
        members[a], members[b] = members[b], members[a]

    found = validate_bundle(repack(seeded_bundle, tmp_path, swap))
    assert f"{CELL}/seed7/fold2.json: the file's init seed is 1337 but it lies in folder seed7" in found.problems


def test_seed_folders_in_an_older_format_version_are_rejected(seeded_bundle, tmp_path):
    found = validate_bundle(repack(seeded_bundle, tmp_path, lambda m, meta: meta.update(format_version=2)))
    assert any("seed folders need bundle format version 3 (this one is 2)" in p for p in found.problems)


def test_a_seed_missing_a_fold_is_named(seeded_bundle, tmp_path):
    def drop(members, meta):
        for kind in ("fold4.json", "test_fold4_predict.txt", "test_fold4_truth.txt"):
            members.pop(f"{CELL}/seed7/{kind}")

    found = validate_bundle(repack(seeded_bundle, tmp_path, drop))
    assert f"{CELL}/seed7: fold 4 is missing" in found.problems


def test_old_dnn_results_without_init_seed_still_make_one_cell_per_seed(tmp_path, utterances):
    """Results of `run.sh --seeds '1337 7'` written before init_seed existed reach the leaderboard and a bundle."""
    write_seeds(tmp_path / "results", utterances)
    for path in (tmp_path / "results").rglob("fold*.json"):
        result = read_json(path)
        result["hyperparameters"]["init_seed"] = result.pop("init_seed")
        write_json(path, result)
    cells, _ = load_cells(tmp_path / "results")
    assert all(c.seeds == [7, 1337] for c in cells)
    build_bundle(tmp_path / "results", tmp_path / "bundle.zip", plots=False)
    assert validate_bundle(tmp_path / "bundle.zip").ok
