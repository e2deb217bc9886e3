"""N-corpus designs: the transfer condition, its cell names, the matrix view, its statistics and plans."""
import pytest

from helpers.resultgen import write_transfer
from s3prl_crosscorpus.core.folds import (FOLDS, FoldError, condition_label, condition_of, make_split, transfer_rows)
from s3prl_crosscorpus.core.labels import CORPORA
from s3prl_crosscorpus.results.cells import check_table, collect_cells, load_cells
from s3prl_crosscorpus.results.leaderboard import render_markdown, summary
from s3prl_crosscorpus.results.matrix import render_matrices, system_matrix
from s3prl_crosscorpus.results.significance import automatic_pairs, table_statistics
from s3prl_crosscorpus.results.stats import StatsConfig

POOL = ("emodb", "ravdess", "iemocap")


@pytest.mark.parametrize("train, test, name", [
    (("emodb",), "emodb", "matched"), (POOL, "ravdess", "extended"), (("emodb", "iemocap"), "ravdess", "loco"),
    (("emodb",), "ravdess", "transfer"), (("emodb", "ravdess"), "emodb", "transfer")])
def test_condition_of_names_each_train_test_pairing(train, test, name):
    assert condition_of(train, test, POOL) == name


def test_transfer_label_carries_the_training_corpora_and_needs_them():
    assert condition_label("transfer", ("emodb", "ravdess")) == "from-emodb+ravdess"
    assert condition_label("matched", ("emodb",)) == "matched"
    with pytest.raises(FoldError):
        condition_label("transfer", ())


def test_transfer_rows_default_each_corpus_and_the_pool_and_refuse_outsiders():
    assert transfer_rows(POOL) == [("emodb",), ("ravdess",), ("iemocap",), POOL]
    assert transfer_rows(POOL, [["ravdess", "emodb"]]) == [("emodb", "ravdess")]  # table order inside a row
    with pytest.raises(FoldError, match="cremad"):
        transfer_rows(POOL, [["cremad"]])


def test_transfer_split_equals_matched_extended_and_loco_where_they_coincide(utterances):
    for fold in (1, 3):
        diagonal = make_split(utterances, "transfer", fold, "emodb", POOL, train=("emodb",))
        matched = make_split(utterances, "matched", fold, "emodb", POOL)
        assert (diagonal.train, diagonal.dev, diagonal.test) == (matched.train, matched.dev, matched.test)
        whole = make_split(utterances, "transfer", fold, None, POOL, train=POOL)
        extended = make_split(utterances, "extended", fold, None, POOL)
        assert (whole.train, whole.dev, whole.test) == (extended.train, extended.dev, extended.test)
        others = make_split(utterances, "transfer", fold, "ravdess", POOL, train=("emodb", "iemocap"))
        loco = make_split(utterances, "loco", fold, "ravdess", POOL)
        assert (others.train, others.dev, others.test) == (loco.train, loco.dev, loco.test)


def test_transfer_needs_training_corpora_from_the_pool_and_only_transfer_takes_them(utterances):
    with pytest.raises(FoldError, match="training corpora"):
        make_split(utterances, "transfer", 1, None, ("emodb", "ravdess"), train=("iemocap",))
    with pytest.raises(FoldError, match="iemocap is not in it"):  # not silently dropped from the row
        make_split(utterances, "transfer", 1, None, ("emodb", "ravdess"), train=("emodb", "iemocap"))
    with pytest.raises(FoldError, match="only for transfer"):
        make_split(utterances, "matched", 1, "emodb", POOL, train=("emodb",))


def test_results_of_one_transfer_model_are_named_by_their_cell(utterances, tmp_path):
    write_transfer(tmp_path, utterances, [("emodb",)], folds=(1,))
    found = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("fold1.json"))
    assert found == ["GeMAPS-SVM/from-emodb/iemocap/fold1.json", "GeMAPS-SVM/from-emodb/ravdess/fold1.json",
                     "GeMAPS-SVM/matched/emodb/fold1.json"]


def test_two_training_pools_on_one_test_corpus_are_two_cells_not_duplicates(utterances, tmp_path):
    write_transfer(tmp_path, utterances, [("emodb",), ("ravdess",)], folds=(1,))
    cells, _ = load_cells(tmp_path)  # refused before: same system, condition, corpus and fold twice
    keys = {(c.condition, c.corpus) for c in cells}
    assert {("from-emodb", "iemocap"), ("from-ravdess", "iemocap")} <= keys
    assert {c.pool for c in cells if c.corpus == "iemocap"} == {("emodb",), ("ravdess",)}


@pytest.fixture(scope="module")
def matrix_results(utterances, tmp_path_factory):
    results = tmp_path_factory.mktemp("transfer")
    write_transfer(results, utterances, transfer_rows(POOL))
    return results


def test_matrix_rows_are_training_pools_columns_test_corpora_diagonal_matched(matrix_results):
    cells, sha = load_cells(matrix_results)
    matrix = system_matrix(summary(cells, sha), "GeMAPS-SVM")
    assert matrix["rows"] == [["emodb"], ["ravdess"], ["iemocap"], list(POOL)]
    assert matrix["columns"] == list(POOL)
    conditions = [[cell["condition"] for cell in row] for row in matrix["cells"]]
    assert conditions[0] == ["matched", "from-emodb", "from-emodb"]
    assert [conditions[k][k] for k in range(3)] == ["matched"] * 3
    assert conditions[3] == ["extended"] * 3


