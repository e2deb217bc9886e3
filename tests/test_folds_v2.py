"""Fold file version 2: the paper's folds pinned, folds for any corpus, test-only corpora, official partitions."""
import hashlib
from collections import Counter
from dataclasses import replace

import pytest

from s3prl_crosscorpus.core.corpora import Utterance
from s3prl_crosscorpus.core.folds import (FOLDS, FoldError, fold_file_sha256, make_split, manifest_folds,
                                          speaker_folds)
from s3prl_crosscorpus.core.io_utils import sha256_file
from s3prl_crosscorpus.core.speaker_folds import assign_folds

#: sha256 of core/folds_v1.json: every existing manifest, result and bundle records it.
V1_SHA256 = "7633fce33cabfa8a78da53e37812326f212f3d7116db9a45371f4903c295a19c"
#: Digest of every (condition, corpus, fold) split of :func:`paper_manifest`, computed with the code before
#: fold files for other corpora existed (s3prl_crosscorpus main at ab52718).
PAPER_SPLITS_SHA256 = "fb51aaed9ec4581165c11607d67b5b1a87fbc3fce7bc8d4e965b8d6ced5c7877"


def utt(corpus, speaker, k, gender="F"):
    label = ("neu", "hap", "ang", "sad")[k % 4]
    return Utterance(id=f"{corpus}_{speaker}_{k:02d}", corpus=corpus, path=f"/x/{corpus}/{speaker}/{k}.wav",
                     speaker=speaker, gender=gender, language="en", label=label, source_label=label,
                     sample_rate=16000, channels=1, num_frames=16000)


def paper_manifest():
    """12 utterances for every speaker of folds_v1.json (a fixed manifest: no audio needed)."""
    return [utt(corpus, speaker, k) for corpus, by_speaker in sorted(speaker_folds().items())
            for speaker in sorted(by_speaker) for k in range(12)]


def corpus(name, n_speakers, per_speaker=12):
    return [utt(name, f"s{s:03d}", k, "MF"[s % 2]) for s in range(n_speakers) for k in range(per_speaker)]


def split_digest(utts):
    digest = hashlib.sha256()
    for test in ("emodb", "ravdess", "iemocap"):
        for condition in ("matched", "extended", "loco"):
            for fold in FOLDS:
                s = make_split(utts, condition, fold, test)
                digest.update(repr((condition, test, fold, s.train, s.dev, s.test)).encode())
    return digest.hexdigest()


def test_v1_fold_file_is_unchanged():
    assert sha256_file(__import__("s3prl_crosscorpus.core.folds", fromlist=["x"]).FOLD_FILE) == V1_SHA256
    assert fold_file_sha256() == V1_SHA256


def test_paper_splits_and_dev_ids_are_pinned():
    utts = paper_manifest()
    assert split_digest(utts) == PAPER_SPLITS_SHA256
    assert {make_split(utts, "matched", 1, "emodb").fold_file_sha256} == {V1_SHA256}


def test_another_corpus_leaves_the_paper_splits_alone_but_changes_the_recorded_hash():
    utts = paper_manifest()
    mixed = utts + corpus("mine", 10)
    for fold in FOLDS:
        for test in ("emodb", "iemocap"):
            a, b = make_split(utts, "matched", fold, test), make_split(mixed, "matched", fold, test)
            assert (a.train, a.dev, a.test) == (b.train, b.dev, b.test)
    table = manifest_folds(mixed)
    assert table.sha256 != V1_SHA256
    assert table.document["folds"]["emodb"] == __import__("json").load(open(
        __import__("s3prl_crosscorpus.core.folds", fromlist=["x"]).FOLD_FILE))["folds"]["emodb"]
    assert make_split(mixed, "matched", 1, "mine").fold_file_sha256 == table.sha256


def test_new_corpus_folds_are_speaker_independent_and_gender_balanced():
    utts = corpus("mine", 10)
    index = {u.id: u for u in utts}
    tested = Counter()
    for fold in FOLDS:
        split = make_split(utts, "matched", fold, "mine", corpora=("mine",))
        test_speakers = {index[i].speaker for i in split.test}
        assert test_speakers.isdisjoint({index[i].speaker for i in split.train + split.dev})
        assert sorted(index[i].gender for i in split.test[::12]) == ["F", "M"]  # one of each gender per fold
        tested.update(test_speakers)
    assert set(tested.values()) == {1} and len(tested) == 10


def test_folds_are_deterministic_and_independent_of_row_order():
    speakers = {f"s{k}": ("MF"[k % 2], 10 + k) for k in range(9)}
    assert assign_folds(speakers, 5) == assign_folds(dict(reversed(list(speakers.items()))), 5)
    utts = corpus("mine", 7)
    assert manifest_folds(utts).sha256 == manifest_folds(list(reversed(utts))).sha256


def test_corpus_with_fewer_speakers_than_folds_is_test_only():
    utts = paper_manifest() + corpus("tess", 2)
    table = manifest_folds(utts)
    assert "tess" in table.test_only
    with pytest.raises(FoldError, match="tess is test-only"):
        make_split(utts, "matched", 1, "tess", corpora=("tess",))
    split = make_split(utts, "extended", 3, "tess", corpora=("emodb", "ravdess", "iemocap", "tess"))
    assert split.train_corpora == ("emodb", "ravdess", "iemocap")
    assert not any(i.startswith("tess_") for i in split.train + split.dev)
    assert sorted(split.test) == sorted(u.id for u in utts if u.corpus == "tess")  # tested whole
    loco = make_split(utts, "loco", 2, "emodb", corpora=("emodb", "ravdess", "tess"))
    assert loco.train_corpora == ("ravdess",)


def test_official_partition_is_a_declared_alternative():
    """Rows carrying an official split (the manifest's partition field) replace speaker folds; more in
    tests/test_official_partition.py."""
    split_of = {"s000": "Test1", "s001": "Test1", "s002": "Development"}
    utts = [replace(u, partition=split_of.get(u.speaker, "Train")) for u in corpus("msppodcast", 6)]
    table = manifest_folds(utts)
    assert table.schemes["msppodcast"] == "official partition"
    for fold in (1, 4):
        split = make_split(utts, "matched", fold, "msppodcast", corpora=("msppodcast",))
        assert {i.split("_")[1] for i in split.test} == {"s000", "s001"}
        assert {i.split("_")[1] for i in split.dev} == {"s002"}
        assert {i.split("_")[1] for i in split.train + split.dev}.isdisjoint({"s000", "s001"})


def test_unknown_corpus_names_what_the_manifest_holds():
    with pytest.raises(FoldError, match="the manifest holds emodb, ravdess, iemocap, mine"):
        make_split(paper_manifest() + corpus("mine", 5), "matched", 1, "savee")


def test_folds_command_writes_v1_bytes_for_a_paper_manifest(data_dir, tmp_path, capsys):
    from s3prl_crosscorpus.commands import folds as folds_cmd

    assert folds_cmd.main(["--data", str(data_dir), "--write", str(tmp_path / "f.json")]) == 0
    assert sha256_file(tmp_path / "f.json") == V1_SHA256
    assert f"sha256 {V1_SHA256}" in capsys.readouterr().out
