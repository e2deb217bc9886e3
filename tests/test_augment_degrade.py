"""``baseline-svm run --test-degrade SPEC``: degraded test audio, its own cells, channel effects only."""
import json

import pytest

from baseline_svm import cli
from s3prl_crosscorpus.core.folds import make_split
from s3prl_crosscorpus.core.labels import CORPORA
from s3prl_crosscorpus.results.cells import load_cells


def args_for(data_dir, tmp_path, *extra):
    return ["run", "--data", str(data_dir), "--feature-set", "eGeMAPSv02", "--condition", "matched",
            "--test-corpus", "emodb", "--fold", "1", "--out", str(tmp_path / "results"), "--cache",
            str(tmp_path / "cache"), "--grid", "coarse", "--n-jobs", "1", "--no-save-model", *extra]


@pytest.mark.parametrize("spec, extra, fragment", [
    ("speed", [], "speed changes the speech itself"),
    ("babble", [], "babble changes the speech itself"),
    ("noise:snr=x", [], "is not a number"),
    ("noise:snr=10", ["--norm", "speaker"], "needs --norm global"),
])
def test_bad_degradation_is_one_error_line_before_any_work(data_dir, tmp_path, capsys, spec, extra, fragment):
    assert cli.main(args_for(data_dir, tmp_path, "--test-degrade", spec, *extra)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --test-degrade: ") and fragment in err[0]
    assert not (tmp_path / "results").exists()


@pytest.mark.e2e
def test_degraded_results_are_their_own_cells_and_noise_hurts(data_dir, utterances, tmp_path):
    assert cli.main(args_for(data_dir, tmp_path)) == 0
    assert cli.main(args_for(data_dir, tmp_path, "--test-degrade", "noise:snr=0:color=white")) == 0
    cells, _ = load_cells(tmp_path / "results")
    by_system = {c.system: c for c in cells}
    assert set(by_system) == {"eGeMAPS-SVM", "eGeMAPS-SVM[test=noise-snr0-colorwhite]"}
    clean = json.loads(next((tmp_path / "results" / "eGeMAPS-SVM").rglob("fold1.json")).read_text())
    noisy = json.loads(next((tmp_path / "results" / "eGeMAPS-SVM[test=noise-snr0-colorwhite]").rglob("fold1.json"))
                       .read_text())
    split = make_split(utterances, "matched", 1, "emodb", CORPORA)
    assert sorted(p["id"] for p in noisy["predictions"]) == sorted(split.test)
    assert noisy["hyperparameters"]["C"] == clean["hyperparameters"]["C"]  # the same trained system
    assert noisy["metrics"]["uar"] < clean["metrics"]["uar"]  # white noise at 0 dB: measured 0.94 -> 0.25-0.5
    assert noisy["config"]["test_degrade"]["canonical"] == "noise:snr=0:color=white"