def test_leaderboard_draws_the_matrix_with_intervals_and_no_paper_figures_for_transfer(matrix_results):
    cells, sha = load_cells(matrix_results)
    table = summary(cells, sha, table_statistics(cells, StatsConfig(resamples=200)))
    text = render_markdown(table)
    assert "Transfer matrix of GeMAPS-SVM" in text
    row = next(line for line in text.splitlines() if line.startswith("| EmoDB+RAVDESS+IEMOCAP"))
    assert row.count("(ext)") == 3 and row.count("[") == 3  # pooled UAR [interval] in every entry
    assert all(c["paper_uar"] is None for c in table["cells"] if c["condition"].startswith("from-"))
    # The main table keeps the paper's columns only: no transfer column.
    assert all(not col["condition"].startswith("from-") for col in table["columns"])
    assert "from-ravdess − matched" in text  # paired test on the same test utterances


def test_every_transfer_cell_is_compared_with_the_matched_cell_of_its_test_corpus(matrix_results):
    cells, _ = load_cells(matrix_results)
    pairs = {(a.condition, b.condition, b.corpus) for a, b in automatic_pairs(cells)}
    assert ("matched", "from-emodb", "ravdess") in pairs and ("matched", "from-iemocap", "emodb") in pairs
    stats = table_statistics(cells, StatsConfig(resamples=200))
    transfer = [c for c in stats["comparisons"] if c["b"]["condition"].startswith("from-")]
    assert len(transfer) == 6 and all(c["available"] for c in transfer)


def test_no_matrix_without_a_transfer_cell(utterances, tmp_path):
    write_transfer(tmp_path, utterances, [POOL], folds=(1,))
    cells, sha = load_cells(tmp_path)
    assert render_matrices(summary(cells, sha)) == ""


def test_svm_plan_has_one_job_per_matrix_row_with_its_cells(tmp_path):
    from s3prl_crosscorpus.study.plan import svm_plan

    plan = svm_plan(tmp_path / "data", tmp_path / "results", ["GeMAPSv01b"], ["transfer"], list(FOLDS), "coarse",
                    POOL, train_pools=[("emodb",), ("emodb", "ravdess")])
    assert [job.name for job in plan.jobs] == ["GeMAPS-SVM.from-emodb.foldall", "GeMAPS-SVM.from-emodb+ravdess.foldall"]
    assert "--train emodb,ravdess" in plan.jobs[1].command


def test_dnn_plan_passes_the_training_corpora_to_the_expert(tmp_path):
    from s3prl_crosscorpus.study.plan import DnnSettings, dnn_overrides, dnn_plan

    settings = DnnSettings(data=tmp_path, results=tmp_path / "r", exp=tmp_path / "e", upstream="hubert",
                           config=tmp_path / "c.yaml", pool=POOL, cache=tmp_path / "cache")
    plan = dnn_plan(settings, ["linear"], ["transfer"], [1], [1337], train_pools=[("iemocap",)])
    (job,) = plan.jobs
    assert "from-iemocap-all" in job.name
    overrides = dnn_overrides(settings, "linear", "transfer", None, 1, "HuBERT-Linear", train=("iemocap",))
    assert "datarc.train_corpora=['iemocap']" in overrides and "datarc.train_corpora" in job.command


def test_dnn_dataset_reads_train_corpora_and_makes_the_transfer_split(data_dir):
    from s3prl_crosscorpus.superb.dataset import DataSettings, load_experiment

    settings = DataSettings.from_config({"data_dir": str(data_dir), "condition": "transfer", "fold": 2,
                                         "train_corpora": "ravdess"})
    split, _ = load_experiment(settings)
    assert split.train_corpora == ("ravdess",) and split.test_corpora == tuple(CORPORA)



def test_plots_draw_one_transfer_matrix_per_system(matrix_results, tmp_path):
    from s3prl_crosscorpus.results.plots import matrix_figure, plot_matrices

    cells, sha = load_cells(matrix_results)
    table = summary(cells, sha, table_statistics(cells, StatsConfig(resamples=200)))
    (png,) = plot_matrices(table, tmp_path)
    assert png.name == "transfer_GeMAPS-SVM.png" and png.stat().st_size > 0
    texts = [t.get_text() for t in matrix_figure(table, "GeMAPS-SVM").axes[0].texts]
    assert len(texts) == 12 and all("\n[" in t for t in texts)  # every entry with its interval


def test_every_registry_corpus_is_shown_by_its_registry_name():
    from s3prl_crosscorpus.core.corpora.registry import REGISTRY
    from s3prl_crosscorpus.core.labels import display_name
    from s3prl_crosscorpus.results.matrix import display

    assert display_name("cremad") == "CREMA-D" and display("msppodcast") == "MSP-Podcast"
    assert all(display_name(name) == info.display for name, info in REGISTRY.items())
    assert display_name("mycorpus") == "mycorpus"
