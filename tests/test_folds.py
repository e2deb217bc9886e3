"""Properties of the shared folds: speaker independence, coverage, dev draw, conditions."""
import math
from collections import Counter

import pytest

from s3prl_crosscorpus.core.folds import (CONDITIONS, DEV_FRACTION, FOLDS, FoldError, describe, make_split,
                                     speaker_folds)
from s3prl_crosscorpus.core.labels import CORPORA


def by_id(utts):
    return {u.id: u for u in utts}


def speakers(utts, ids):
    index = by_id(utts)
    return {(index[i].corpus, index[i].speaker) for i in ids}


@pytest.mark.parametrize("condition", CONDITIONS)
@pytest.mark.parametrize("corpus", CORPORA)
def test_no_speaker_in_train_and_test(utterances, condition, corpus):
    for fold in FOLDS:
        train = ("emodb", "ravdess") if condition == "transfer" else None  # transfer: a declared training pool
        split = make_split(utterances, condition, fold, corpus, train=train)
        assert not speakers(utterances, split.train + split.dev) & speakers(utterances, split.test)
        assert set(split.train).isdisjoint(split.dev)


@pytest.mark.parametrize("corpus", CORPORA)
def test_every_speaker_tested_exactly_once(utterances, corpus):
    tested = Counter(spk for fold in FOLDS for spk in speakers(utterances, make_split(utterances, "matched", fold, corpus).test))
    assert set(tested) == {(u.corpus, u.speaker) for u in utterances if u.corpus == corpus}
    assert set(tested.values()) == {1}


def test_fold_file_is_gender_balanced_as_protocol_says():
    folds = speaker_folds()
    emodb_m = {"03", "10", "11", "12", "15"}
    for fold in FOLDS:
        emodb = [s for s, f in folds["emodb"].items() if f == fold]
        assert len(emodb) == 2 and len(set(emodb) & emodb_m) == 1
        actors = [int(s[-2:]) for s, f in folds["ravdess"].items() if f == fold]
        males = sum(a % 2 for a in actors)
        assert len(actors) == (4 if fold == 5 else 5) and 2 <= males <= 3 and 2 <= len(actors) - males <= 3
        assert sorted(s for s, f in folds["iemocap"].items() if f == fold) == [f"Ses0{fold}F", f"Ses0{fold}M"]
    assert len(folds["ravdess"]) == 24 and len(folds["emodb"]) == 10


@pytest.mark.parametrize("corpus", CORPORA)
def test_dev_is_a_stratified_tenth_of_the_training_partition(utterances, corpus):
    index = by_id(utterances)
    for fold in FOLDS:
        split = make_split(utterances, "matched", fold, corpus)
        partition = len(split.train) + len(split.dev)
        assert len(split.dev) == math.ceil(DEV_FRACTION * partition)
        dev_counts = Counter(index[i].label for i in split.dev)
        all_counts = Counter(index[i].label for i in split.train + split.dev)
        for label, n in all_counts.items():
            assert abs(dev_counts[label] - n * len(split.dev) / partition) <= 1


def test_dev_is_reproducible_and_depends_on_seed(utterances):
    first = make_split(utterances, "matched", 1, "ravdess", seed=0)
    assert make_split(utterances, "matched", 1, "ravdess", seed=0) == first
    assert make_split(utterances, "matched", 1, "ravdess", seed=1).dev != first.dev
    assert make_split(utterances, "matched", 1, "ravdess", seed=1).test == first.test


def test_extended_train_is_union_of_matched_training_partitions(utterances):
    for fold in FOLDS:
        matched = [make_split(utterances, "matched", fold, c) for c in CORPORA]
        extended = make_split(utterances, "extended", fold)
        assert set(extended.train) == set().union(*(m.train for m in matched))
        assert set(extended.dev) == set().union(*(m.dev for m in matched))
        assert set(extended.test) == set().union(*(m.test for m in matched))
        assert make_split(utterances, "extended", fold, "emodb").test == matched[0].test
        assert make_split(utterances, "extended", fold, "emodb").train == extended.train


def test_loco_trains_on_the_other_corpora_only(utterances):
    split = make_split(utterances, "loco", 2, "emodb")
    index = by_id(utterances)
    assert split.train_corpora == ("ravdess", "iemocap")
    assert {index[i].corpus for i in split.train + split.dev} == {"ravdess", "iemocap"}
    assert {index[i].corpus for i in split.test} == {"emodb"}
    assert split.test == make_split(utterances, "matched", 2, "emodb").test


@pytest.mark.parametrize("kwargs,message", [
    (dict(condition="matched", fold=6, test_corpus="emodb"), "fold 6 does not exist"),
    (dict(condition="crossed", fold=1, test_corpus="emodb"), "unknown condition"),
    (dict(condition="matched", fold=1, test_corpus="savee"), "unknown corpus"),
    (dict(condition="matched", fold=1, test_corpus=None), "needs a test corpus"),
    (dict(condition="loco", fold=1, test_corpus="emodb", corpora=("emodb",)), "at least two corpora"),
])
def test_bad_requests_are_refused(utterances, kwargs, message):
    with pytest.raises(FoldError, match=message):
        make_split(utterances, **kwargs)


def test_missing_corpus_gives_empty_set_error(utterances):
    only_emodb = [u for u in utterances if u.corpus == "emodb"]
    with pytest.raises(FoldError, match="empty"):
        make_split(only_emodb, "matched", 1, "iemocap")


def test_describe_lists_test_speakers_with_gender(utterances):
    text = describe(utterances)
    assert "03(M) 08(F)" in text and "Ses05F(F) Ses05M(M)" in text and "Actor_24(F)" in text
