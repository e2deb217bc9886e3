"""``baseline-svm run --augment SPEC --augment-copies K``: refusals before work, cached copies, training rows only."""
import json
from pathlib import Path

import numpy as np
import pytest

from baseline_svm import cli
from baseline_svm.augmented import extract_copies, file_digests
from s3prl_crosscorpus.augment.plan import training_copies
from s3prl_crosscorpus.augment.spec import parse_spec
from s3prl_crosscorpus.core.folds import make_split
from s3prl_crosscorpus.core.labels import CORPORA


def base_args(data_dir, tmp_path):
    return ["run", "--data", str(data_dir), "--feature-set", "eGeMAPSv02", "--condition", "matched",
            "--test-corpus", "emodb", "--fold", "1", "--out", str(tmp_path / "results"),
            "--cache", str(tmp_path / "cache"), "--grid", "coarse", "--n-jobs", "1", "--no-save-model"]


@pytest.mark.parametrize("spec, fragment", [
    ("speed,whisper", "unknown augmentation 'whisper'"),
    ("noise:snr=10..0", "not a range"),
    ("noise:dir=EMPTY", "holds no audio files"),
    ("noise:level=3", "unknown parameter 'level'"),
])
def test_bad_spec_is_one_error_line_before_any_work(data_dir, tmp_path, capsys, spec, fragment):
    (tmp_path / "empty").mkdir()
    code = cli.main(base_args(data_dir, tmp_path) + ["--augment", spec.replace("EMPTY", str(tmp_path / "empty"))])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: --augment: ") and fragment in err[0]
    assert not (tmp_path / "results").exists() and not (tmp_path / "cache").exists()


def test_copies_are_cached_by_content_spec_and_copy_seed(utterances, tmp_path):
    by_id = {u.id: u for u in utterances}
    split = make_split(utterances, "matched", 1, "emodb", CORPORA)
    small = split.__class__(split.condition, split.fold, split.train_corpora, split.test_corpora,
                            split.train[:3], split.dev, split.test)
    digests = file_digests([by_id[i].path for i in small.train])
    spec = parse_spec("speed,noise")
    copies = training_copies(spec, 2, 0, small, by_id, digests)
    first = extract_copies(copies, "eGeMAPSv02", tmp_path / "cache", n_jobs=1, progress=False)
    again = extract_copies(copies, "eGeMAPSv02", tmp_path / "cache", n_jobs=1, progress=False)
    assert (first.extracted, first.cached) == (6, 0)
    assert (again.extracted, again.cached) == (0, 6)
    for key, vector in first.vectors.items():
        assert np.array_equal(vector, again.vectors[key])
    # Another seed or spec: other copies, other cache entries, other features.
    other = training_copies(spec, 2, 1, small, by_id, digests)
    assert not {c.key for c in other} & {c.key for c in copies}
    assert len({c.key for c in copies}) == 6
    plain = extract_copies(training_copies(parse_spec("telephone"), 1, 0, small, by_id, digests), "eGeMAPSv02",
                           tmp_path / "cache", n_jobs=1, progress=False)
    assert plain.extracted == 3


@pytest.mark.e2e
def test_augmented_run_adds_k_copies_of_the_training_rows_only(data_dir, utterances, tmp_path):
    args = base_args(data_dir, tmp_path) + ["--augment", "speed,babble,noise", "--augment-copies", "2"]
    assert cli.main(args) == 0
    path = Path(tmp_path / "results" / "eGeMAPS-SVM_aug-speed+babble+noise-x2" / "matched" / "emodb" / "fold1.json")
    result = json.loads(path.read_text())
    split = make_split(utterances, "matched", 1, "emodb", CORPORA)
    record = result["config"]["augment"]
    assert record["copies"] == 2 and record["train_rows"] == 2 * len(split.train)
    assert record["augmented_utterances"] == len(split.train)
    assert record["canonical"].startswith("speed:factors=0.9/1/1.1,babble:")
    assert len(result["predictions"]) == len([i for i in split.test])
    # Re-running into a fresh results folder takes every copy from the cache.
    args[args.index("--out") + 1] = str(tmp_path / "again")
    assert cli.main(args) == 0
    again = json.loads((tmp_path / "again" / path.relative_to(tmp_path / "results")).read_text())
    assert again["config"]["augment"]["extraction"]["extracted"] == 0
    assert again["predictions"] == result["predictions"]


@pytest.mark.e2e
def test_pitch_augmented_results_carry_the_warning_and_the_mark(data_dir, tmp_path):
    from s3prl_crosscorpus.augment.spec import PITCH_WARNING

    assert cli.main(base_args(data_dir, tmp_path) + ["--augment", "pitch:semitones=1"]) == 0
    result = json.loads(next((tmp_path / "results").rglob("fold1.json")).read_text())
    assert result["system"] == "eGeMAPS-SVM_aug-pitch-semitones1-x1"
    assert PITCH_WARNING in result["warnings"]
