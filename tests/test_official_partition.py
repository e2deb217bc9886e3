"""MSP-Podcast's official partition as a declared alternative to speaker folds (GitHub issue 21): the reader, the
prepare flag, the manifest field (unchanged bytes without it), the fold table, make_split, validate and one SVM run
through the real commands."""
import json
import random
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import pytest

from s3prl_crosscorpus.commands import prepare as prepare_cmd
from s3prl_crosscorpus.core.corpora import Utterance
from s3prl_crosscorpus.core.corpora.msppodcast import OFFICIAL_ROLES, msppodcast_splits
from s3prl_crosscorpus.core import folds as folds_module
from s3prl_crosscorpus.core.folds import FOLDS, FoldError, describe, make_split, manifest_folds, speaker_folds
from s3prl_crosscorpus.core.io_utils import sha256_file, write_jsonl
from s3prl_crosscorpus.core.labels import LABELS
from s3prl_crosscorpus.core.manifest import ManifestError, load_manifest
from s3prl_crosscorpus.demo.registry_synth import synthesize_registry
from s3prl_crosscorpus.results.schema import make_result, result_path, write_result
from s3prl_crosscorpus.submission.bundle import build_bundle
from s3prl_crosscorpus.results.stats import StatsConfig
from s3prl_crosscorpus.submission.validate import validate_bundle

#: Digests of :func:`fixed_utterances` written as a manifest and of its fold table (a paper corpus set plus
#: CREMA-D), computed with the code before the partition field existed (branch s2-official at 2baa080).
FIXED_MANIFEST_SHA256 = "e83c1caf68a98c62c18b5be6168f5b1a77e696d9401080030334dbaeeb5a31fd"
FIXED_FOLDS_SHA256 = "3305eccda8944ecb62563f637a5e3bf76d03c67d47a4e0b80a7f5e851d7f5027"
#: speaker index -> Split_Set of :func:`podcast` (as the synthetic tree: 6 Train, 2 each of the others)
SPLITS = ("Train",) * 6 + ("Development",) * 2 + ("Test1",) * 2 + ("Test2",) * 2


def fixed_utterances():
    """Four utterances per speaker of every folds_v1.json corpus and of six CREMA-D speakers (no audio needed)."""
    corpora = {c: sorted(s) for c, s in sorted(speaker_folds().items())}
    corpora["cremad"] = [str(1001 + s) for s in range(6)]
    return [Utterance(id=f"{c}_{s}_{k}", corpus=c, path=f"/corpora/{c}/{s}/{k}.wav", speaker=s, gender="MF"[n % 2],
                      language="en", label=LABELS[k % 4], source_label=LABELS[k % 4], sample_rate=16000, channels=1,
                      num_frames=16000 + k)
            for c, speakers in corpora.items() for n, s in enumerate(speakers) for k in range(4)]


def podcast(splits=SPLITS, per_speaker=8):
    """MSP-Podcast rows carrying their official split (speaker 100 + s has split ``splits[s]``)."""
    return [Utterance(id=f"msppodcast_{s:03d}_{k:02d}", corpus="msppodcast", path=f"/msp/{s}/{k}.wav",
                      speaker=str(100 + s), gender="FM"[s % 2], language="en", label=LABELS[k % 4],
                      source_label=LABELS[k % 4], sample_rate=16000, channels=1, num_frames=16000, partition=split)
            for s, split in enumerate(splits) for k in range(per_speaker)]


def ids_of(utts, split):
    return sorted(u.id for u in utts if u.partition == split)


# --- reader and synthetic tree ---------------------------------------------------------------------------------

