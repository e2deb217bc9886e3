"""Issue 20: corpus/speaker-normalised models predict per stated speaker group, never per call; small groups marked."""
import json
from pathlib import Path

import numpy as np
import pytest

from baseline_svm.run import RunConfig, run
from s3prl_crosscorpus.commands.main import main
from s3prl_crosscorpus.core.labels import LABELS
from helpers.predict import write_model

ACTORS = ("Actor_01", "Actor_02", "Actor_03")


@pytest.fixture(scope="module")
def speaker_model(tmp_path_factory):
    return write_model(tmp_path_factory.mktemp("model") / "fold1.model.skops", norm="speaker", seed=1)


@pytest.fixture(scope="module")
def actors(synth_roots):
    """actor -> folder of its synthetic RAVDESS files."""
    return {a: synth_roots["ravdess"] / a for a in ACTORS}


def predicted(capsys, *argv) -> dict:
    assert main(["predict", *argv, "--format", "json"]) == 0, capsys.readouterr().err
    return {r["path"]: r for r in json.loads(capsys.readouterr().out)}


def probs(rows: dict, folder: Path) -> np.ndarray:
    return np.array([[r[c] for c in LABELS] for p, r in sorted(rows.items()) if Path(p).parent == folder])


@pytest.mark.parametrize("norm", ["speaker", "corpus"])
def test_transductive_model_without_grouping_is_refused(tmp_path, actors, capsys, norm):
    model = write_model(tmp_path / "fold1.model.skops", norm=norm)
    assert main(["predict", "--model", str(model), str(actors["Actor_01"])]) == 2
    out = capsys.readouterr()
    (line,) = out.err.strip().splitlines()
    assert line.startswith(f"error: {model}: this model z-normalises features per {norm}")
    assert "--speaker-of REGEX|CSV, --speaker-per-folder or --same-speaker" in line
    assert "at least 10 files per speaker" in line and not out.out


def test_prediction_depends_only_on_its_speakers_files(speaker_model, actors, capsys):
    model, a1, a2, a3 = str(speaker_model), *map(str, actors.values())
    regex = ["--speaker-of", r"(Actor_\d+)"]
    with_2 = predicted(capsys, "--model", model, *regex, a1, a2)
    with_3 = predicted(capsys, "--model", model, *regex, a1, a3)
    alone = predicted(capsys, "--model", model, "--speaker-per-folder", a1)
    first = probs(with_2, actors["Actor_01"])
    assert len(first) == len(list(actors["Actor_01"].glob("*.wav"))) > 2 and np.isfinite(first).all()
    np.testing.assert_array_equal(first, probs(with_3, actors["Actor_01"]))
    np.testing.assert_array_equal(first, probs(alone, actors["Actor_01"]))
    assert {r["speaker"] for r in with_2.values()} == {"Actor_01", "Actor_02"}
    # The control: normalising two actors together (what predict did before) changes Actor_01's answers.
    together = predicted(capsys, "--model", model, "--same-speaker", a1, a2)
    assert np.abs(probs(together, actors["Actor_01"]) - first).max() > 0.01


def test_speaker_table_and_bad_groupings(speaker_model, actors, tmp_path, capsys):
    files = sorted(actors["Actor_01"].glob("*.wav"))
    table = tmp_path / "speakers.csv"
    table.write_text("path,speaker\n" + "".join(f"{f},spk{k % 2}\n" for k, f in enumerate(files)))
    rows = predicted(capsys, "--model", str(speaker_model), "--speaker-of", str(table), str(actors["Actor_01"]))
    assert [r["speaker"] for r in rows.values()] == [f"spk{k % 2}" for k in range(len(files))]
    cases = [(["--speaker-of", "Actor_\\d+"], "needs exactly one group"),
             (["--speaker-of", "(Actor_99)"], f"{files[0]}: --speaker-of '(Actor_99)' does not match its path"),
             (["--speaker-of", "(["], "not a regular expression")]
    table.write_text("path,speaker\n" + f"{files[0]},a\n")
    cases.append((["--speaker-of", str(table)], f"{table}: no speaker for {files[1]} and {len(files) - 2} more file(s)"))
    for argv, message in cases:
        assert main(["predict", "--model", str(speaker_model), *argv, str(actors["Actor_01"])]) == 2
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line.startswith("error: ") and message in line, line


def test_small_and_single_file_groups_are_marked_or_skipped(speaker_model, actors, tmp_path, capsys):
    files = sorted(actors["Actor_01"].glob("*.wav"))
    table = tmp_path / "speakers.csv"
    table.write_text("path,speaker\n" + "".join(f"{f},{'alone' if k == 0 else 'rest'}\n" for k, f in enumerate(files)))
    code = main(["predict", "--model", str(speaker_model), "--speaker-of", str(table), str(actors["Actor_01"]),
                 "--format", "json"])
    out = capsys.readouterr()
    assert code == 1  # one file was not predicted
    rows = json.loads(out.out)
    assert rows[0]["label"] is None and all(r["label"] in LABELS for r in rows[1:])
    assert f"skipped {files[0]}: the only readable file of speaker 'alone'" in out.err and "all-zero" in out.err
    assert all("fewer than the 10 needed" in r["warning"] for r in rows[1:])
    assert out.err.count("WARNING: ") == len(files) - 1 < 10
    assert main(["predict", "--model", str(speaker_model), "--speaker-of", str(table), str(actors["Actor_01"])]) == 1
    table_text = capsys.readouterr().out
    assert "ERROR" in table_text and table_text.count("!") == len(files)  # marked labels + the footnote


@pytest.mark.e2e
def test_speaker_norm_run_marks_a_single_utterance_test_speaker(data_dir, utterances, tmp_path, capsys):
    """A test speaker with one utterance is an all-zero vector after speaker normalisation: warned and marked."""
    emodb = [u for u in utterances if u.corpus == "emodb"]
    config = RunConfig(data_dir=data_dir, out=tmp_path, feature_set="GeMAPSv01b", condition="matched",
                       test_corpus="emodb", folds=(1,), grid="coarse", n_jobs=1, cache_dir=tmp_path / "cache",
                       norm="speaker", save_models=False)
    report = run(config, utts=emodb)
    result = json.loads(report.written[0].read_text())
    test_speakers = sorted({u.speaker for u in emodb if u.id in {p["id"] for p in result["predictions"]}})
    lone = next(u for u in emodb if u.speaker == test_speakers[0])
    fewer = [u for u in emodb if u.speaker != lone.speaker or u.id == lone.id]
    report = run(RunConfig(**{**config.__dict__, "out": tmp_path / "lone"}), utts=fewer)
    result = json.loads(report.written[0].read_text())
    (warning,) = [w for w in result["warnings"] if "test speaker" in w]
    assert f"emodb/{lone.speaker} (1)" in warning and "all-zero vector" in warning
    assert "fewer than 10 utterances" in warning
    assert f"WARNING: GeMAPS-SVM[speaker-norm] matched fold 1 emodb: {warning}" in capsys.readouterr().out
