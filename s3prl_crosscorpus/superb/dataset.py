"""The cross-corpus dataset of the s3prl downstream: one split of the shared folds over the manifest.

Which utterances are in train, dev and test is decided only by :func:`folds.make_split`; audio is
read by :func:`audio.load_audio` (each file from its own rate and channel count to 16 kHz mono).
"""
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import Dataset, WeightedRandomSampler

from ..core.normalise import NORMS

from ..core.audio import load_audio
from ..core.corpora import Utterance
from ..core.folds import DEFAULT_SEED, FoldError, Split, check_request, make_split
from ..core.labels import CORPORA, LABEL_TO_INDEX, LABELS, corpus_order
from ..core.manifest import ManifestError, load_manifest

SPLITS = ("train", "dev", "test")
BALANCE = ("none", "sampler", "loss")
#: One dataset item / one collated batch field each: wave, label index, utterance id, corpus.
Item = Tuple[np.ndarray, int, str, str]


class ConfigError(ValueError):
    """A downstream configuration that cannot run; raised before any training."""


@dataclass(frozen=True)
class DataSettings:
    """The ``downstream_expert.datarc`` fields that choose the experiment's utterances."""

    data_dir: str
    condition: str = "matched"
    test_corpus: Optional[str] = None
    fold: int = 1
    corpora: Tuple[str, ...] = ()  # the training pool; empty: every corpus in the manifest
    seed: int = DEFAULT_SEED
    balance: str = "none"
    normalisation: str = "global"  # or corpus / speaker: per-layer frame statistics (train-cached only)
    extra: Dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_config(cls, datarc: Mapping[str, Any]) -> "DataSettings":
        """Read and check the fields of a ``datarc`` mapping (unknown keys are kept in ``extra``)."""
        if not datarc.get("data_dir"):
            raise ConfigError("downstream_expert.datarc.data_dir is not set; give the DATA_DIR made by "
                              "`s3prl-crosscorpus prepare` (e.g. -o config.downstream_expert.datarc.data_dir=DIR)")
        corpora = datarc.get("corpora") or ()
        if isinstance(corpora, str):
            corpora = [c.strip() for c in corpora.split(",") if c.strip()]
        test_corpus = datarc.get("test_corpus") or None
        try:
            fold = int(datarc.get("fold", 1))
            seed = int(datarc.get("seed", DEFAULT_SEED))
        except (TypeError, ValueError) as err:
            raise ConfigError(f"downstream_expert.datarc: fold and seed must be integers ({err})") from None
        balance = str(datarc.get("balance") or "none")
        if balance not in BALANCE:
            raise ConfigError(f"downstream_expert.datarc.balance={balance!r}; choose one of {', '.join(BALANCE)}")
        normalisation = str(datarc.get("normalisation") or "global")
        if normalisation not in NORMS:
            raise ConfigError(f"downstream_expert.datarc.normalisation={normalisation!r}; choose one of {', '.join(NORMS)}")
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        return cls(data_dir=str(datarc["data_dir"]), condition=str(datarc.get("condition", "matched")),
                   test_corpus=test_corpus, fold=fold, corpora=tuple(corpora), seed=seed, balance=balance,
                   normalisation=normalisation,
                   extra={k: v for k, v in datarc.items() if k not in known})


def pool_of(settings: DataSettings, present: Mapping[str, int]) -> Tuple[str, ...]:
    """The training pool: ``datarc.corpora`` when given, else every corpus in the manifest (as the SVM)."""
    return tuple(settings.corpora) or corpus_order(c for c in present if present.get(c))


