"""Statistics of result folders: leaderboard --stats, compare, several seeds, speakers, the chart's intervals."""
import csv
import io
import json
import shutil

import numpy as np
import pytest

from helpers.resultgen import write_results
from s3prl_crosscorpus.commands import compare, leaderboard
from s3prl_crosscorpus.core.io_utils import read_json, write_json
from s3prl_crosscorpus.core.labels import LABELS
from s3prl_crosscorpus.results import plots
from s3prl_crosscorpus.results.cells import LeaderboardError, collect_cells, load_cells
from s3prl_crosscorpus.results.leaderboard import summary
from s3prl_crosscorpus.results.significance import prepare, table_statistics
from s3prl_crosscorpus.results.speakers import speaker_from_id
from s3prl_crosscorpus.results.stats import StatsConfig

# Synthetic corpora: EmoDB and IEMOCAP have 10 speakers (exact test, floor 2/2^10), RAVDESS 24 (10000 random swaps).
FLOOR = {"emodb": 2 / 1024, "ravdess": 1 / 10_001, "iemocap": 2 / 1024}


def wrong(system, fold, labels, rng):
    return [LABELS[(LABELS.index(lab) + 1) % len(LABELS)] for lab in labels]


def right(system, fold, labels, rng):
    return list(labels)


def some_right(system, fold, labels, rng):
    """The same predictions whatever the condition: two thirds right, the rest 'neu'."""
    return [lab if k % 3 else "neu" for k, lab in enumerate(labels)]


@pytest.fixture(scope="module")
def results(tmp_path_factory, utterances):
    """HuBERT-Linear: every prediction wrong when matched, right when extended. ComParE-SVM: the same either way."""
    out = tmp_path_factory.mktemp("stats_results")
    write_results(out, utterances, systems=("HuBERT-Linear",), conditions=("matched",), predictor=wrong)
    write_results(out, utterances, systems=("HuBERT-Linear",), conditions=("extended",), predictor=right)
    write_results(out, utterances, systems=("ComParE-SVM",), predictor=some_right)
    return out


def run_json(module, args, capsys):
    assert module.main(args) == 0
    return json.loads(capsys.readouterr().out)


def by_system(statistics):
    return {(c["a"]["system"], c["test_corpus"]): c for c in statistics["comparisons"]}


def test_leaderboard_stats_marks_only_the_differences_that_survive_holm(results, capsys):
    table = run_json(leaderboard, [str(results), "--stats", "--format", "json"], capsys)
    stats = table["statistics"]
    assert stats["family_size"] == 6 and stats["method"]["resamples"] == 10_000
    found = by_system(stats)
    for corpus, floor in FLOOR.items():
        better = found[("HuBERT-Linear", corpus)]
        assert better["diff"] == pytest.approx(100.0) and better["p"] == pytest.approx(floor)
        assert better["exact"] is (corpus != "ravdess") and better["significant"]
        same = found[("ComParE-SVM", corpus)]
        assert same["diff"] == 0 and same["p"] == 1.0 and not same["significant"]
        assert same["wilcoxon_folds"]["p"] == 1.0
    # Holm by hand: p sorted RAVDESS 1/10001 (x6), EmoDB and IEMOCAP 2/1024 (x5, x4 -> 5), then 1, 1, 1.
    assert found[("HuBERT-Linear", "ravdess")]["p_holm"] == pytest.approx(6 / 10_001)
    assert found[("HuBERT-Linear", "iemocap")]["p_holm"] == pytest.approx(5 * 2 / 1024)
    assert found[("ComParE-SVM", "emodb")]["paper_diff"] == pytest.approx(83.53 - 82.50)
    assert found[("HuBERT-Linear", "emodb")]["paper_diff"] is None  # the paper has no EmoDB DNN figures
    cell = next(c for c in stats["cells"] if (c["system"], c["condition"], c["test_corpus"])
                == ("HuBERT-Linear", "extended", "iemocap"))
    assert cell["uar"] == 100.0 and cell["n_speakers"] == 10 and cell["speaker_sources"] == ["result file"]

    assert leaderboard.main([str(results), "--stats"]) == 0
    md = capsys.readouterr().out
    rows = {tuple(part.strip() for part in line.strip("|").split("|")[:3]): line for line in md.splitlines()
            if "− matched" in line}
    assert "+100.00* [+100.00, +100.00]" in rows[("HuBERT-Linear", "RAVDESS", "extended − matched")]
    assert "+0.00 [+0.00, +0.00]" in rows[("ComParE-SVM", "IEMOCAP", "extended − matched")]
    assert "Holm's correction across the 6 comparison(s)" in md and "10000 bootstrap resamples of speakers" in md
    assert "100.00 [100.00, 100.00]" in md  # the interval grid


