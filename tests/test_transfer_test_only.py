"""A test-only corpus (TESS: 2 speakers) in an N-corpus study: a column of the transfer matrix, never a row;
tested whole in every fold, with its speaker-level interval."""
from pathlib import Path

import pytest

from helpers.resultgen import write_transfer
from s3prl_crosscorpus.core.folds import FOLDS, FoldError, make_split, result_condition, transfer_rows
from s3prl_crosscorpus.core.manifest import load_manifest, prepare
from s3prl_crosscorpus.core.studyfile import StudyError, cell_problems, expected_cells, load_study
from s3prl_crosscorpus.demo.registry_synth import synthesize_registry
from s3prl_crosscorpus.results.cells import load_cells
from s3prl_crosscorpus.results.leaderboard import render_markdown, summary
from s3prl_crosscorpus.results.matrix import interval_of, system_matrix
from s3prl_crosscorpus.results.significance import table_statistics
from s3prl_crosscorpus.results.stats import StatsConfig
from s3prl_crosscorpus.study.plan import svm_plan
from s3prl_crosscorpus.submission.bundle import bundle_version

PAPER = ("emodb", "ravdess", "iemocap")
POOL = PAPER + ("tess",)
WHY = {"tess": "2 speaker(s), fewer than the 5 folds"}


@pytest.fixture(scope="module")
def with_tess(synth_roots, tmp_path_factory) -> Path:
    """DATA_DIR of the three synthetic paper corpora and a synthetic TESS in its real layout."""
    out = tmp_path_factory.mktemp("tess")
    prepare({**synth_roots, **synthesize_registry(out / "reg", ["tess"], per_class=1)}, out / "data")
    return out / "data"


def test_default_rows_train_on_every_trainable_corpus_and_never_on_a_test_only_one():
    assert transfer_rows(POOL, test_only=WHY) == [("emodb",), ("ravdess",), ("iemocap",), PAPER]
    with pytest.raises(FoldError, match=r"\['emodb', 'tess'\]: tess is test-only \(2 speaker\(s\), fewer than the "
                                        r"5 folds\): it is a column of the matrix, never a row"):
        transfer_rows(POOL, [("emodb", "tess")], WHY)


def test_a_transfer_split_tests_the_test_only_corpus_whole_and_names_the_pool_row_extended(with_tess):
    utts = load_manifest(with_tess)
    tess = sorted(u.id for u in utts if u.corpus == "tess")
    splits = [make_split(utts, "transfer", fold, None, POOL, train=PAPER) for fold in (1, 2)]
    for split in splits:
        assert sorted(i for i in split.test if i.startswith("tess_")) == tess  # whole, in every fold
        assert not any(i.startswith("tess_") for i in split.train + split.dev)
        assert split.pool == PAPER
        assert [result_condition(split, c) for c in POOL] == ["extended"] * 4  # every trainable corpus: (ext)
    one = make_split(utts, "transfer", 1, None, POOL, train=("emodb",))
    assert [result_condition(one, c) for c in POOL] == ["matched", "transfer", "transfer", "transfer"]
    with pytest.raises(FoldError, match="tess is test-only"):
        make_split(utts, "transfer", 1, None, POOL, train=("tess",))


def test_svm_study_plan_has_no_tess_row_and_no_matched_tess_job(with_tess, tmp_path):
    plan = svm_plan(with_tess, tmp_path / "results", ["GeMAPSv01b"], ["matched", "transfer"], list(FOLDS), "coarse",
                    POOL)
    names = [job.name for job in plan.jobs]
    assert sorted(names) == sorted(["GeMAPS-SVM.matched.foldall", "GeMAPS-SVM.from-emodb.foldall",
                                    "GeMAPS-SVM.from-ravdess.foldall", "GeMAPS-SVM.from-iemocap.foldall",
                                    "GeMAPS-SVM.from-emodb+ravdess+iemocap.foldall"])
    outputs = {Path(p).relative_to(tmp_path / "results").parts[1:3] for job in plan.jobs for p in job.outputs}
    assert ("from-emodb", "tess") in outputs and ("extended", "tess") in outputs
    assert ("matched", "tess") not in outputs and not any(c.startswith("from-tess") for c, _ in outputs)


