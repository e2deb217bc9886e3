"""``recipes/run.sh --augment speed,noise --augment-copies 2`` on the synthetic default at reduced size: both
systems get the matched, matched+aug, extended and extended+aug rows, and the leaderboard the paired tests."""
import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Reduced as tests/test_study_recipe.py, with the DNN's matched runs on EmoDB (for matched+aug).
REDUCED = ["--synth-per-class", "1", "--steps", "8", "--heads", "linear", "--matched-corpora", "emodb", "--nj", "2",
           "--augment", "speed,noise", "--augment-copies", "2"]
SYSTEMS = ("eGeMAPS-SVM", "TinyRandomHuBERT-Linear")
AUG = "_aug-speed+noise-x2"


def run_recipe(out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.run(["bash", str(ROOT / "recipes" / "run.sh"), "--out", str(out), *extra], env=env,
                          capture_output=True, text=True, timeout=1800)


def test_a_bad_spec_stops_the_recipe_before_any_work(tmp_path):
    done = run_recipe(tmp_path / "out", "--augment", "speed,nosie")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: unknown augmentation 'nosie' in the SPEC; choose from speed, noise, babble, reverb, telephone, pitch"]
    assert not (tmp_path / "out" / "corpora").exists()


@pytest.mark.e2e
def test_both_systems_get_the_four_rows_and_the_paired_tests(tmp_path):
    done = run_recipe(tmp_path, *REDUCED)
    assert done.returncode == 0, done.stderr[-4000:]
    table = json.loads((tmp_path / "leaderboard.json").read_text())
    cells = {(c["system"], c["condition"], c["test_corpus"]) for c in table["cells"] if c["complete"]}
    for system in SYSTEMS:
        for row in (system, system + AUG):
            assert {(row, "matched", "emodb"), (row, "extended", "emodb")} <= cells, row
    pairs = {(c["a"]["system"], c["a"]["condition"], c["b"]["system"], c["b"]["condition"], c["test_corpus"])
             for c in table["statistics"]["comparisons"] if c["available"]}
    for system in SYSTEMS:
        assert (system + AUG, "matched", system, "extended", "emodb") in pairs  # extended − matched+aug
        assert (system, "extended", system + AUG, "extended", "emodb") in pairs  # extended+aug − extended
    markdown = (tmp_path / "leaderboard.md").read_text()
    assert f"| EmoDB   | {SYSTEMS[0] + AUG} matched" in markdown