@pytest.fixture(scope="module")
def noisy_results(tmp_path_factory, utterances):
    """HuBERT-Linear on RAVDESS, each label kept with probability 0.7 (speakers differ, so intervals have width)."""
    out = tmp_path_factory.mktemp("noisy_results")
    write_results(out, utterances, systems=("HuBERT-Linear",), corpora=("ravdess",))
    return out


def test_stats_are_deterministic_and_follow_the_seed(noisy_results, capsys):
    args = [str(noisy_results), "--stats", "--format", "json"]
    first = run_json(leaderboard, args, capsys)
    assert run_json(leaderboard, args, capsys) == first
    other = run_json(leaderboard, args + ["--seed", "1"], capsys)
    figures = lambda t, key: [c[key] for c in t["statistics"]["cells"] + t["statistics"]["comparisons"]]
    assert figures(first, "ci") != figures(other, "ci") and figures(first, "ci")[0][0] < figures(first, "ci")[0][1]
    assert [c["uar"] for c in first["statistics"]["cells"]] == [c["uar"] for c in other["statistics"]["cells"]]


def test_a_cells_numbers_do_not_depend_on_the_rest_of_the_table(results):
    cells, _ = load_cells(results)
    alone = [c for c in cells if c.system == "ComParE-SVM" and c.corpus == "ravdess"]
    whole = table_statistics(cells, StatsConfig(resamples=500))
    part = table_statistics(alone, StatsConfig(resamples=500))
    pick = lambda t: next(c for c in t["cells"] if (c["system"], c["test_corpus"], c["condition"])
                          == ("ComParE-SVM", "ravdess", "matched"))
    assert pick(whole) == pick(part)