def study_text(extra: str = "") -> str:
    return ("corpora:\n  emodb: synthetic\n  ravdess: synthetic\n  iemocap: synthetic\n  tess: synthetic\n"
            "conditions: [matched, transfer]\nsystems:\n  svm: {feature_sets: [GeMAPSv01b], grid: coarse}\n" + extra)


def test_study_file_knows_tess_is_test_only_from_the_registry(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_text(study_text())
    study = load_study(path)
    assert study.test_only == WHY and study.rows == [("emodb",), ("ravdess",), ("iemocap",), PAPER]
    cells = expected_cells(study)["svm"]
    assert {("from-emodb", "tess"), ("extended", "tess"), ("matched", "emodb")} <= cells
    assert not {c for c in cells if c[1] == "tess" and c[0] == "matched"}
    path.write_text(study_text("transfer:\n  rows: [emodb, tess]\n"))
    with pytest.raises(StudyError, match=r"transfer.rows: .*tess is test-only"):
        load_study(path)
    path.write_text(study_text().replace("  ravdess: synthetic\n  iemocap: synthetic\n", ""))
    with pytest.raises(StudyError, match=r"conditions: .*two or more pool corpora to train on.*\(tess test-only\)"):
        load_study(path)


def test_an_own_corpus_found_test_only_by_prepare_drops_its_cells_from_the_study(tmp_path):
    path = tmp_path / "study.yaml"
    for name in PAPER:
        (tmp_path / name).mkdir()
    (tmp_path / "mine.csv").write_text("path,label,speaker\n")
    path.write_text(study_text().replace("  tess: synthetic\n", "  mine: {csv: mine.csv}\n").replace(
        ": synthetic", ""). replace("  emodb\n", "  emodb: emodb\n").replace("  ravdess\n", "  ravdess: ravdess\n")
        .replace("  iemocap\n", "  iemocap: iemocap\n"))
    study = load_study(path)
    cells = [("GeMAPS-SVM", "svm", condition, corpus) for condition, corpus in
             expected_cells(study, {"mine": "3 speaker(s), fewer than the 5 folds"})["svm"]]
    assert not any(corpus == "mine" and condition in ("matched", "from-mine") for _, _, condition, corpus in cells)
    assert cell_problems(study, cells, "study.yaml", {"mine": "3 speaker(s), fewer than the 5 folds"}) == []
    assert cell_problems(study, cells, "study.yaml")  # without knowing, the study asks for mine's own cells


def test_the_test_only_column_has_intervals_and_its_bundle_is_format_4(with_tess, tmp_path):
    utts = load_manifest(with_tess)
    write_transfer(tmp_path, utts, [("emodb",), PAPER], pool=POOL)
    cells, sha = load_cells(tmp_path)
    table = summary(cells, sha, table_statistics(cells, StatsConfig(resamples=100), {u.id: u.speaker for u in utts},
                                                 "manifest"))
    matrix = system_matrix(table, "GeMAPS-SVM")
    assert matrix["columns"] == list(POOL) and matrix["rows"] == [["emodb"], list(PAPER)]
    tess_column = [row[3] for row in matrix["cells"]]
    for cell in tess_column:
        interval = interval_of(table, cell)
        assert interval["available"] and interval["n_speakers"] == 2
        # pooled over the five identical test sets = the mean of the folds' UARs
        assert interval["uar"] == pytest.approx(cell["metrics"]["uar"]["mean"], abs=1e-9)
    text = render_markdown(table)
    assert not any(line.startswith("| TESS") for line in text.splitlines())  # a matrix column, not a row
    assert "TESS extended" in text and "TESS matched" not in text  # no matched column for a test-only corpus
    header = next(line for line in text.splitlines() if line.startswith("| train \\ test"))
    tess_at = [h.strip() for h in header.strip("|").split("|")].index("TESS (test-only)")
    for row in ("| EmoDB ", "| EmoDB+RAVDESS+IEMOCAP "):
        entry = next(line for line in text.splitlines() if line.startswith(row)).strip("|").split("|")[tess_at]
        assert entry.strip().endswith("] (2 spk)")  # an interval from two speakers is marked
    assert "(k spk): an interval resampled from fewer than 5 speakers" in text
    assert bundle_version(cells) == 4
    old = table_statistics(cells, StatsConfig(resamples=100), {u.id: u.speaker for u in utts}, "manifest",
                           every_fold=False)  # the rule of bundles before format 4
    assert not next(e for e in old["cells"] if e["test_corpus"] == "tess")["available"]


def test_a_bundle_of_a_study_with_tess_holds_its_cells_and_validates(with_tess, tmp_path):
    from s3prl_crosscorpus.results.significance import test_only_in
    from s3prl_crosscorpus.submission.bundle import build_bundle
    from s3prl_crosscorpus.submission.validate import validate_bundle

    utts = load_manifest(with_tess)
    study = tmp_path / "study.yaml"
    study.write_text(study_text().replace("[matched, transfer]", "[transfer]") + "statistics: {resamples: 50}\n")
    write_transfer(tmp_path / "results", utts, transfer_rows(POOL, test_only=WHY), pool=POOL)
    cells, _ = load_cells(tmp_path / "results")
    assert test_only_in(cells) == {"tess": "tested whole in every fold and never trained on"}
    meta = build_bundle(tmp_path / "results", tmp_path / "b.zip", plots=False, config=StatsConfig(resamples=50),
                        speakers={u.id: u.speaker for u in utts}, study=study)
    assert meta["format_version"] == 4
    found = validate_bundle(tmp_path / "b.zip", with_tess)
    assert found.ok, found.problems


def tess_table(utts, results: Path, rows) -> dict:
    """The summary (with statistics) of transfer results of ``rows`` over the pool with TESS."""
    write_transfer(results, utts, rows, pool=POOL)
    cells, sha = load_cells(results)
    return summary(cells, sha, table_statistics(cells, StatsConfig(resamples=50), {u.id: u.speaker for u in utts},
                                                "manifest"))


def test_the_matrix_marks_the_test_only_column_with_a_note(with_tess, tmp_path):
    table = tess_table(load_manifest(with_tess), tmp_path, [("emodb",), PAPER])
    assert table["test_only"] == {"tess": "tested whole in every fold and never trained on"}
    text = render_markdown(table)
    header = next(line for line in text.splitlines() if line.startswith("| train \\ test"))
    assert [h.strip() for h in header.strip("|").split("|")][1:] == ["EmoDB", "RAVDESS", "IEMOCAP", "TESS (test-only)"]
    assert "(test-only): TESS has too few speakers for speaker-independent folds: never trained on" in text


def test_a_table_without_a_test_only_corpus_has_no_test_only_mark(with_tess, tmp_path):
    utts = [u for u in load_manifest(with_tess) if u.corpus != "tess"]
    write_transfer(tmp_path, utts, [("emodb",), PAPER], pool=PAPER)
    cells, sha = load_cells(tmp_path)
    table = summary(cells, sha)
    assert "test_only" not in table and "test-only" not in render_markdown(table)


def test_test_only_transfer_cells_are_paired_with_the_extended_cell_on_the_same_utterances(with_tess, tmp_path):
    stats = tess_table(load_manifest(with_tess), tmp_path, [("emodb",), ("ravdess",), PAPER])["statistics"]
    on_tess = [c for c in stats["comparisons"] if c["test_corpus"] == "tess"]
    assert sorted((c["a"]["condition"], c["b"]["condition"]) for c in on_tess) == [
        ("extended", "from-emodb"), ("extended", "from-ravdess")]
    assert all(c["available"] for c in on_tess)  # the same utterances: TESS whole in every fold
    assert "GeMAPS-SVM: from-emodb − extended on TESS" in stats["family"]
    # a corpus with a matched cell keeps its matched comparison (and no extended one for transfer cells)
    on_ravdess = {(c["a"]["condition"], c["b"]["condition"]) for c in stats["comparisons"]
                  if c["test_corpus"] == "ravdess"}
    assert ("matched", "from-emodb") in on_ravdess and ("extended", "from-emodb") not in on_ravdess


@pytest.mark.e2e
def test_the_svm_transfer_matrix_tests_tess_whole_and_its_leaderboard_marks_it(with_tess, tmp_path):
    import json
    import subprocess
    import sys

    out = tmp_path / "results"
    base = [sys.executable, "-c", "import sys; from baseline_svm.cli import main; sys.exit(main())", "run", "--data", str(with_tess), "--feature-set", "GeMAPSv01b",
            "--condition", "transfer", "--test-corpus", "all", "--fold", "all", "--out", str(out),
            "--corpora", ",".join(POOL), "--grid", "coarse", "--no-save-model"]
    refused = subprocess.run(base + ["--train", "emodb,tess"], capture_output=True, text=True)
    assert refused.returncode == 2 and "tess is test-only (2 speaker(s)" in refused.stderr
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    done = subprocess.run(base + ["--train", "emodb", "--train", ",".join(PAPER)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    tess = sorted(u.id for u in load_manifest(with_tess) if u.corpus == "tess")
    for condition in ("from-emodb", "extended"):
        for fold in FOLDS:
            result = json.loads(next((out / "GeMAPS-SVM" / condition / "tess").glob(f"fold{fold}*.json")).read_text())
            assert sorted(row["id"] for row in result["predictions"]) == tess  # whole, in every fold
    board = subprocess.run([sys.executable, "-m", "s3prl_crosscorpus", "leaderboard", str(out), "--stats",
                            "--resamples", "50", "--data", str(with_tess)], capture_output=True, text=True)
    assert board.returncode == 0, board.stderr[-2000:]
    assert "TESS (test-only)" in board.stdout and "from-emodb − extended" in board.stdout


def test_the_report_matrix_marks_the_test_only_column(with_tess, tmp_path):
    from s3prl_crosscorpus.report.context import transfer_matrices

    table = tess_table(load_manifest(with_tess), tmp_path, [("emodb",), PAPER])
    assert transfer_matrices(table)[0]["columns"] == ["EmoDB", "RAVDESS", "IEMOCAP", "TESS (test-only)"]


def test_the_dnn_plan_and_dataset_test_tess_whole_and_never_train_on_it(with_tess, tmp_path):
    from s3prl_crosscorpus.study.plan import DnnSettings, dnn_plan
    from s3prl_crosscorpus.superb.dataset import ConfigError, DataSettings, load_experiment

    settings = DnnSettings(data=with_tess, results=tmp_path / "r", exp=tmp_path / "exp", upstream="hubert_local",
                           config=Path("smoke.yaml"), pool=POOL, cache=tmp_path / "cache", upstream_name="Tiny")
    plan = dnn_plan(settings, ["linear"], ["matched", "transfer"], [1], [1337])
    labels = {job.name.split(".")[1] for job in plan.jobs}
    assert labels == {"matched-emodb", "matched-ravdess", "matched-iemocap", "from-emodb-all", "from-ravdess-all",
                      "from-iemocap-all", "from-emodb+ravdess+iemocap-all"}  # no matched-tess, no from-tess
    outputs = {Path(p).relative_to(tmp_path / "r").parts[1:3] for job in plan.jobs for p in job.outputs}
    assert {("from-emodb", "tess"), ("extended", "tess")} <= outputs
    tess = sorted(u.id for u in load_manifest(with_tess) if u.corpus == "tess")
    for fold in (1, 5):
        split, _ = load_experiment(DataSettings(data_dir=str(with_tess), condition="transfer", fold=fold,
                                                corpora=POOL, train_corpora=("emodb",)))
        assert sorted(i for i in split.test if i.startswith("tess_")) == tess
    with pytest.raises(ConfigError, match=r"tess is test-only \(2 speaker\(s\), fewer than the 5 folds\)"):
        load_experiment(DataSettings(data_dir=str(with_tess), condition="transfer", corpora=POOL,
                                     train_corpora=("tess",)))