def test_synthetic_tree_has_speaker_disjoint_official_splits_read_by_the_real_reader(tmp_path):
    root = synthesize_registry(tmp_path, ["msppodcast"], per_class=1, audio="tiny")["msppodcast"]
    splits = msppodcast_splits(root)
    from s3prl_crosscorpus.core.corpora import READERS
    read = READERS["msppodcast"](root)
    by_speaker = defaultdict(set)
    for u in read.utterances:
        by_speaker[u.speaker].add(splits[u.id])
    assert all(len(s) == 1 for s in by_speaker.values())  # one split per speaker, as in the real corpus
    per_split = defaultdict(set)
    for speaker, (split,) in by_speaker.items():
        per_split[split].add(next(u.gender for u in read.utterances if u.speaker == speaker))
    assert {s: len([k for k, v in by_speaker.items() if v == {s}]) for s in per_split} == \
        {"Train": 6, "Development": 2, "Test1": 2, "Test2": 2}
    assert all(genders == {"F", "M"} for genders in per_split.values())  # both genders in every split
    assert set(OFFICIAL_ROLES) == {"Train", "Development", "Test1"}


# --- prepare and the manifest ----------------------------------------------------------------------------------

def test_prepare_flag_writes_each_rows_split_and_refuses_corpora_without_one(tmp_path, capsys):
    root = synthesize_registry(tmp_path / "c", ["msppodcast"], per_class=1, audio="tiny")["msppodcast"]
    assert prepare_cmd.main(["--msppodcast", str(root), "--official-partition", "msppodcast",
                             "--out", str(tmp_path / "official")]) == 0
    out = capsys.readouterr().out
    assert "official partition, utterances per split: Train 24 (train), Development 8 (dev), Test1 8 (test), " \
           "Test2 8 (in no set)" in out
    rows = [json.loads(line) for line in (tmp_path / "official" / "manifest.jsonl").read_text().splitlines()]
    assert {r["partition"] for r in rows} == {"Train", "Development", "Test1", "Test2"}
    splits = msppodcast_splits(root)
    assert all(r["partition"] == splits[r["id"]] for r in rows)
    assert {u.partition for u in load_manifest(tmp_path / "official")} == {"Train", "Development", "Test1", "Test2"}
    # without the declaration: speaker folds, and no row carries the field
    assert prepare_cmd.main(["--msppodcast", str(root), "--out", str(tmp_path / "folds")]) == 0
    assert "partition" not in (tmp_path / "folds" / "manifest.jsonl").read_text()
    assert manifest_folds(load_manifest(tmp_path / "folds")).schemes["msppodcast"] == "speaker k-fold (folds_v2)"
    capsys.readouterr()
    cremad = synthesize_registry(tmp_path / "c", ["cremad"], per_class=1, audio="tiny")["cremad"]
    for argv, message in (
            (["--cremad", str(cremad), "--official-partition", "cremad"],
             "error: --official-partition cremad: CREMA-D has no official partition (corpora with one: msppodcast)"),
            (["--cremad", str(cremad), "--official-partition", "msppodcast"],
             "error: --official-partition msppodcast: give its root too (--msppodcast DIR)")):
        assert prepare_cmd.main(argv + ["--out", str(tmp_path / "refused")]) == 2
        assert capsys.readouterr().err.strip() == message
    assert not (tmp_path / "refused").exists()


def test_a_manifest_without_partitions_keeps_its_bytes_and_fold_hash(tmp_path):
    utts = fixed_utterances()
    write_jsonl(tmp_path / "m.jsonl", (u.to_dict() for u in utts))
    assert sha256_file(tmp_path / "m.jsonl") == FIXED_MANIFEST_SHA256
    assert manifest_folds(utts).sha256 == FIXED_FOLDS_SHA256  # a folds_v2 table with a registry corpus
    assert replace(utts[0], partition="Train").to_dict()["partition"] == "Train"


