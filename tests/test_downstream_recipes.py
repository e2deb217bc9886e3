"""recipes/run_all_folds.sh -> run_fold.sh: train + evaluate a fold, then skip it once its results exist."""
import pytest
import os
import subprocess
from pathlib import Path

from s3prl_crosscorpus.demo.random_hubert import write_random_hubert
from helpers.results import load_results


ROOT = Path(__file__).resolve().parent.parent
#: Folder names that s3prl's -o parser would split or execute if they were pasted into it unquoted.
HOSTILE_DATA = "a=b x',,__import__('os').system('touch PWNED'),,'"
HOSTILE_RESULTS = "résultats ,,=1"


@pytest.mark.e2e
def test_run_all_folds_writes_results_and_skips_finished_folds(data_dir, tmp_path):
    ckpt = write_random_hubert(tmp_path / "tiny.pt", size="tiny")
    (tmp_path / HOSTILE_DATA).symlink_to(data_dir, target_is_directory=True)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    args = ["--data-dir", HOSTILE_DATA, "--upstream", "hubert_local", "--ckpt", str(ckpt),
            "--config", str(ROOT / "downstream_configs" / "smoke.yaml"), "--head", "cnn_selfatt",
            "--condition", "matched", "--test-corpus", "emodb", "--folds", "4", "--results", HOSTILE_RESULTS,
            "--device", "cpu", "--extra", "config.runner.total_steps=4,,config.runner.eval_step=2,,config.runner.save_step=4"]
    recipe = [str(ROOT / "recipes" / "run_all_folds.sh"), *args]  # through the cache (the default)
    first = subprocess.run(recipe, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-4000:]
    results = load_results(tmp_path / HOSTILE_RESULTS)
    assert [(r["system"], r["condition"], r["test_corpus"], r["fold"]) for r in results] == [
        ("HuBERT-CNNSelfAtt", "matched", "emodb", 4)]
    assert results[0]["config"]["data_dir"] == str(tmp_path / HOSTILE_DATA)
    assert results[0]["hyperparameters"]["modelrc"]["head"] == "cnn_selfatt"  # HEAD= sets modelrc.head
    assert (tmp_path / "exp/hubert_local-cnn_selfatt/matched-emodb/fold4/dev-best.ckpt").exists()
    assert any((tmp_path / "exp/cache/hubert_local").glob("*"))  # the upstream ran once, into the cache
    assert not list(tmp_path.rglob("PWNED")) and not Path("PWNED").exists()  # the folder name ran no code

    again = subprocess.run(recipe, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "fold 4: results exist, skipped" in again.stderr
    assert load_results(tmp_path / HOSTILE_RESULTS)[0]["created"] == results[0]["created"]
