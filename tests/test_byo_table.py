"""Bring your own corpus: CSV and audformat tables through `prepare`, with the manifest's row checks."""
import json
import os

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from s3prl_crosscorpus.commands import prepare as prepare_cmd
from s3prl_crosscorpus.core.corpora import CorpusError
from s3prl_crosscorpus.core.corpora.table import parse_label_map, read_audformat, read_csv_corpus
from s3prl_crosscorpus.core.folds import fold_file_sha256, make_split
from s3prl_crosscorpus.core.io_utils import read_json, sha256_file
from s3prl_crosscorpus.core.manifest import load_manifest

LABEL_MAP = {"neutral": "neu", "happy": "hap", "angry": "ang", "sad": "sad", "fear": "-"}


def write_corpus(root, n_speakers=6, labels=("neutral", "happy", "angry", "sad", "fear"), per_label=2):
    """A CSV corpus in ``root``: wavs under audio/, corpus.csv beside them; returns the CSV path."""
    (root / "audio").mkdir(parents=True, exist_ok=True)
    rows = ["path,label,speaker,gender"]
    rng = np.random.default_rng(0)
    for s in range(n_speakers):
        for k in range(per_label * len(labels)):
            rel = f"audio/s{s}_{k}.wav"
            sf.write(root / rel, rng.normal(0, 0.1, 800), 16000)
            rows.append(f"{rel},{labels[k % len(labels)]},spk{s},{'MF'[s % 2]}")
    path = root / "corpus.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def edit_line(path, number, new):
    lines = path.read_text().splitlines()
    lines[number - 1] = new
    path.write_text("\n".join(lines) + "\n")


def test_csv_corpus_is_read_with_paths_relative_to_the_csv(tmp_path):
    read = read_csv_corpus("mine", write_corpus(tmp_path / "c"), LABEL_MAP)
    assert len(read.utterances) == 6 * 8 and len(read.left_out) == 6 * 2  # fear left out by the map
    first = read.utterances[0]
    assert first.id == "mine_audio__s0_0" and first.path == str(tmp_path / "c" / "audio" / "s0_0.wav")
    assert (first.speaker, first.gender, first.label, first.source_label) == ("spk0", "M", "neu", "neutral")


@pytest.mark.parametrize("line,new,message", [
    (3, "audio/s0_1.wav,happy,,M", r"corpus.csv:3: empty speaker"),
    (4, "audio/nothere.wav,angry,spk0,M", r"corpus.csv:4: audio file .*nothere.wav does not exist"),
    (5, "audio/s0_0.wav,sad,spk0,M", r"corpus.csv:5: utterance id 'mine_audio__s0_0' already on .*corpus.csv:2"),
    (6, "audio/s0_4.wav,fear,spk0,X", r"corpus.csv:6: gender 'X' is not one of M, F"),
    (7, "audio/s0_5.wav,neutral,spk0,M,extra", r"corpus.csv:7: more fields than the header"),
    (1, "file,label,speaker", r"corpus.csv:1: missing column\(s\) path"),
])
def test_bad_rows_name_file_and_line(tmp_path, line, new, message):
    path = write_corpus(tmp_path / "c", n_speakers=1)
    edit_line(path, line, new)
    with pytest.raises(CorpusError, match=message):
        read_csv_corpus("mine", path, LABEL_MAP)


def test_unknown_labels_suggest_the_map_that_fixes_them(tmp_path):
    path = write_corpus(tmp_path / "c", n_speakers=1)
    with pytest.raises(CorpusError) as err:
        read_csv_corpus("mine", path, {})
    assert "corpus.csv:3: label 'happy'" not in str(err.value)
    assert "corpus.csv:4: label 'angry' is not one of neu, hap, ang, sad" in str(err.value)
    suggested = str(err.value).split("--label-map ")[1]
    assert parse_label_map(suggested) == {"angry": "ang", "fear": "-", "happy": "hap", "neutral": "neu"}
    assert len(read_csv_corpus("mine", path, parse_label_map(suggested)).utterances) == 8


def test_broken_audio_is_left_out_as_a_problem_not_fatal(tmp_path):
    path = write_corpus(tmp_path / "c", n_speakers=1)
    (tmp_path / "c" / "audio" / "s0_1.wav").write_bytes(b"RIFF....not a wav")
    read = read_csv_corpus("mine", path, LABEL_MAP)
    assert [p.path.endswith("s0_1.wav") for p in read.problems] == [True]


