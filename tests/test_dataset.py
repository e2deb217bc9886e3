"""The downstream's dataset: the shared split, 16 kHz mono audio, ids and corpora, balancing, clear errors."""
import shutil
from collections import Counter

import numpy as np
import pytest
import soundfile as sf

from s3prl_crosscorpus.superb.dataset import (ConfigError, DataSettings, EmotionDataset, balanced_sampler, class_weights,
                                       collate, load_experiment)
from s3prl_crosscorpus.core.folds import make_split
from s3prl_crosscorpus.core.io_utils import read_json, write_json
from s3prl_crosscorpus.core.labels import LABEL_TO_INDEX


def settings(data_dir, **datarc) -> DataSettings:
    return DataSettings.from_config({"data_dir": str(data_dir), **datarc})


@pytest.mark.parametrize("condition,test_corpus", [("matched", "ravdess"), ("extended", None), ("loco", "emodb")])
def test_split_is_the_shared_make_split(data_dir, utterances, condition, test_corpus):
    split, by_id = load_experiment(settings(data_dir, condition=condition, test_corpus=test_corpus, fold=3, seed=0))
    assert split == make_split(utterances, condition, 3, test_corpus, seed=0)
    for name in ("train", "dev", "test"):
        assert EmotionDataset.from_split(split, by_id, name).ids == list(getattr(split, name))


def test_pool_and_seed_select_the_utterances(data_dir, utterances):
    split, _ = load_experiment(settings(data_dir, condition="extended", corpora=["emodb", "iemocap"], seed=5))
    assert split == make_split(utterances, "extended", 1, None, corpora=("emodb", "iemocap"), seed=5)
    assert {i.split("_")[0] for i in split.train + split.test} == {"emodb", "iemocap"}


def test_items_are_16k_mono_with_label_id_and_corpus(data_dir, utterances):
    split, by_id = load_experiment(settings(data_dir, condition="matched", test_corpus="ravdess"))
    dataset = EmotionDataset.from_split(split, by_id, "train")
    stereo = next(k for k, u in enumerate(dataset.utterances) if u.channels == 2)
    utt = dataset.utterances[stereo]
    assert utt.sample_rate == 48000
    wave, label, utt_id, corpus = dataset[stereo]
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(len(wave) - utt.num_frames / 3) <= 1  # 48 kHz -> 16 kHz
    native, rate = sf.read(utt.path, dtype="float32")
    assert native.ndim == 2 and rate == 48000
    assert (label, utt_id, corpus) == (LABEL_TO_INDEX[utt.label], utt.id, "ravdess")

    wavs, labels, ids, corpora = collate([dataset[0], dataset[stereo]])
    assert [len(w) for w in wavs] == [len(dataset[0][0]), len(wave)]
    assert ids == [dataset.utterances[0].id, utt.id] and corpora == ["ravdess", "ravdess"]
    assert labels == [LABEL_TO_INDEX[dataset.utterances[0].label], label]


def test_class_balancing_options(data_dir):
    labels = [0] * 30 + [1] * 10 + [2] * 10 + [3] * 50
    weights = class_weights(labels)
    counts = np.bincount(labels)
    assert np.isclose(float((weights.numpy() * counts).sum()), len(labels))  # mean weight 1 over the data
    assert weights[3] < weights[0] < weights[1] == weights[2]
    many = labels * 20
    drawn = Counter(many[i] for i in balanced_sampler(many, seed=0))
    assert min(drawn.values()) > 0.8 * max(drawn.values())
    assert list(balanced_sampler(labels, seed=3)) == list(balanced_sampler(labels, seed=3))
    with pytest.raises(ConfigError, match="missing"):
        class_weights([0, 1, 1])
    assert settings(data_dir).balance == "none"
    with pytest.raises(ConfigError, match="balance"):
        settings(data_dir, balance="oversample")


def fold_file_mismatch(data_dir, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    meta = read_json(copy / "manifest.meta.json")
    write_json(copy / "manifest.meta.json", dict(meta, fold_file_sha256="0" * 64))
    return copy


def only_emodb(data_dir, tmp_path):
    copy = tmp_path / "emodb_only"
    copy.mkdir()
    lines = (data_dir / "manifest.jsonl").read_text().splitlines()
    # An edited manifest without its meta file (a copied meta would no longer describe it and be refused).
    (copy / "manifest.jsonl").write_text("\n".join(l for l in lines if '"corpus": "emodb"' in l) + "\n")
    return copy


@pytest.mark.parametrize("case,message", [
    ("unknown corpus", "unknown corpus 'crema'"),
    ("fold 6", "fold 6 does not exist"),
    ("unknown condition", "unknown condition"),
    ("matched without test corpus", "needs a test corpus"),
    ("manifest missing", "manifest not found"),
    ("fold file changed", "made with fold file sha256 0000"),
    ("corpus absent from the manifest", "no utterances of ravdess, iemocap"),
    ("no data_dir", "data_dir is not set"),
])
def test_bad_configuration_is_refused_with_a_clear_message(data_dir, tmp_path, case, message):
    datarc = {"data_dir": str(data_dir), "condition": "matched", "test_corpus": "emodb"}
    datarc.update({
        "unknown corpus": {"test_corpus": "crema"},
        "fold 6": {"fold": 6},
        "unknown condition": {"condition": "pooled"},
        "matched without test corpus": {"test_corpus": None},
        "manifest missing": {"data_dir": str(tmp_path / "nowhere")},
        "fold file changed": {"data_dir": str(fold_file_mismatch(data_dir, tmp_path))},
        "corpus absent from the manifest": {"data_dir": str(only_emodb(data_dir, tmp_path)),
                                            "corpora": ["emodb", "ravdess", "iemocap"]},  # an explicit pool
        "no data_dir": {"data_dir": None},
    }[case])
    with pytest.raises(ConfigError, match=message):
        load_experiment(DataSettings.from_config(datarc))


def test_default_pool_is_the_manifests_corpora(data_dir, tmp_path):
    """Without datarc.corpora the DNN trains on the corpora the manifest holds, as the SVM does."""
    emodb_only = only_emodb(data_dir, tmp_path)
    split, _ = load_experiment(DataSettings.from_config({"data_dir": str(emodb_only), "condition": "matched",
                                                         "test_corpus": "emodb"}))
    assert split.train_corpora == ("emodb",) and split.train
    with pytest.raises(ConfigError, match="no utterances of iemocap"):  # a test corpus the manifest lacks
        load_experiment(DataSettings.from_config({"data_dir": str(emodb_only), "test_corpus": "iemocap"}))


def test_empty_training_set_is_refused(data_dir, tmp_path):
    with pytest.raises(ConfigError, match="loco needs at least two corpora"):  # nothing left to train on
        load_experiment(settings(data_dir, condition="loco", test_corpus="emodb", corpora=["emodb"]))
    with pytest.raises(ConfigError, match="no utterances of ravdess"):
        load_experiment(settings(only_emodb(data_dir, tmp_path), condition="matched", test_corpus="ravdess",
                                 corpora=["ravdess"]))