def test_csv_carries_the_interval_and_the_comparison_with_matched(results, capsys):
    assert leaderboard.main([str(results), "--stats", "--format", "csv"]) == 0
    rows = {(r["system"], r["condition"], r["test_corpus"]): r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    extended = rows[("HuBERT-Linear", "extended", "iemocap")]
    assert float(extended["pooled_uar"]) == 100.0 and float(extended["vs_matched_diff"]) == 100.0
    assert extended["vs_matched_significant"] == "True" and float(extended["vs_matched_p"]) == pytest.approx(2 / 1024)
    assert rows[("HuBERT-Linear", "matched", "iemocap")]["vs_matched_p"] == ""


def test_stats_with_another_metric_is_refused(results, capsys):
    with pytest.raises(SystemExit) as err:
        leaderboard.main([str(results), "--stats", "--metric", "wa"])
    assert err.value.code == 2 and "--stats tests UAR" in capsys.readouterr().err


def test_compare_two_systems_per_condition_and_corpus(results, capsys):
    found = run_json(compare, [str(results), "ComParE-SVM", "HuBERT-Linear", "--format", "json"], capsys)
    pairs = [(c["test_corpus"], c["a"]["condition"], c["b"]["condition"]) for c in found["comparisons"]]
    assert pairs == [(k, c, c) for k in ("emodb", "ravdess", "iemocap") for c in ("matched", "extended")]
    assert found["family_size"] == 6 and {c["system"] for c in found["cells"]} == {"ComParE-SVM", "HuBERT-Linear"}
    one = run_json(compare, [str(results), "HuBERT-Linear/matched", "HuBERT-Linear/extended", "--corpus", "iemocap",
                             "--format", "json"], capsys)
    (only,) = one["comparisons"]
    assert only["diff"] == pytest.approx(100.0) and only["p"] == only["p_holm"] == pytest.approx(2 / 1024)
    assert compare.main([str(results), "HuBERT-Linear/matched", "HuBERT-Linear/extended", "--corpus", "iemocap"]) == 0
    md = capsys.readouterr().out
    assert "+100.00* [+100.00, +100.00]" in md and "0.00 [0.00, 0.00]" in md and "1.95e-03" in md


def test_a_condition_on_one_side_applies_to_both_and_corpora_one_side_lacks_are_left_out(tmp_path, utterances, capsys):
    """``A/matched B``: B is taken in the same condition only; a corpus where one side has no results gives no pair."""
    write_results(tmp_path, utterances, systems=("ComParE-SVM",), predictor=some_right)
    write_results(tmp_path, utterances, systems=("HuBERT-Linear",), corpora=("iemocap",), predictor=right)
    found = run_json(compare, [str(tmp_path), "ComParE-SVM/matched", "HuBERT-Linear", "--format", "json"], capsys)
    assert [(c["test_corpus"], c["a"]["condition"], c["b"]["condition"]) for c in found["comparisons"]] == [
        ("iemocap", "matched", "matched")]
    assert found["family_size"] == 1


def test_compare_names_what_is_missing(results, capsys):
    assert compare.main([str(results), "Nope", "HuBERT-Linear"]) == 2
    assert "no results of system 'Nope'" in capsys.readouterr().err
    assert compare.main([str(results), "HuBERT-Linear/loco", "ComParE-SVM"]) == 2
    assert "no results on a common corpus and condition" in capsys.readouterr().err


def test_results_record_the_manifests_speakers(results, utterances):
    speaker = {u.id: u.speaker for u in utterances}
    rows = [row for path in results.rglob("fold*.json") for row in read_json(path)["predictions"]]
    assert rows and all(row["speaker"] == speaker[row["id"]] for row in rows)
    assert speaker_from_id("emodb", "emodb_03a01Fa") == speaker_from_id("emodb", "03a01Fa") == "03"
    assert speaker_from_id("ravdess", "ravdess_03-01-05-01-01-01-12") == "Actor_12"
    assert speaker_from_id("iemocap", "iemocap_Ses01F_impro01_M003") == "Ses01M"
    assert speaker_from_id("iemocap", "iemocap_00001") is None and speaker_from_id("emodb", "99a01Fa") is None


def fake(fold, ids, labels, predictions, system="X-DNN", condition="matched"):
    return {"system": system, "family": "dnn", "condition": condition, "test_corpus": "iemocap", "fold": fold,
            "seed": 0, "fold_file_sha256": "0" * 64, "metrics": {},
            "predictions": [{"id": i, "label": y, "prediction": p} for i, y, p in zip(ids, labels, predictions)]}


def test_unknown_speakers_are_named_and_a_manifest_supplies_them():
    ids = [f"utt{k}" for k in range(20)]
    labels = [LABELS[k % 4] for k in range(20)]
    results = [fake(fold, ids[4 * (fold - 1): 4 * fold], labels[:4], labels[:4]) for fold in range(1, 6)]
    (cell,) = collect_cells(results, [f"r/fold{k}.json" for k in range(1, 6)])
    missing = prepare(cell)
    assert missing.counts is None and "r/fold1.json" in missing.reason and "utt0" in missing.reason
    assert "--data" in missing.reason
    found = prepare(cell, {utt: f"spk{k % 5}" for k, utt in enumerate(ids)}, "manifest")
    assert found.counts.support.sum() == 20 and found.speaker_sources == ["manifest"]
    assert len(found.counts.speakers) == 5


def test_data_option_takes_speakers_from_the_manifest(results, tmp_path, data_dir, capsys):
    stripped = tmp_path / "results"
    shutil.copytree(results, stripped)
    for path in stripped.rglob("fold*.json"):
        result = read_json(path)
        for row in result["predictions"]:
            del row["speaker"]
        write_json(path, result)
    table = run_json(leaderboard, [str(stripped), "--stats", "--format", "json"], capsys)
    assert {s for c in table["statistics"]["cells"] for s in c["speaker_sources"]} == {"utterance id"}
    with_data = run_json(leaderboard, [str(stripped), "--stats", "--format", "json", "--data", str(data_dir)], capsys)
    assert {s for c in with_data["statistics"]["cells"] for s in c["speaker_sources"]} == {"manifest"}
    strip = lambda t: [{k: v for k, v in c.items() if k != "speaker_sources"} for c in t["statistics"]["cells"]]
    assert strip(table) == strip(with_data)  # the same speakers, whichever way they were found


@pytest.fixture(scope="module")
def two_seeds(tmp_path_factory, utterances):
    """HuBERT-Linear matched and extended on IEMOCAP with seeds 0 and 1, each seed in its own folder."""
    out = tmp_path_factory.mktemp("seeds")
    for seed in (0, 1):
        write_results(out / f"seed{seed}", utterances, systems=("HuBERT-Linear",), corpora=("iemocap",), seed=seed)
    return out


def test_several_seeds_report_mean_and_spread_across_seeds(two_seeds, capsys):
    table = run_json(leaderboard, [str(two_seeds), "--stats", "--format", "json"], capsys)
    cell = next(c for c in table["cells"] if c["condition"] == "matched")
    assert cell["seeds"] == [0, 1] and cell["complete"]
    per_seed = cell["metrics"]["uar"]["per_seed"]
    assert cell["metrics"]["uar"]["mean"] == pytest.approx(np.mean(list(per_seed.values())))
    assert cell["metrics"]["uar"]["seed_std"] == pytest.approx(np.std(list(per_seed.values()), ddof=1))
    stats = next(c for c in table["statistics"]["cells"] if c["condition"] == "matched")
    assert stats["seeds"] == [0, 1] and stats["uar"] == pytest.approx(np.mean(list(stats["per_seed"].values())))
    assert stats["seed_std"] > 0
    assert leaderboard.main([str(two_seeds)]) == 0
    assert "(2 seeds, sd " in capsys.readouterr().out


def test_the_same_seed_twice_is_refused(two_seeds, tmp_path):
    copy = tmp_path / "results"
    shutil.copytree(two_seeds, copy)
    shutil.copytree(copy / "seed0", copy / "again")
    with pytest.raises(LeaderboardError, match="HuBERT-Linear matched iemocap fold 1 seed 0; keep one"):
        load_cells(copy)


def test_chart_draws_the_intervals_and_marks_significant_differences(results):
    cells, sha = load_cells(results)
    table = summary(cells, sha, table_statistics(cells, StatsConfig(resamples=500)))
    fig = plots.comparison_figure(table)
    iemocap = fig.axes[-1]
    assert iemocap.get_title() == "IEMOCAP"
    points = sorted(y for line in iemocap.lines if line.get_marker() == "o" for y in line.get_ydata())
    expected = sorted(c["uar"] for c in table["statistics"]["cells"] if c["test_corpus"] == "iemocap")
    assert points == pytest.approx(expected)
    assert [t.get_text() for t in iemocap.texts] == ["*"]  # HuBERT-Linear extended vs matched only
    plain = plots.comparison_figure(summary(cells, sha))
    assert not any(line.get_marker() == "o" for line in plain.axes[-1].lines) and not plain.axes[-1].texts
