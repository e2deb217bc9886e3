"""The HTML report: every cell, interval and verdict on the page equals the JSON it came from; the page is
self-contained; verdicts are worded as documented (docs/report.md)."""
import base64
import json
import pytest

from helpers.report_page import Page
from helpers.resultgen import write_results
from s3prl_crosscorpus.commands import report as report_command
from s3prl_crosscorpus.core.io_utils import read_json, write_json
from s3prl_crosscorpus.core.metrics import uar
from s3prl_crosscorpus.report.verdicts import verdict
from s3prl_crosscorpus.results.cells import load_cells
from s3prl_crosscorpus.results.leaderboard import summary
from s3prl_crosscorpus.results.significance import p_text, table_statistics
from s3prl_crosscorpus.results.stats import StatsConfig

EDGE = "chosen gamma on the edge of the coarse grid (gamma=0.125): the best value may lie outside it"
RESAMPLES = 300


@pytest.fixture(scope="module")
def study(tmp_path_factory, utterances, data_dir):
    """Results of two systems (one incomplete cell, one grid-edge warning) and the report made from them."""
    out = tmp_path_factory.mktemp("report")
    results = out / "results"
    write_results(results, utterances, systems=("ComParE-SVM", "HuBERT-Linear"), conditions=("matched", "extended"),
                  corpora=("emodb", "ravdess"))
    (results / "HuBERT-Linear" / "extended" / "ravdess" / "fold5.json").unlink()
    edged = results / "ComParE-SVM" / "matched" / "emodb" / "fold2.json"
    write_json(edged, {**read_json(edged), "warnings": [EDGE]})
    html = out / "report.html"
    assert report_command.main([str(results), "--out", str(html), "--data", str(data_dir),
                                "--resamples", str(RESAMPLES)]) == 0
    page = Page()
    page.feed(html.read_text(encoding="utf-8"))
    cells, sha = load_cells(results)
    stats = table_statistics(cells, StatsConfig(resamples=RESAMPLES), {u.id: u.speaker for u in utterances},
                             "manifest")
    return {"results": results, "html": html, "page": page, "table": summary(cells, sha, stats), "cells": cells}


def test_every_leaderboard_cell_and_interval_equals_the_json(study):
    page, table = study["page"], study["table"]
    intervals = {(c["system"], c["condition"], c["test_corpus"]): c for c in table["statistics"]["cells"]}
    for cell in table["cells"]:
        key = (cell["system"], cell["condition"], cell["test_corpus"])
        shown = page.cells["|".join(key)]
        uar_stats = cell["metrics"]["uar"]
        assert shown["mean"] == f"{uar_stats['mean']:.2f}" and shown["std"] == f"{uar_stats['std']:.2f}"
        entry = intervals[key]
        if entry["available"]:
            assert shown["pooled"] == f"{entry['uar']:.2f}"
            assert shown["ci"] == f"[{entry['ci'][0]:.2f}, {entry['ci'][1]:.2f}]"
        else:
            assert "pooled" not in shown
        assert shown.get("paper") == (None if cell["paper_uar"] is None else f"{cell['paper_uar']:.2f}")
        if cell["diff_uar"] is not None:
            assert shown["diff"] == f"{cell['diff_uar']:+.2f}".replace("-", "−")
        assert ("*" in shown.get("mark", "")) == (not cell["complete"])
    assert "!" in page.cells["ComParE-SVM|matched|emodb"]["mark"]
    assert len(page.cells) == len(table["rows"]) * len(table["columns"])


def test_every_verdict_states_the_json_figures_and_its_conclusion(study):
    page, stats = study["page"], study["table"]["statistics"]
    assert len(page.verdicts) == len(stats["comparisons"]) == 4
    for entry in stats["comparisons"]:
        text = next(v for name, v in page.verdicts.items()
                    if name.startswith(entry["a"]["system"]) and entry["test_corpus"].upper()[:4] in name.upper())
        if not entry["available"]:
            assert "not computed" in text and entry["reason"].split(":")[0] in text
            continue
        sign = lambda v: f"{v:+.2f}".replace("-", "−")
        assert f"{sign(entry['diff'])} points [{sign(entry['ci'][0])}, {sign(entry['ci'][1])}]" in text
        assert f"{entry['n_speakers']} speakers" in text and f"p = {p_text(entry['p'])}," in text
        assert ("no evidence of a difference" in text) == (not entry["significant"])
    # the incomplete cell's comparison says why it has no figures
    assert any("not computed" in v and "incomplete" in v for v in page.verdicts.values())


