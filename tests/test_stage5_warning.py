"""Stage 5 of run.sh says the fold-file warning once (issue: it came from `submit` and again from `validate`), on
a fresh bundle and on a kept one; `submit`, `validate` and `report` count --data's fold table as installed."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers.resultgen import write_results
from s3prl_crosscorpus.core.io_utils import read_json, write_json
from s3prl_crosscorpus.core.manifest import META

ROOT = Path(__file__).resolve().parents[1]
WARNING = "warning: the results used fold file sha256"


def foreign_fold_results(results: Path, utterances, sha: str) -> None:
    """Results of one system and corpus that record another fold file's hash."""
    for path in write_results(results, utterances, systems=("ComParE-SVM",), corpora=("emodb",)):
        write_json(path, {**read_json(path), "fold_file_sha256": sha})


def stage5(out: Path, data: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(["bash", str(ROOT / "recipes" / "run.sh"), "--data-dir", str(data), "--out", str(out),
                           "--stage", "5", "--stats-resamples", "20"],
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.e2e
def test_stage_5_warns_of_another_fold_file_once(tmp_path, data_dir, utterances):
    out = tmp_path / "out"
    foreign_fold_results(out / "results", utterances, "ab" * 32)
    fresh = stage5(out, data_dir)
    assert fresh.stderr.count(WARNING) == 1 and (out / "bundle.zip").is_file()
    kept = stage5(out, data_dir)
    assert "bundle newer than every result: kept" in kept.stderr and kept.stderr.count(WARNING) == 1
    assert "bundle.zip: OK" in kept.stdout


def test_the_data_fold_table_counts_as_installed_for_submit_validate_and_report(tmp_path, data_dir, utterances,
                                                                                 capsys):
    from s3prl_crosscorpus.commands import report, submit, validate

    sha = "cd" * 32
    data = tmp_path / "data"
    shutil.copytree(data_dir, data)
    meta = read_json(data / META)
    write_json(data / META, {**meta, "fold_table": {**(meta.get("fold_table") or {}), "sha256": sha}})
    foreign_fold_results(tmp_path / "results", utterances, sha)
    bundle = tmp_path / "bundle.zip"
    for name, main, argv in (("submit", submit.main, [str(tmp_path / "results"), "-o", str(bundle)]),
                             ("validate", validate.main, [str(bundle)]),
                             ("report", report.main, [str(tmp_path / "results"), "--out", str(tmp_path / "r.html")])):
        stats = ["--resamples", "20"] if name != "validate" else []
        assert main(argv + stats) in (0, 1)
        assert WARNING in capsys.readouterr().err, name  # without --data: another fold file
        assert main(argv + stats + ["--data", str(data)]) == 0
        assert WARNING not in capsys.readouterr().err, name  # the manifest's own fold table
