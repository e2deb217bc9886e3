"""The HTML report of a study beyond the paper: a registry corpus is on every per-corpus section and the
transfer matrix is drawn with the leaderboard's values and intervals."""
import pytest

from helpers.report_page import Page
from helpers.resultgen import write_transfer
from s3prl_crosscorpus.commands import report as report_command
from s3prl_crosscorpus.core.manifest import load_manifest, prepare
from s3prl_crosscorpus.demo.registry_synth import synthesize_registry
from s3prl_crosscorpus.results.cells import load_cells
from s3prl_crosscorpus.results.leaderboard import summary
from s3prl_crosscorpus.results.matrix import interval_of, system_matrix
from s3prl_crosscorpus.results.significance import table_statistics
from s3prl_crosscorpus.results.stats import StatsConfig

POOL = ("emodb", "ravdess", "iemocap", "cremad")
RESAMPLES = 200


@pytest.fixture(scope="module")
def four_corpus_study(synth_roots, tmp_path_factory):
    out = tmp_path_factory.mktemp("report_matrix")
    roots = {**synth_roots, **synthesize_registry(out / "reg", ["cremad"], per_class=1)}
    prepare(roots, out / "data")
    utterances = load_manifest(out / "data")
    write_transfer(out / "results", utterances, [("emodb",), ("cremad",), ("ravdess",), ("iemocap",), POOL],
                   pool=POOL)
    html = out / "report.html"
    assert report_command.main([str(out / "results"), "--out", str(html), "--data", str(out / "data"),
                                "--resamples", str(RESAMPLES)]) == 0
    page = Page()
    page.feed(html.read_text(encoding="utf-8"))
    cells, sha = load_cells(out / "results")
    stats = table_statistics(cells, StatsConfig(resamples=RESAMPLES), {u.id: u.speaker for u in utterances},
                             "manifest")
    return {"page": page, "table": summary(cells, sha, stats)}


@pytest.mark.e2e
def test_report_draws_the_transfer_matrix_with_the_leaderboards_values_and_intervals(four_corpus_study):
    page, table = four_corpus_study["page"], four_corpus_study["table"]
    matrix = system_matrix(table, "GeMAPS-SVM")
    assert page.matrix_headers == [["train \\ test", "EmoDB", "RAVDESS", "IEMOCAP", "CREMA-D"]]
    shown = 0
    for row in matrix["cells"]:
        for cell in row:
            entry = page.entries[f"{cell['system']}|{cell['condition']}|{cell['test_corpus']}"]
            assert entry["mean"] == f"{cell['metrics']['uar']['mean']:.2f}"
            interval = interval_of(table, cell)
            assert entry["pooled"] == f"{interval['uar']:.2f}"
            assert entry["ci"] == f"[{interval['ci'][0]:.2f}, {interval['ci'][1]:.2f}]"
            assert entry.get("tag") == {"matched": None, "extended": "(ext)"}.get(cell["condition"], None)
            shown += 1
    assert shown == len(page.entries) == 5 * 4  # 4 single-corpus rows + the pool, 4 test corpora
    assert "transfer matrix of GeMAPS-SVM" in page.alts


@pytest.mark.e2e
def test_report_breaks_down_a_registry_corpus_like_the_paper_ones(four_corpus_study):
    tested = {key.split("|")[2] for key, _ in four_corpus_study["page"].metric}  # per-corpus breakdown rows
    assert tested == set(POOL)
