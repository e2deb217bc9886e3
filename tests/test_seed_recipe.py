"""recipes/run.sh --seeds '1337 7' reaches its bundle: the init seed tells the two seeds' results apart (issue 20)."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from s3prl_crosscorpus.submission.validate import validate_bundle

ROOT = Path(__file__).resolve().parent.parent
#: The smallest study: 1 utterance per speaker and class, eGeMAPS + coarse grid, extended only, the linear head
#: for 8 steps, two seeds (10 DNN runs).
SMALLEST = ["--synth-per-class", "1", "--steps", "8", "--heads", "linear", "--matched-corpora", "",
            "--conditions", "extended", "--nj", "2", "--seeds", "1337 7"]


@pytest.mark.e2e
def test_a_study_with_two_seeds_reaches_a_bundle_that_validates(tmp_path):
    out = tmp_path / "study"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    run = subprocess.run(["bash", str(ROOT / "recipes" / "run.sh"), "--out", str(out), *SMALLEST],
                         env=env, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stderr[-4000:]
    first = json.loads(next((out / "results" / "TinyRandomHuBERT-Linear").rglob("fold1.json")).read_text())
    later = json.loads(next((out / "results" / "seed7" / "TinyRandomHuBERT-Linear").rglob("fold1.json")).read_text())
    assert (first["init_seed"], later["init_seed"]) == (1337, 7) and first["seed"] == later["seed"]
    table = json.loads((out / "leaderboard.json").read_text())
    dnn = [c for c in table["cells"] if c["system"] == "TinyRandomHuBERT-Linear"]
    assert len(dnn) == 3 and all(c["seeds"] == [7, 1337] and c["complete"] for c in dnn)
    assert all(set(c["metrics"]["uar"]["per_seed"]) == {"7", "1337"} for c in dnn)
    assert "(2 seeds, sd " in (out / "leaderboard.md").read_text()
    check = validate_bundle(out / "bundle.zip", data_dir=out / "data")
    assert check.ok, check.problems
    assert check.bundle.meta["format_version"] == 3
