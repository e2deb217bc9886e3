"""``baseline-svm run --test-degrade SPEC``: degraded test audio, its own cells, channel effects only."""
import json
from pathlib import Path

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
    assert set(by_system) == {"eGeMAPS-SVM", "eGeMAPS-SVM_test-noise-snr0-colorwhite"}
    clean = json.loads(next((tmp_path / "results" / "eGeMAPS-SVM").rglob("fold1.json")).read_text())
    noisy = json.loads(next((tmp_path / "results" / "eGeMAPS-SVM_test-noise-snr0-colorwhite").rglob("fold1.json"))
                       .read_text())
    split = make_split(utterances, "matched", 1, "emodb", CORPORA)
    assert sorted(p["id"] for p in noisy["predictions"]) == sorted(split.test)
    assert noisy["hyperparameters"]["C"] == clean["hyperparameters"]["C"]  # the same trained system
    assert noisy["metrics"]["uar"] < clean["metrics"]["uar"]  # white noise at 0 dB: measured 0.94 -> 0.25-0.5
    assert noisy["config"]["test_degrade"]["canonical"] == "noise:snr=0:color=white"


def test_dnn_test_degrade_is_checked_before_any_work(data_dir, tmp_path, capsys):
    from s3prl_crosscorpus.commands import main as main_cli
    from s3prl_crosscorpus.core.names import override_value

    smoke = str(Path(__file__).resolve().parent.parent / "downstream_configs" / "smoke.yaml")
    overrides = (f"config.downstream_expert.datarc.data_dir={override_value(str(data_dir))},,"
                 f"config.downstream_expert.datarc.test_degrade={override_value('speed')}")
    code = main_cli.main(["run-downstream", "-m", "train", "-u", "hubert", "-d", "crosscorpus_emotion", "-c", smoke,
                          "-p", str(tmp_path / "exp"), "--device", "cpu", "-o", overrides])
    assert code == 2
    assert "datarc.test_degrade: a test degradation takes noise, reverb, telephone; speed changes the speech itself" in \
        capsys.readouterr().err


@pytest.mark.e2e
def test_dnn_checkpoint_evaluated_on_degraded_audio_is_its_own_row(data_dir, tmp_path):
    from s3prl_crosscorpus.commands import main as main_cli
    from s3prl_crosscorpus.core.names import override_value

    smoke = str(Path(__file__).resolve().parent.parent / "downstream_configs" / "smoke.yaml")
    results, expdir = tmp_path / "results", tmp_path / "exp"
    fields = {"data_dir": str(data_dir), "condition": "matched", "test_corpus": "emodb"}
    overrides = ",,".join([f"config.downstream_expert.datarc.{k}={override_value(v)}" for k, v in fields.items()]
                          + [f"config.downstream_expert.results_dir={override_value(str(results))}",
                             "config.downstream_expert.system_name='Fbank-Lin'", "config.runner.total_steps=4",
                             "config.runner.eval_step=2", "config.runner.save_step=2", "config.runner.log_step=2"])
    assert main_cli.main(["run-downstream", "-m", "train", "-u", "fbank_no_cmvn", "-d", "crosscorpus_emotion", "-c",
                          smoke, "-p", str(expdir), "--device", "cpu", "-o", overrides]) == 0
    evaluate = ["run-downstream", "-m", "evaluate", "-e", str(expdir / "dev-best.ckpt"), "-t", "test", "--device", "cpu"]
    assert main_cli.main(evaluate) == 0
    degrade = f"config.downstream_expert.datarc.test_degrade={override_value('noise:snr=0:color=white')}"
    assert main_cli.main(evaluate + ["-o", degrade]) == 0
    clean = json.loads((results / "Fbank-Lin" / "matched" / "emodb" / "fold1.json").read_text())
    noisy_path = results / "Fbank-Lin_test-noise-snr0-colorwhite" / "matched" / "emodb" / "fold1.json"
    noisy = json.loads(noisy_path.read_text())
    assert noisy["config"]["test_degrade"]["canonical"] == "noise:snr=0:color=white"
    assert sorted(p["id"] for p in noisy["predictions"]) == sorted(p["id"] for p in clean["predictions"])
    assert [p["prediction"] for p in noisy["predictions"]] != [p["prediction"] for p in clean["predictions"]] or \
        noisy["probabilities"] != clean["probabilities"]
