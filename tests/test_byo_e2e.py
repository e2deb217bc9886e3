"""A CSV corpus and an audformat database beside the paper's synthetic corpora: prepare, folds, the SVM,
leaderboard and bundle (issue 21, "bring your own corpus")."""
import json
from pathlib import Path

import pandas as pd
import pytest

from baseline_svm.cli import main as svm_main
from s3prl_crosscorpus.commands import folds as folds_cmd
from s3prl_crosscorpus.commands import leaderboard as leaderboard_cmd
from s3prl_crosscorpus.commands import prepare as prepare_cmd
from s3prl_crosscorpus.commands import submit, validate
from s3prl_crosscorpus.core.folds import FOLDS, fold_file_sha256, make_split
from s3prl_crosscorpus.core.io_utils import read_json
from s3prl_crosscorpus.core.labels import LABELS
from s3prl_crosscorpus.core.manifest import load_manifest
from s3prl_crosscorpus.demo.synth import speaker_voice, voiced, write_wav

EMOTION_OF = {"neu": "neutral", "hap": "happy", "ang": "angry", "sad": "sad"}


def synth_rows(root: Path, speakers: int, per_class: int, seed: int):
    """(relative path, source label, speaker, gender) of synthetic emotional speech written under ``root``."""
    rows = []
    for s in range(speakers):
        gender = "FM"[s % 2]
        for label in LABELS:
            for k in range(per_class):
                rel = f"audio/spk{s}/{label}_{k}.wav"
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                write_wav(root / rel, voiced(label, speaker_voice(gender, s + 20), 16000, seed, rel, None), 16000)
                rows.append((rel, EMOTION_OF[label], f"spk{s}", gender))
    return rows


def write_csv_corpus(root: Path) -> Path:
    rows = synth_rows(root, speakers=6, per_class=3, seed=11)
    lines = ["path,label,speaker,gender"] + [",".join(r) for r in rows]
    (root / "corpus.csv").write_text("\n".join(lines) + "\n")
    return root / "corpus.csv"


def write_audformat(root: Path) -> Path:
    import audformat

    rows = synth_rows(root, speakers=2, per_class=2, seed=12)  # 2 speakers: a test-only corpus
    db = audformat.Database("tiny")
    db.schemes["emotion"] = audformat.Scheme(labels=sorted(EMOTION_OF.values()))
    db.schemes["gender"] = audformat.Scheme(labels=["female", "male"])
    db["speaker"] = audformat.MiscTable(pd.Index(["spk0", "spk1"], name="speaker"))
    db["speaker"]["gender"] = audformat.Column(scheme_id="gender")
    db["speaker"]["gender"].set(["female", "male"])
    db.schemes["speaker"] = audformat.Scheme("str", labels="speaker")
    index = audformat.filewise_index([r[0] for r in rows])
    db["files"] = audformat.Table(index)
    db["files"]["speaker"] = audformat.Column(scheme_id="speaker")
    db["files"]["speaker"].set([r[2] for r in rows])
    db["files"]["emotion"] = audformat.Column(scheme_id="emotion")
    db["files"]["emotion"].set([r[1] for r in rows])
    db.save(str(root))
    return root


@pytest.mark.e2e
def test_csv_and_audformat_corpora_through_prepare_folds_svm_leaderboard_bundle(synth_roots, utterances,
                                                                                 tmp_path, capsys):
    csv_path, db_root, data = write_csv_corpus(tmp_path / "csvc"), write_audformat(tmp_path / "afdb"), tmp_path / "d"
    label_map = "neutral=neu,happy=hap,angry=ang,sad=sad"
    assert prepare_cmd.main([*(f"--{c}={r}" for c, r in synth_roots.items()), "--csv", f"mine={csv_path}",
                             "--audformat", f"tiny={db_root}", "--label-map", label_map, "--out", str(data)]) == 0
    mixed = load_manifest(data)
    assert {u.corpus for u in mixed} == {"emodb", "ravdess", "iemocap", "mine", "tiny"}
    assert {(u.speaker, u.gender) for u in mixed if u.corpus == "tiny"} == {("spk0", "F"), ("spk1", "M")}
    # The paper's corpora keep every split and dev id of a paper-only manifest.
    for fold in FOLDS:
        a, b = make_split(utterances, "matched", fold, "ravdess"), make_split(mixed, "matched", fold, "ravdess")
        assert (a.train, a.dev, a.test) == (b.train, b.dev, b.test)
    capsys.readouterr()
    assert folds_cmd.main(["--data", str(data)]) == 0
    printed = capsys.readouterr().out
    assert "== mine (72 utterances, 6 speakers; speaker k-fold (folds_v2))" in printed
    assert "TEST-ONLY" in printed.split("== tiny")[1]
    v2_sha = read_json(data / "manifest.meta.json")["fold_table"]["sha256"]
    assert v2_sha != fold_file_sha256()

    results, cache = tmp_path / "results", tmp_path / "cache"
    common = ["--data", str(data), "--feature-set", "GeMAPSv01b", "--grid", "coarse", "--cache", str(cache),
              "--out", str(results), "--fold", "all", "--n-jobs", "1"]
    assert svm_main(["run", *common, "--condition", "matched", "--test-corpus", "mine"]) == 0
    # tiny is test-only: matched is refused in one line, loco from a pool without it works.
    assert svm_main(["run", *common, "--condition", "matched", "--test-corpus", "tiny"]) == 2
    assert "tiny is test-only" in capsys.readouterr().err
    assert svm_main(["run", *common, "--condition", "loco", "--test-corpus", "tiny",
                     "--corpora", "mine,tiny"]) == 0
    written = [read_json(p) for p in sorted(results.rglob("fold*.json")) if "model" not in p.name]
    assert {(r["condition"], r["test_corpus"]) for r in written} == {("matched", "mine"), ("loco", "tiny")}
    assert {r["fold_file_sha256"] for r in written} == {v2_sha}
    loco = [r for r in written if r["condition"] == "loco"]
    assert all(r["train_corpora"] == ["mine"] and r["sizes"]["test"] == 16 for r in loco)

    capsys.readouterr()
    assert leaderboard_cmd.main([str(results), "--format", "json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert leaderboard_cmd.main([str(results), "--format", "md"]) == 0
    assert "not the installed folds_v1.json" in capsys.readouterr().err
    assert leaderboard_cmd.main([str(results), "--format", "md", "--data", str(data)]) == 0
    assert "not the installed" not in capsys.readouterr().err  # the manifest's own fold table
    assert [c["corpus"] for c in table["columns"]][:1] == ["mine"] and "tiny" in [c["corpus"] for c in table["columns"]]
    assert all(c["complete"] for c in table["cells"])
    bundle = tmp_path / "b.zip"
    assert submit.main([str(results), "-o", str(bundle), "--no-plots"]) == 0
    assert validate.main([str(bundle), "--data", str(data)]) == 0