def load_experiment(settings: DataSettings) -> Tuple[Split, Dict[str, Utterance]]:
    """Check the request, load the manifest (refusing another fold file) and make the split.

    Raises :class:`ConfigError` naming what is wrong: unknown condition/corpus/fold, missing
    manifest, fold-file mismatch, a pool corpus absent from the manifest, or an empty set.
    """
    try:
        test = settings.test_corpus
        check_request(settings.condition, settings.fold, test,
                      settings.corpora or CORPORA + ((test,) if test and test not in CORPORA else ()))
        utts = load_manifest(Path(settings.data_dir))
        present = Counter(u.corpus for u in utts)
        pool = pool_of(settings, present)
        missing = [c for c in pool if not present[c]]
        if settings.test_corpus and not present[settings.test_corpus]:
            missing.append(settings.test_corpus)
        unknown = [c for c in missing if c not in CORPORA]
        if unknown:
            raise ConfigError(f"{settings.data_dir}: unknown corpus {unknown[0]!r}: the manifest holds "
                              f"{', '.join(corpus_order(present))}; prepare it (e.g. prepare --csv "
                              f"{unknown[0]}=FILE) or fix datarc")
        if missing:
            raise ConfigError(f"{settings.data_dir}: the manifest has no utterances of {', '.join(missing)} "
                              f"(corpus pool {list(settings.corpora)}; manifest holds {dict(present)}); "
                              "prepare those corpora or remove them from datarc.corpora")
        check_request(settings.condition, settings.fold, settings.test_corpus, pool)
        split = make_split(utts, settings.condition, settings.fold, settings.test_corpus,
                           corpora=pool, seed=settings.seed)
    except (FoldError, ManifestError) as err:
        raise ConfigError(str(err)) from err
    return split, {u.id: u for u in utts}


class EmotionDataset(Dataset):
    """Utterances of one split; items are (16 kHz mono wave, label index, utterance id, corpus)."""

    def __init__(self, utterances: Sequence[Utterance]):
        self.utterances = list(utterances)

    @classmethod
    def from_split(cls, split: Split, by_id: Mapping[str, Utterance], name: str) -> "EmotionDataset":
        """The ``name`` ("train", "dev" or "test") part of ``split``, in the split's id order."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; choose one of {', '.join(SPLITS)}")
        return cls([by_id[i] for i in getattr(split, name)])

    def __len__(self) -> int:
        return len(self.utterances)

    def __getitem__(self, index: int) -> Item:
        utt = self.utterances[index]
        return load_audio(utt.path), LABEL_TO_INDEX[utt.label], utt.id, utt.corpus

    @property
    def labels(self) -> List[int]:
        return [LABEL_TO_INDEX[u.label] for u in self.utterances]

    @property
    def ids(self) -> List[str]:
        return [u.id for u in self.utterances]


def collate(batch: Sequence[Item]) -> Tuple[List[np.ndarray], List[int], List[str], List[str]]:
    """Keep waves unpadded (s3prl's runner pads them); labels, ids and corpora as lists."""
    wavs, labels, ids, corpora = zip(*batch)
    return list(wavs), list(labels), list(ids), list(corpora)


def class_counts(labels: Sequence[int]) -> np.ndarray:
    """Utterances per class index; every class must occur in training."""
    counts = np.bincount(np.asarray(labels, dtype=int), minlength=len(LABELS))
    if (counts == 0).any():
        absent = [LABELS[i] for i in np.flatnonzero(counts == 0)]
        raise ConfigError(f"class balancing needs every class in the training set; missing {absent}")
    return counts


def class_weights(labels: Sequence[int]) -> torch.Tensor:
    """Inverse-frequency loss weights, scaled so that their average over the training set is 1."""
    counts = class_counts(labels)
    weights = counts.sum() / (len(counts) * counts)
    return torch.tensor(weights, dtype=torch.float32)


def balanced_sampler(labels: Sequence[int], seed: int) -> WeightedRandomSampler:
    """Draws each class equally often on average (with replacement), from a seeded generator."""
    counts = class_counts(labels)
    per_item = torch.tensor([1.0 / counts[label] for label in labels], dtype=torch.double)
    generator = torch.Generator().manual_seed(seed)
    return WeightedRandomSampler(per_item, num_samples=len(labels), replacement=True, generator=generator)