def test_prepare_command_one_line_error_and_exit_2(tmp_path, capsys):
    path = write_corpus(tmp_path / "c", n_speakers=1)
    assert prepare_cmd.main(["--csv", f"mine={path}", "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and err.count("\n") == 0 and "--label-map" in err
    assert not (tmp_path / "d" / "manifest.jsonl").exists()


def test_prepare_csv_writes_manifest_and_fold_file_v2(tmp_path, capsys):
    path = write_corpus(tmp_path / "c", n_speakers=6)
    out = tmp_path / "d"
    assert prepare_cmd.main(["--csv", f"mine={path}", "--label-map", "neutral=neu,happy=hap,angry=ang,sad=sad,fear=-",
                             "--out", str(out)]) == 0
    utts = load_manifest(out)
    meta = read_json(out / "manifest.meta.json")
    assert meta["fold_file_sha256"] == fold_file_sha256()  # the paper's file is still the one checked
    assert meta["fold_table"]["sha256"] == sha256_file(out / "folds_v2.json") != fold_file_sha256()
    folds = json.loads((out / "folds_v2.json").read_text())["folds"]
    assert set(folds) == {"emodb", "ravdess", "iemocap", "mine"}
    assert make_split(utts, "matched", 2, "mine").fold_file_sha256 == meta["fold_table"]["sha256"]


def test_prepare_refuses_a_bad_name(tmp_path, capsys):
    with pytest.raises(SystemExit):
        prepare_cmd.main(["--csv", f"My-Corpus={tmp_path}/x.csv", "--out", str(tmp_path / "d")])
    assert "lower-case" in capsys.readouterr().err


def make_audformat(root, gender_in_misc=True):
    """An audformat database like audb publishes: files table with speaker, emotion table, speaker misc table."""
    import audformat
    (root / "audio").mkdir(parents=True)
    db = audformat.Database("mydb")
    db.schemes["emotion"] = audformat.Scheme(labels=["anger", "happiness", "neutral", "sadness", "fear"])
    files, emotions, speakers = [], [], []
    for s in range(5):
        for k, emotion in enumerate(["anger", "happiness", "neutral", "sadness", "fear"] * 2):
            rel = f"audio/{s}_{k}.wav"
            sf.write(root / rel, np.full(800, 0.01 * (s + 1)), 16000)
            files.append(rel), emotions.append(emotion), speakers.append(f"sp{s}")
    if gender_in_misc:
        db["speaker"] = audformat.MiscTable(pd.Index(
            [f"sp{s}" for s in range(5)], name="speaker"))
        db.schemes["gender"] = audformat.Scheme(labels=["female", "male"])
        db["speaker"]["gender"] = audformat.Column(scheme_id="gender")
        db["speaker"]["gender"].set(["female", "male"] * 2 + ["female"])
        db.schemes["speaker"] = audformat.Scheme("str", labels="speaker")
    else:
        db.schemes["speaker"] = audformat.Scheme("str")
    index = audformat.filewise_index(files)
    db["files"] = audformat.Table(index)
    db["files"]["speaker"] = audformat.Column(scheme_id="speaker")
    db["files"]["speaker"].set(speakers)
    db["emotion"] = audformat.Table(index)
    db["emotion"]["emotion"] = audformat.Column(scheme_id="emotion")
    db["emotion"]["emotion"].set(emotions)
    db.save(str(root))
    return root


AF_MAP = {"anger": "ang", "happiness": "hap", "neutral": "neu", "sadness": "sad", "fear": "-"}


def test_audformat_database_with_speaker_genders_from_a_misc_table(tmp_path):
    read = read_audformat("afdb", make_audformat(tmp_path / "db"), AF_MAP)
    assert len(read.utterances) == 5 * 8
    assert {(u.speaker, u.gender) for u in read.utterances} == {("sp0", "F"), ("sp1", "M"), ("sp2", "F"),
                                                               ("sp3", "M"), ("sp4", "F")}


def test_audformat_errors_name_table_file_or_expected_layout(tmp_path):
    root = make_audformat(tmp_path / "db", gender_in_misc=False)
    with pytest.raises(CorpusError, match=r"table emotion, file audio/0_0.wav: label 'anger'"):
        read_audformat("afdb", root, {})
    os.remove(root / "audio" / "0_1.wav")
    with pytest.raises(CorpusError, match=r"table emotion, file audio/0_1.wav: audio file .* does not exist"):
        read_audformat("afdb", root, AF_MAP)
    with pytest.raises(CorpusError, match=r"not an audformat database \(expected .*db.yaml"):
        read_audformat("afdb", tmp_path, AF_MAP)


def test_manifest_names_an_undeclared_corpus(tmp_path):
    path = write_corpus(tmp_path / "c", n_speakers=5)
    out = tmp_path / "d"
    assert prepare_cmd.main(["--csv", f"mine={path}", "--label-map", "neutral=neu,happy=hap,angry=ang,sad=sad,fear=-",
                             "--out", str(out)]) == 0
    meta = read_json(out / "manifest.meta.json")
    meta["counts"].pop("mine")
    (out / "manifest.meta.json").write_text(json.dumps(meta))
    with pytest.raises(Exception, match=r"manifest.jsonl:1: unknown corpus 'mine' \(known: emodb, ravdess, iemocap"):
        load_manifest(out)


def test_svm_names_a_corpus_the_manifest_lacks(data_dir, tmp_path, capsys):
    from baseline_svm.cli import main as svm_main

    assert svm_main(["run", "--data", str(data_dir), "--feature-set", "eGeMAPSv02", "--condition", "extended",
                     "--test-corpus", "emodb", "--corpora", "emodb,timit", "--fold", "1", "--out", str(tmp_path)]) == 2
    assert "error: unknown corpus 'timit': the manifest holds emodb, ravdess, iemocap" in capsys.readouterr().err


def test_dnn_dataset_takes_a_csv_corpus_and_records_its_fold_table(tmp_path):
    from s3prl_crosscorpus.superb.dataset import DataSettings, EmotionDataset, load_experiment

    path = write_corpus(tmp_path / "c", n_speakers=6)
    out = tmp_path / "d"
    assert prepare_cmd.main(["--csv", f"mine={path}", "--label-map", "neutral=neu,happy=hap,angry=ang,sad=sad,fear=-",
                             "--out", str(out)]) == 0
    split, by_id = load_experiment(DataSettings.from_config({"data_dir": str(out), "condition": "matched",
                                                             "test_corpus": "mine", "fold": 2}))
    # the DNN's pool is every manifest corpus (as the SVM's), here only "mine"
    assert split == make_split(load_manifest(out), "matched", 2, "mine", corpora=("mine",))
    assert split.fold_file_sha256 == read_json(out / "manifest.meta.json")["fold_table"]["sha256"]
    item = EmotionDataset.from_split(split, by_id, "test")[0]
    assert item[0].ndim == 1 and by_id[split.test[0]].corpus == "mine"