def test_verdict_wording_of_the_issue_example():
    entry = {"a": {"system": "ComParE-SVM", "condition": "matched"}, "b": {"system": "ComParE-SVM",
             "condition": "extended"}, "test_corpus": "ravdess", "available": True, "diff": 2.2083,
             "ci": [-0.652, 5.2083], "p": 0.18, "p_holm": 0.359, "significant": False, "n_speakers": 24,
             "exact": False}
    assert verdict(entry, 0.05, 2) == ("ComParE-SVM: extended − matched on RAVDESS: +2.21 points [−0.65, +5.21], "
                                       "p = 0.180, 24 speakers: no evidence of a difference at α = 0.05")
    strong = {**entry, "diff": -6.0, "ci": [-9.0, -3.0], "p": 0.001, "p_holm": 0.002, "significant": True}
    assert verdict(strong, 0.05, 2).endswith("evidence of a difference at α = 0.05: extended is lower "
                                             "(Holm p = 2.00e-03 over 2 comparison(s))")
    corrected = {**entry, "p": 0.03, "p_holm": 0.06}
    assert "after Holm's correction over 2 comparison(s) (Holm p = 0.060; uncorrected p ≤ α)" in \
        verdict(corrected, 0.05, 2)
    few = {**entry, "n_speakers": 4, "exact": True, "p": 0.125, "p_holm": 0.25}
    assert "with 4 speakers the smallest possible p is 0.125" in verdict(few, 0.05, 2)


def test_page_is_self_contained_with_png_data_uris(study):
    page = study["page"]
    assert not page.external
    assert len(page.images) == 1 + 1 + len(study["cells"])  # chart, forest plot, one confusion matrix per cell
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"


def test_embedded_json_is_the_leaderboard_summary(study):
    embedded = json.loads(study["page"].scripts[0])
    for ours, theirs in zip(embedded["cells"], study["table"]["cells"]):
        assert ours == json.loads(json.dumps(theirs))
    assert embedded["statistics"]["family"] == study["table"]["statistics"]["family"]


def test_gender_and_speaker_breakdowns_equal_the_predictions(study, utterances):
    gender_of = {u.id: u.gender for u in utterances}
    speaker_of = {u.id: u.speaker for u in utterances}
    page = study["page"]
    for cell in study["cells"]:
        rows = [r for result in cell.runs[cell.seeds[0]].values() for r in result["predictions"]]
        key = f"{cell.system}|{cell.condition}|{cell.corpus}"
        for code, name in (("F", "female"), ("M", "male")):
            mine = [r for r in rows if gender_of[r["id"]] == code]
            expected = 100 * uar([r["label"] for r in mine], [r["prediction"] for r in mine])
            assert page.gender[(key, name)].startswith(f"{expected:.2f} (n={len(mine)})")
        for speaker in {speaker_of[r["id"]] for r in rows}:
            mine = [r for r in rows if speaker_of[r["id"]] == speaker]
            assert page.speaker[(key, speaker)] == f"{100 * uar([r['label'] for r in mine], [r['prediction'] for r in mine]):.2f}"


def test_warnings_and_provenance_are_on_the_page(study):
    text = "".join(study["page"].text)
    assert EDGE in text and "grid edge" in text
    record = read_json(study["results"] / "ComParE-SVM" / "matched" / "emodb" / "fold1.json")["provenance"]
    assert record["package_version"] in text and record["python"] in text
    assert "s3prl-crosscorpus report" in text  # the report's own command line


def test_report_of_a_folder_without_results_is_one_error_line(tmp_path, capsys):
    assert report_command.main([str(tmp_path / "nothing"), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "nothing" in err
    assert not (tmp_path / "r.html").exists()


def test_probe_rows_are_shown_in_percent(study, tmp_path):
    probe = tmp_path / "probe.json"
    write_json(probe, {"rows": [{"source": "layer 3", "norm": "corpus", "uar": 0.41667, "std": 0.0328,
                                 "per_fold": [0.4] * 5, "chance": 1 / 3, "transductive": True, "target": "corpus"}]})
    html = tmp_path / "r.html"
    assert report_command.main([str(study["results"]), "--out", str(html), "--probe", str(probe),
                                "--resamples", "50"]) == 0
    page = Page()
    page.feed(html.read_text(encoding="utf-8"))
    text = " ".join(" ".join(page.text).split())
    assert "layer 3 corpus corpus 41.67 ± 3.28 33.33 yes" in text


def test_per_corpus_breakdown_equals_the_pooled_predictions(study):
    from sklearn.metrics import f1_score, recall_score

    for cell in study["cells"]:
        rows = [r for result in cell.runs[cell.seeds[0]].values() for r in result["predictions"]]
        labels, predicted = [r["label"] for r in rows], [r["prediction"] for r in rows]
        key = f"{cell.system}|{cell.condition}|{cell.corpus}"
        shown = study["page"].metric
        assert shown[(key, "uar")] == f"{100 * uar(labels, predicted):.2f}"
        assert shown[(key, "wa")] == f"{100 * sum(a == b for a, b in zip(labels, predicted)) / len(rows):.2f}"
        assert shown[(key, "macro_f1")] == f"{100 * f1_score(labels, predicted, average='macro'):.2f}"
        for lab in ("neu", "hap", "ang", "sad"):
            recall = recall_score(labels, predicted, labels=[lab], average="macro", zero_division=0)
            assert shown[(key, f"recall_{lab}")] == f"{100 * recall:.2f}"
