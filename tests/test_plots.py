"""Plots: confusion matrices summed over folds with row %, and the condition comparison chart."""
import numpy as np
import pytest
from matplotlib.image import imread

from helpers.resultgen import write_results
from s3prl_crosscorpus.commands import plot
from s3prl_crosscorpus.results import plots
from s3prl_crosscorpus.core.folds import fold_file_sha256
from s3prl_crosscorpus.results.cells import load_cells
from s3prl_crosscorpus.results.leaderboard import summary
from s3prl_crosscorpus.results.paper import paper_uar


def texts(ax):
    return [t.get_text() for t in ax.texts]


def test_confusion_figure_shows_counts_and_row_percent():
    cm = np.array([[3, 1, 0, 1], [0, 2, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]])
    fig = plots.confusion_figure(cm, "title")
    ax = fig.axes[0]
    assert "3\n60.0%" in texts(ax) and "1\n20.0%" in texts(ax) and "2\n100.0%" in texts(ax)
    assert texts(ax).count("0\n0.0%") == 1 + 3 + 4  # the empty "ang" row gives 0 %, not a division error
    assert [t.get_text() for t in ax.get_yticklabels()] == ["neu (5)", "hap (2)", "ang (0)", "sad (4)"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["neu", "hap", "ang", "sad"]
    assert ax.images[0].get_array()[0, 0] == pytest.approx(60.0)


@pytest.fixture(scope="module")
def results(tmp_path_factory, utterances):
    out = tmp_path_factory.mktemp("plot_results")
    write_results(out, utterances, systems=("ComParE-SVM", "HuBERT-Linear"), conditions=("matched", "extended"),
                  corpora=("emodb", "iemocap"))
    (out / "HuBERT-Linear" / "extended" / "iemocap" / "fold5.json").unlink()
    return out


def test_plot_command_writes_one_confusion_per_cell_and_the_chart(results, tmp_path, capsys):
    assert plot.main([str(results), "--out", str(tmp_path)]) == 0
    expected = {f"confusion_{s}_{c}_{k}.png" for s in ("ComParE-SVM", "HuBERT-Linear")
                for c in ("matched", "extended") for k in ("emodb", "iemocap")} | {"uar_by_condition.png"}
    assert {p.name for p in tmp_path.iterdir()} == expected
    image = imread(tmp_path / "uar_by_condition.png")
    assert image.shape[0] > 300 and image.shape[1] > 600 and image.std() > 0.05  # drawn, not blank


def test_confusion_of_a_cell_sums_its_folds_and_flags_missing_ones(results, tmp_path):
    cells, _ = load_cells(results)
    incomplete = next(c for c in cells if not c.complete)
    assert (incomplete.system, incomplete.condition, incomplete.corpus) == ("HuBERT-Linear", "extended", "iemocap")
    summed = sum(np.asarray(m["confusion_matrix"]) for m in incomplete.fold_metrics.values())
    assert incomplete.confusion().tolist() == summed.tolist()
    assert "INCOMPLETE" in plots.fold_note(incomplete) and "1, 2, 3, 4 of 5" in plots.fold_note(incomplete)


def test_comparison_chart_bars_are_the_means_with_spread_and_paper_marks(results):
    table = summary(load_cells(results)[0], fold_file_sha256())
    fig = plots.comparison_figure(table)
    emodb, iemocap = fig.axes
    assert (emodb.get_title(), iemocap.get_title()) == ("EmoDB", "IEMOCAP")
    by_key = {(c["system"], c["test_corpus"], c["condition"]): c for c in table["cells"]}
    # Bars are drawn condition by condition, systems in row order.
    expected = [by_key[(s, "iemocap", c)]["metrics"]["uar"]["mean"]
                for c in ("matched", "extended") for s in ("ComParE-SVM", "HuBERT-Linear")]
    bars = iemocap.patches
    assert [b.get_height() for b in bars] == pytest.approx(expected)
    assert [b.get_hatch() for b in bars] == [None, None, None, "//"]  # HuBERT-Linear extended lacks fold 5
    paper_marks = [y for line in iemocap.lines for y in line.get_ydata() if line.get_marker() == "D"]
    assert sorted(np.asarray(paper_marks, dtype=float)[~np.isnan(paper_marks)]) == sorted(
        paper_uar(s, c, "iemocap") for s in ("ComParE-SVM", "HuBERT-Linear") for c in ("matched", "extended"))
