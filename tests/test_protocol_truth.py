"""The protocol's facts checked against independent truth (PROTOCOL.md and docs/corpora.md), not the code:
fold membership, the fold file's hash, the dev draw's independence of manifest order, the published
numbers, and UAR versus accuracy on imbalanced data."""
import random
from dataclasses import replace

import pytest

from s3prl_crosscorpus.core.folds import FOLD_FILE, fold_file_sha256, make_split, speaker_folds
from s3prl_crosscorpus.core.io_utils import sha256_file
from s3prl_crosscorpus.core.metrics import scores, uar
from s3prl_crosscorpus.results.paper import PAPER_UAR

#: docs/corpora.md "Protocol decisions": the fold lists, written out independently of the fold file.
README_FOLDS = {
    "emodb": {1: {"03", "08"}, 2: {"10", "09"}, 3: {"11", "13"}, 4: {"12", "14"}, 5: {"15", "16"}},
    "ravdess": {k: {f"Actor_{a:02d}" for a in actors}
                for k, actors in enumerate([range(1, 6), range(6, 11), range(11, 16), range(16, 21), range(21, 25)], 1)},
    "iemocap": {k: {f"Ses{k:02d}F", f"Ses{k:02d}M"} for k in range(1, 6)},
}
#: SHA-256 of folds_v1.json version 1: any edit to the fold file must be a new version.
FOLDS_V1_SHA256 = "7633fce33cabfa8a78da53e37812326f212f3d7116db9a45371f4903c295a19c"

#: PROTOCOL.md "Published numbers to compare against" (UAR %, matched / extended), all 24 figures.
PROTOCOL_TABLE = {
    "GeMAPS-SVM": {"emodb": (78.21, 77.40), "ravdess": (60.43, 64.06), "iemocap": (58.91, 58.52)},
    "eGeMAPS-SVM": {"emodb": (78.94, 79.67), "ravdess": (61.28, 63.91), "iemocap": (59.58, 59.79)},
    "ComParE-SVM": {"emodb": (82.50, 83.53), "ravdess": (65.60, 67.81), "iemocap": (62.79, 63.54)},
    "HuBERT-Linear": {"iemocap": (65.60, 65.86)},
    "HuBERT-CNNSelfAtt": {"iemocap": (65.53, 67.58)},
    "HuBERT-Transformer": {"iemocap": (64.48, 67.03)},
}


def test_fold_file_matches_the_documented_fold_lists():
    by_fold = {corpus: {} for corpus in README_FOLDS}
    for corpus, speakers in speaker_folds().items():
        for speaker, fold in speakers.items():
            by_fold[corpus].setdefault(fold, set()).add(speaker)
    assert by_fold == README_FOLDS


def test_fold_file_hash_is_pinned():
    assert sha256_file(FOLD_FILE) == fold_file_sha256() == FOLDS_V1_SHA256


def test_dev_draw_does_not_depend_on_manifest_order(utterances):
    shuffled = list(utterances)
    random.Random(7).shuffle(shuffled)
    for condition, corpus in (("matched", "ravdess"), ("extended", None), ("loco", "emodb")):
        a = make_split(utterances, condition, 2, corpus)
        b = make_split(shuffled, condition, 2, corpus)
        assert (sorted(a.train), sorted(a.dev), sorted(a.test)) == (sorted(b.train), sorted(b.dev), sorted(b.test))


def test_dev_draw_depends_on_the_seed_and_is_stratified(utterances):
    a, b = (make_split(utterances, "matched", 1, "ravdess", seed=s) for s in (0, 1))
    assert set(a.dev) != set(b.dev) and len(a.dev) == len(b.dev)
    labels = {u.id: u.label for u in utterances}
    counts = [sum(labels[i] == lab for i in a.dev) for lab in ("neu", "hap", "ang", "sad")]
    assert max(counts) - min(counts) <= 2  # 10% of a balanced partition, stratified


def test_all_published_numbers_are_pinned():
    expected = {(system, condition, corpus): pair[k]
                for system, by_corpus in PROTOCOL_TABLE.items()
                for corpus, pair in by_corpus.items()
                for k, condition in enumerate(("matched", "extended"))}
    assert len(expected) == 24
    assert PAPER_UAR == expected


def test_uar_and_accuracy_differ_on_imbalanced_data():
    # 30 neu / 10 hap / 5 ang / 5 sad; a majority-class predictor has WA 0.6 and UAR 0.25.
    truth = ["neu"] * 30 + ["hap"] * 10 + ["ang"] * 5 + ["sad"] * 5
    majority = ["neu"] * 50
    assert uar(truth, majority) == pytest.approx(0.25)
    assert scores(truth, majority)["wa"] == pytest.approx(0.6)
    # Right on every minority utterance, wrong on half of neu: hand-computed recalls 0.5, 1, 1, 1.
    better = ["hap"] * 15 + ["neu"] * 15 + ["hap"] * 10 + ["ang"] * 5 + ["sad"] * 5
    result = scores(truth, better)
    assert result["uar"] == pytest.approx((0.5 + 1 + 1 + 1) / 4)
    assert result["wa"] == pytest.approx(35 / 50)
    assert result["per_class_recall"] == {"neu": 0.5, "hap": 1.0, "ang": 1.0, "sad": 1.0}
    # macro-F1 by hand: neu P=1 R=.5 F=2/3; hap P=10/25 R=1 F=4/7; ang, sad F=1.
    assert result["macro_f1"] == pytest.approx((2 / 3 + 4 / 7 + 1 + 1) / 4)
    assert result["confusion_matrix"][0] == [15, 15, 0, 0]


def test_split_ids_survive_a_renamed_utterance_object(utterances):
    """Splits are functions of ids and speakers only: equal records give equal splits."""
    copies = [replace(u) for u in utterances]
    assert make_split(copies, "extended", 3) == make_split(utterances, "extended", 3)
