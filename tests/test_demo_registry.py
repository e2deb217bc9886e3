"""`demo --registry` (issue 21): registry corpora synthesised in their real layouts, read by their real readers
through `prepare`, join the demo's pool; a test-only corpus is tested only; the default demo is unchanged."""
import json
from pathlib import Path

import pytest

from s3prl_crosscorpus.commands import demo as demo_command
from s3prl_crosscorpus.commands.main import main
from s3prl_crosscorpus.core.corpora import REGISTRY_CORPORA, tess as tess_reader
from s3prl_crosscorpus.core.labels import CORPORA
from s3prl_crosscorpus.demo.registry_synth import TESS_FOLDERS
from s3prl_crosscorpus.demo.run import DemoPoolError, claim_pool, dnn_done, experiments
from s3prl_crosscorpus.results.leaderboard import load_cells, summary


def test_registry_names_are_parsed_like_synth_registry():
    assert demo_command.registry_names("cremad, tess") == ["cremad", "tess"]
    assert demo_command.registry_names("all") == list(REGISTRY_CORPORA)
    assert demo_command.registry_names("") == []
    assert demo_command.build_parser().parse_args([]).registry == ""  # the default demo: the paper's corpora


def test_unknown_registry_corpus_is_one_error_line_naming_the_known_ones(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--registry", "cremad,nosuch", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "nosuch" in lines[0]
    assert all(name in lines[0] for name in REGISTRY_CORPORA)
    assert "Traceback" not in captured.err and not out.exists()  # refused before anything is written


def test_demo_grid_has_no_matched_run_for_a_test_only_corpus():
    grid = experiments([1, 2], matched=("emodb", "cremad"))
    assert [(c, t) for c, t, _ in grid if c == "matched"] == [("matched", "emodb")] * 2 + [("matched", "cremad")] * 2
    assert [(c, t, f) for c, t, f in grid if c == "extended"] == [("extended", None, 1), ("extended", None, 2)]
    assert experiments([1]) == [("matched", c, 1) for c in CORPORA] + [("extended", None, 1)]  # default unchanged


def test_an_extended_dnn_run_is_done_only_when_every_pool_corpus_has_its_result(tmp_path):
    from s3prl_crosscorpus.results.schema import result_path

    for corpus in CORPORA:
        path = result_path(tmp_path, "S", "extended", corpus, 1)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    assert dnn_done(tmp_path, "S", "extended", None, 1)
    assert not dnn_done(tmp_path, "S", "extended", None, 1, pool=(*CORPORA, "tess"))


def test_an_out_folder_keeps_the_pool_its_results_were_made_with(tmp_path):
    (tmp_path / "results").mkdir()  # a demo of today's default: results, no record
    claim_pool(tmp_path, [])
    with pytest.raises(DemoPoolError, match=r"registry corpora none, not \['tess'\]"):
        claim_pool(tmp_path, ["tess"])
    (tmp_path / "results").rmdir()  # results removed: the folder is free for another pool
    claim_pool(tmp_path, ["tess", "cremad"])
    (tmp_path / "results").mkdir()
    claim_pool(tmp_path, ["cremad", "tess"])  # the same pool, in any order
    with pytest.raises(DemoPoolError, match="use another --out"):
        claim_pool(tmp_path, [])


def test_demo_refuses_another_pool_in_the_same_out_with_one_error_line(tmp_path, capsys):
    (tmp_path / "results").mkdir()
    assert main(["demo", "--registry", "tess", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {tmp_path} holds the results of the demo")
    assert not (tmp_path / "corpora").exists()  # refused before synthesis


@pytest.mark.e2e
def test_demo_with_a_test_only_registry_corpus(tmp_path, capsys):
    """Both systems (the DNN for a few steps): TESS's ids name no speaker, so the bundle's statistics need the
    manifest's speakers; the bundle must validate."""
    out = tmp_path / "demo"
    assert main(["demo", "--registry", "tess", "--out", str(out), "--steps", "4", "--utterances-per-class", "1"]) == 0
    printed = capsys.readouterr().out
    assert "note: TESS is test-only" in printed and "validate: OK" in printed

    meta = json.loads((out / "data" / "manifest.meta.json").read_text())
    assert meta["roots"]["tess"] == str(out / "corpora" / "tess")
    assert meta["fold_table"]["test_only"].keys() == {"tess"}
    rows = [json.loads(line) for line in (out / "data" / "manifest.jsonl").read_text().splitlines()]
    tess = [r for r in rows if r["corpus"] == "tess"]
    # TESS's own reader: its speakers and codes from the real folder layout, the pleasant-surprise files left out
    assert len(tess) == 8 and {r["speaker"] for r in tess} == {"OAF", "YAF"}
    assert {Path(r["path"]).parent.name for r in tess} <= set(TESS_FOLDERS.values())
    assert {tess_reader.TESS_SOURCE[Path(r["path"]).stem.split("_")[-1]] for r in tess} \
        == {r["source_label"] for r in tess} == {"neutral", "happiness", "anger", "sadness"}

    cells, sha = load_cells(out / "results")
    table = {(c["system"], c["condition"], c["test_corpus"]): c for c in summary(cells, sha)["cells"]}
    systems = {c["system"] for c in table.values()}
    assert systems == {"eGeMAPS-SVM", "TinyRandomHuBERT-Linear"}
    assert not [k for k in table if k[1:] == ("matched", "tess")]  # tested only, never trained on
    for system in systems:
        tess_cell = table[(system, "extended", "tess")]
        assert tess_cell["train_corpora"] == list(CORPORA) and tess_cell["paper_uar"] is None
        assert tess_cell["diff_uar"] is None
    for cell in table.values():  # a difference to the paper only for a model trained on the paper's pool
        assert cell["diff_uar"] is None or cell["paper_pool"]
    assert "TESS extended" in printed and "TESS matched" not in printed
    # both systems' results record each test utterance's speaker from the manifest (TESS's ids name none)
    for path in (out / "results").glob("*/extended/tess/fold*.json"):
        assert {row.get("speaker") for row in json.loads(path.read_text())["predictions"]} == {"OAF", "YAF"}, path
