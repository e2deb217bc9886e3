"""Results at the edges: one paper-pool rule everywhere, pools named, hand-edited results, compare A A."""
import json

import numpy as np
import pytest

from helpers.resultgen import write_results
from s3prl_crosscorpus.commands import compare, leaderboard
from s3prl_crosscorpus.results import plots
from s3prl_crosscorpus.results.cells import load_cells
from s3prl_crosscorpus.results.leaderboard import render_markdown, summary
from s3prl_crosscorpus.results.paper import comparable, paper_figure, pool_label
from s3prl_crosscorpus.results.significance import render_comparison, table_statistics
from s3prl_crosscorpus.results.stats import StatsConfig

QUICK = StatsConfig(resamples=200)


def two_pool(results_dir, utterances):
    """ComParE-SVM on IEMOCAP: matched, and extended trained on EmoDB+IEMOCAP only (not the paper's pool)."""
    write_results(results_dir, utterances, systems=["ComParE-SVM"], conditions=["matched"], corpora=["iemocap"])
    for path in write_results(results_dir, utterances, systems=["ComParE-SVM"], conditions=["extended"],
                              corpora=["iemocap"]):
        path.write_text(json.dumps(dict(json.loads(path.read_text()), train_corpora=["emodb", "iemocap"])))
    return results_dir


def test_the_pool_rule():
    assert comparable("extended", "iemocap", ["emodb", "ravdess", "iemocap"])
    assert comparable("matched", "emodb", ["emodb"]) and comparable("matched", "emodb", None)
    assert not comparable("extended", "iemocap", ["emodb", "iemocap"])
    assert not comparable("loco", "iemocap", ["emodb", "ravdess"])
    assert paper_figure("ComParE-SVM", "extended", "iemocap", ["emodb", "iemocap"]) is None
    assert paper_figure("ComParE-SVM", "extended", "iemocap", ["iemocap", "emodb", "ravdess"]) == 63.54
    assert pool_label("extended", ["iemocap", "emodb"]) == "trained on emodb+iemocap"
    assert pool_label("extended", ["emodb", "ravdess", "iemocap"]) is None
    assert pool_label("matched", ["emodb"]) is None


def test_paired_differences_show_no_paper_difference_off_the_pool(tmp_path, utterances):
    cells, sha = load_cells(two_pool(tmp_path, utterances))
    stats = table_statistics(cells, QUICK)
    (comparison,) = stats["comparisons"]
    assert comparison["paper_diff"] is None  # the paper's +0.75 is for its three-corpus pool
    assert comparison["b"]["pool"] == "trained on emodb+iemocap"
    text = render_markdown(summary(cells, sha, stats))
    assert "paper B − A" not in text and "+0.75" not in text
    assert "extended (trained on emodb+iemocap) − matched" in text


def test_paired_differences_keep_the_paper_difference_on_the_pool(tmp_path, utterances):
    """Negative control: on the paper's pool the paper's B − A is shown."""
    write_results(tmp_path, utterances, systems=["ComParE-SVM"], corpora=["iemocap"])
    cells, sha = load_cells(tmp_path)
    (comparison,) = table_statistics(cells, QUICK)["comparisons"]
    assert comparison["paper_diff"] == pytest.approx(63.54 - 62.79)


def diamonds(fig):
    """x positions of the paper's diamonds in a comparison figure."""
    return [x for ax in fig.axes for line in ax.get_lines() if line.get_marker() == "D"
            for x, y in zip(line.get_xdata(), line.get_ydata()) if not np.isnan(y)]


def test_plot_draws_no_paper_diamond_on_another_pool_and_names_it(tmp_path, utterances):
    cells, sha = load_cells(two_pool(tmp_path, utterances))
    fig = plots.comparison_figure(summary(cells, sha))
    assert len(diamonds(fig)) == 1  # matched only
    notes = " ".join(t.get_text() for t in fig.texts)
    assert "ComParE-SVM extended IEMOCAP: trained on emodb+iemocap" in notes


def test_loco_and_extended_cells_name_their_pool(tmp_path, utterances, capsys):
    write_results(tmp_path, utterances, systems=["HuBERT-Linear"], conditions=["matched", "loco"], corpora=["iemocap"])
    cells, sha = load_cells(tmp_path)
    table = summary(cells, sha)
    loco = next(c for c in table["cells"] if c["condition"] == "loco")
    assert loco["pool_label"] == "trained on emodb+ravdess"
    assert "(trained on emodb+ravdess)" in render_markdown(table)
    assert compare.main([str(tmp_path), "HuBERT-Linear/matched", "HuBERT-Linear/loco", "--resamples", "200"]) == 0
    assert "loco (trained on emodb+ravdess) − matched" in capsys.readouterr().out