def test_load_manifest_refuses_a_partition_that_is_not_a_name(tmp_path):
    row = {**fixed_utterances()[0].to_dict(), "partition": 3}
    (tmp_path / "manifest.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(ManifestError, match=r"manifest.jsonl:1: partition must be the corpus' official split name"):
        load_manifest(tmp_path, check_paths=False)


# --- fold table --------------------------------------------------------------------------------------------------

def test_fold_table_uses_the_official_splits_and_records_them():
    utts = podcast()
    table = manifest_folds(utts)
    assert table.schemes["msppodcast"] == "official partition"
    fold_of = {u.id: folds_module.test_fold_of(u, table) for u in utts}
    assert {fold_of[i] for i in ids_of(utts, "Test1")} == {0}  # tested in every fold
    assert {fold_of[i] for i in ids_of(utts, "Train") + ids_of(utts, "Development")} == {-1}
    assert {fold_of[i] for i in ids_of(utts, "Test2")} == {-2}  # in no set
    entry = table.document["official"]["msppodcast"]
    assert entry["roles"] == {"Train": "train", "Development": "dev", "Test1": "test", "Test2": ""}
    assert entry["utterances"] == {"Train": 48, "Development": 16, "Test1": 16, "Test2": 16}
    assert table.document["folds"]["msppodcast"]["Test1"] == ["108", "109"]
    assert table.document["official_test_ids"]["msppodcast"] == ids_of(utts, "Test1")
    moved = [replace(u, partition="Test1") if u.id == ids_of(utts, "Test2")[0] else u for u in utts]
    assert manifest_folds(moved).sha256 != table.sha256  # the hash follows the partition, row by row
    assert manifest_folds(list(reversed(utts))).sha256 == table.sha256  # not the row order


def test_a_speaker_in_two_official_splits_is_refused_with_its_counts():
    utts = podcast()
    leaked = [replace(u, speaker="100") if u.speaker == "108" and u.label == "neu" else u for u in utts]
    with pytest.raises(FoldError, match=r"msppodcast: the official partition is not speaker-independent: speaker "
                                        r"100 has 8 utterance\(s\) in Train, 2 utterance\(s\) in Test1; .*Prepare "
                                        r"without --official-partition msppodcast"):
        manifest_folds(leaked)
    test2 = [replace(u, speaker="100") if u.speaker == "110" else u for u in utts]  # Test2 is in no set: no leak
    assert manifest_folds(test2).schemes["msppodcast"] == "official partition"


def test_partitions_on_corpora_without_an_official_one_are_refused():
    cremad = [replace(u, partition="Train") for u in fixed_utterances() if u.corpus == "cremad"]
    with pytest.raises(FoldError, match="cremad: its manifest rows carry official splits \\(Train\\) but cremad has "
                                        "no official partition"):
        manifest_folds(cremad)
    emodb = [replace(u, partition="Train") if u.corpus == "emodb" else u for u in fixed_utterances()]
    with pytest.raises(FoldError, match="emodb: .* the paper's corpora keep the folds of folds_v1.json"):
        manifest_folds(emodb)


# --- splits ------------------------------------------------------------------------------------------------------

def test_every_condition_tests_test1_and_tunes_on_development():
    paper = [u for u in fixed_utterances() if u.corpus != "cremad"]
    utts = paper + podcast()
    train, dev, test = ids_of(utts, "Train"), ids_of(utts, "Development"), ids_of(utts, "Test1")
    pool = ("emodb", "ravdess", "iemocap", "msppodcast")
    for fold in FOLDS:
        matched = make_split(utts, "matched", fold, "msppodcast", corpora=pool)
        assert (sorted(matched.train), sorted(matched.dev), sorted(matched.test)) == (train, dev, test)
        assert matched.official_tests == (("msppodcast", "Test1"),)
        extended = make_split(utts, "extended", fold, corpora=pool)
        mine = lambda ids: sorted(i for i in ids if i.startswith("msppodcast_"))
        assert (mine(extended.train), mine(extended.dev), mine(extended.test)) == (train, dev, test)
        assert sorted(make_split(utts, "loco", fold, "msppodcast", corpora=pool).test) == test
        transfer = make_split(utts, "transfer", fold, corpora=pool, train=("msppodcast",))
        assert mine(transfer.test) == test and sorted(transfer.dev) == dev
        assert not set(ids_of(utts, "Test2")) & set(extended.train + extended.dev + extended.test)
        # the paper's corpora keep their own splits
        assert make_split(utts, "matched", fold, "emodb", corpora=pool).test == \
            make_split(paper, "matched", fold, "emodb").test
    text = describe(podcast())
    assert "OFFICIAL PARTITION: train = Train (48 utterances, 6 speakers), dev = Development (16 utterances, 2 " \
           "speakers), test = Test1 (16 utterances, 2 speakers); the same sets in every fold" in text
    assert "LEFT OUT (not train, dev or test): Test2 16 utterances (2 speakers)" in text
    assert " 1-5  108(F) 109(M)" in text


# --- validate ----------------------------------------------------------------------------------------------------

def write_cell(results: Path, utts, extra=None, record=True):
    """The five fold results of one matched MSP-Podcast cell; ``extra``: fold -> more test ids."""
    label = {u.id: u.label for u in utts}
    rng = random.Random(0)
    for fold in FOLDS:
        split = make_split(utts, "matched", fold, "msppodcast", corpora=("msppodcast",))
        split = replace(split, test=split.test + tuple((extra or {}).get(fold, ())),
                        official_tests=split.official_tests if record else ())
        labels = [label[i] for i in split.test]
        result = make_result(system="GeMAPS-SVM", family="svm", features="GeMAPSv01b", head=None, split=split,
                             test_corpus="msppodcast", seed=0, hyperparameters={"C": 1.0}, dev_uar=0.5,
                             ids=split.test, labels=labels, speakers=[i.split("_")[1] for i in split.test],
                             predictions=[lab if rng.random() < 0.7 else "neu" for lab in labels],
                             versions={"s3prl_crosscorpus": "test", "python": "3"})
        write_result(result_path(results, "GeMAPS-SVM", "matched", "msppodcast", fold), result)


@pytest.mark.parametrize("case", ["official", "not recorded", "one fold differs"])
def test_validate_accepts_the_official_test_set_in_every_fold_and_still_catches_a_leak(tmp_path, case):
    utts = podcast()
    extra = {3: ids_of(utts, "Train")[:2]} if case == "one fold differs" else None
    write_cell(tmp_path / "results", utts, extra, record=case != "not recorded")
    build_bundle(tmp_path / "results", tmp_path / "b.zip", plots=False, config=StatsConfig(resamples=10))
    found = validate_bundle(tmp_path / "b.zip")
    if case == "official":
        assert found.ok, found.problems
        return
    disjoint = [p for p in found.problems if "tested in more than one fold" in p]
    assert len(disjoint) == 1 and disjoint[0].startswith("GeMAPS-SVM/matched/msppodcast: ")


# --- one SVM run through the real commands -----------------------------------------------------------------------

@pytest.mark.e2e
def test_svm_on_msp_official_partition_through_the_commands(tmp_path, capsys):
    from baseline_svm.cli import main as svm_main
    from s3prl_crosscorpus.commands import folds as folds_cmd
    from s3prl_crosscorpus.commands import submit as submit_cmd
    from s3prl_crosscorpus.commands import validate as validate_cmd

    root = synthesize_registry(tmp_path / "c", ["msppodcast"], per_class=1, audio="voiced")["msppodcast"]
    data, results = tmp_path / "data", tmp_path / "results"
    assert prepare_cmd.main(["--msppodcast", str(root), "--official-partition", "msppodcast", "--out", str(data)]) == 0
    assert folds_cmd.main(["--data", str(data), "--write", str(tmp_path / "folds.json")]) == 0
    printed = capsys.readouterr().out
    assert "LEFT OUT (not train, dev or test): Test2 8 utterances (2 speakers)" in printed
    assert sha256_file(tmp_path / "folds.json") == json.loads((data / "manifest.meta.json").read_text())[
        "fold_table"]["sha256"]
    assert svm_main(["run", "--data", str(data), "--feature-set", "GeMAPSv01b", "--condition", "matched",
                     "--test-corpus", "msppodcast", "--fold", "all", "--grid", "coarse", "--n-jobs", "1",
                     "--out", str(results), "--cache", str(tmp_path / "cache")]) == 0
    utts = load_manifest(data)
    from s3prl_crosscorpus.superb.dataset import DataSettings, load_experiment  # the DNN's split: the same sets
    dnn, _ = load_experiment(DataSettings(str(data), "matched", "msppodcast", fold=4))
    assert (sorted(dnn.dev), sorted(dnn.test)) == (ids_of(utts, "Development"), ids_of(utts, "Test1"))
    tests = set()
    for fold in FOLDS:
        result = json.loads((results / "GeMAPS-SVM" / "matched" / "msppodcast" / f"fold{fold}.json").read_text())
        assert result["test_partition"] == "Test1"
        assert result["sizes"] == {"train": 24, "dev": 8, "test": 8}
        tests.add(frozenset(row["id"] for row in result["predictions"]))
    assert tests == {frozenset(ids_of(utts, "Test1"))}
    assert submit_cmd.main([str(results), "-o", str(tmp_path / "bundle.zip"), "--no-plots", "--data", str(data),
                            "--resamples", "10"]) == 0
    capsys.readouterr()
    assert validate_cmd.main([str(tmp_path / "bundle.zip"), "--data", str(data)]) == 0
    assert "bundle.zip: OK: 1 system(s), 1 cell(s) x 5 folds" in capsys.readouterr().out
    from s3prl_crosscorpus.commands import leaderboard as leaderboard_cmd
    assert leaderboard_cmd.main([str(results), "--data", str(data), "--format", "json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert table["cells"][0]["test_corpus"] == "msppodcast" and table["cells"][0]["complete"]


# --- study file and run.sh ---------------------------------------------------------------------------------------

STUDY = """corpora:
  emodb: synthetic
  msppodcast: {partition: official}
conditions: [matched]
systems:
  svm: {feature_sets: [GeMAPSv01b], grid: coarse}
"""


def test_study_file_partition_key_reaches_run_sh_as_a_prepare_flag(tmp_path, capsys):
    from s3prl_crosscorpus.commands import study_file

    (tmp_path / "study.yaml").write_text(STUDY)
    assert study_file.main(["settings", str(tmp_path / "study.yaml")]) == 0
    words = capsys.readouterr().out.split("\0")
    settings = dict(zip(words[::2], words[1::2]))
    assert settings["--official-partition"] == "msppodcast" and settings["--synth-registry"] == "msppodcast"
    for entry, problem in (("cremad: {root: /x, partition: official}",
                            "corpora.cremad.partition: cremad has no official partition (corpora with one: "
                            "msppodcast)"),
                           ("msppodcast: {csv: m.csv, partition: official}",
                            "corpora.msppodcast.partition: an official partition is read by msppodcast's reader: "
                            "give its root ({root: DIR}), not csv"),
                           ("msppodcast: {root: /x, partition: folds}",
                            "corpora.msppodcast.partition: must be 'official'")):
        (tmp_path / "bad.yaml").write_text(STUDY.replace("msppodcast: {partition: official}", entry))
        assert study_file.main(["check", str(tmp_path / "bad.yaml")]) == 2
        assert capsys.readouterr().err.startswith(f"error: {tmp_path / 'bad.yaml'}: {problem}")


@pytest.mark.e2e
def test_run_sh_study_prepares_the_official_partition(tmp_path):
    import os
    import subprocess

    repo = Path(__file__).resolve().parent.parent
    (tmp_path / "study.yaml").write_text(STUDY)
    done = subprocess.run(["bash", str(repo / "recipes" / "run.sh"), "--study", str(tmp_path / "study.yaml"),
                           "--synth-per-class", "1", "--stop-stage", "0", "--out", str(tmp_path / "out")],
                          env=dict(os.environ, PYTHONPATH=str(repo)), capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    utts = load_manifest(tmp_path / "out" / "data")
    assert {u.partition for u in utts if u.corpus == "msppodcast"} == {"Train", "Development", "Test1", "Test2"}
    assert {u.partition for u in utts if u.corpus != "msppodcast"} == {""}
    assert "OFFICIAL PARTITION: train = Train" in (tmp_path / "out" / "folds.txt").read_text()


def test_the_probe_never_trains_on_an_official_split_in_no_set():
    import numpy as np

    from s3prl_crosscorpus.domain.probe import fold_masks

    utts = podcast()
    table = manifest_folds(utts)
    folds = np.array([folds_module.test_fold_of(u, table) for u in utts])
    train, test = fold_masks(folds, 2)
    ids = np.array([u.id for u in utts])
    assert sorted(ids[train]) == sorted(ids_of(utts, "Train") + ids_of(utts, "Development"))
    assert sorted(ids[test]) == ids_of(utts, "Test1")  # Test2 is in neither
