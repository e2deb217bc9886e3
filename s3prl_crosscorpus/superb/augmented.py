"""``datarc.augment``: augmented training audio for the s3prl downstream (live upstream: on the fly).

``datarc.augment`` is ``{spec: SPEC, copies: K, seed: S}`` (or just the SPEC string); any other key is
refused before training. Each epoch, every training utterance is seen once, as its plain audio or one of
its K augmented copies, drawn from (seed, epoch, utterance); copy k is the same audio the SVM and the
feature cache use (plans from :mod:`s3prl_crosscorpus.augment.plan`). Dev and test are never augmented.
"""
import hashlib
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence

import numpy as np

from ..augment.plan import Pool, apply_plan, babble_pool, draw_plan, speaker_key
from ..augment.spec import Spec, SpecError, check_degrade, parse_spec
from ..core.audio import load_audio
from ..core.folds import Split
from ..core.io_utils import sha256_file
from ..core.labels import LABEL_TO_INDEX
from ..core.names import augment_tags
from .dataset import ConfigError, EmotionDataset, Item

AUGMENT_KEYS = ("spec", "copies", "seed")


@dataclass(frozen=True)
class AugmentSettings:
    """A checked ``datarc.augment``."""

    spec: Spec
    copies: int = 1
    seed: int = 0

    @property
    def tags(self):
        return augment_tags(self.spec.short(), self.copies)

    def record(self) -> dict:
        return {**self.spec.provenance(), "copies": self.copies, "seed": self.seed}


def augment_settings(value: Any, default_seed: int = 0, check_files: bool = True) -> Optional[AugmentSettings]:
    """``datarc.augment`` -> AugmentSettings (None when absent); ConfigError naming a bad key or value
    (``check_files`` False: noise/RIR folders need not exist, for a model that only predicts)."""
    if value in (None, "", "none"):
        return None
    where = "downstream_expert.datarc.augment"
    if isinstance(value, str):
        value = {"spec": value}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a SPEC string or a mapping with keys {', '.join(AUGMENT_KEYS)}")
    unknown = sorted(set(value) - set(AUGMENT_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; it takes {', '.join(AUGMENT_KEYS)}")
    try:
        spec = parse_spec(str(value.get("spec") or ""), check_files)
        copies, seed = int(value.get("copies", 1)), int(value.get("seed", default_seed))
    except SpecError as err:
        raise ConfigError(f"{where}.spec: {err}") from None
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: copies and seed must be whole numbers") from None
    if spec is None:
        raise ConfigError(f"{where}.spec is empty")
    if copies < 1:
        raise ConfigError(f"{where}.copies must be >= 1, got {copies}")
    return AugmentSettings(spec, copies, seed)


def version_of(seed: int, epoch: int, utt_id: str, copies: int) -> int:
    """Which version an epoch uses: -1 the plain audio, 0..K-1 an augmented copy (uniform over K + 1)."""
    digest = hashlib.sha256(f"{seed}:{epoch}:{utt_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % (copies + 1) - 1


class AugmentedEmotionDataset(EmotionDataset):
    """The training set with each utterance as its plain audio or one augmented copy, drawn per epoch."""

    def __init__(self, utterances, settings: AugmentSettings, split: Split, by_id: Mapping):
        super().__init__(utterances)
        self.settings = settings
        self.epoch = 0
        self.pool: Pool = babble_pool(split, by_id) if "babble" in settings.spec.names else ()
        self.digests: Dict[str, str] = {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> Item:
        utt = self.utterances[index]
        wave = load_audio(utt.path)
        version = version_of(self.settings.seed, self.epoch, utt.id, self.settings.copies)
        if version >= 0:
            digest = self.digests.setdefault(utt.path, sha256_file(utt.path))
            plan = draw_plan(self.settings.spec, digest, version, self.settings.seed, speaker_key(utt), self.pool)
            wave = apply_plan(wave, plan)
        return wave, LABEL_TO_INDEX[utt.label], utt.id, utt.corpus


def versions_seen(ids: Sequence[str], settings: AugmentSettings, epoch: int) -> np.ndarray:
    """The version of each id in an epoch (for tests and logs)."""
    return np.array([version_of(settings.seed, epoch, i, settings.copies) for i in ids])


def degrade_settings(value: Any, check_files: bool = True) -> Optional[Spec]:
    """``datarc.test_degrade`` (a SPEC of noise, reverb, telephone) -> Spec, None when absent; ConfigError else."""
    if value in (None, "", "none"):
        return None
    try:
        return check_degrade(parse_spec(str(value), check_files))
    except SpecError as err:
        raise ConfigError(f"downstream_expert.datarc.test_degrade: {err}") from None


class DegradedEmotionDataset(EmotionDataset):
    """The test set on degraded audio: copy 0 of ``spec`` from ``seed`` (the SVM's ``--test-degrade`` audio)."""

    def __init__(self, utterances, spec: Spec, seed: int):
        super().__init__(utterances)
        self.spec, self.seed = spec, seed

    def __getitem__(self, index: int) -> Item:
        utt = self.utterances[index]
        plan = draw_plan(self.spec, sha256_file(utt.path), 0, self.seed)
        return apply_plan(load_audio(utt.path), plan), LABEL_TO_INDEX[utt.label], utt.id, utt.corpus
