"""Augmented copies in the feature cache: one ordinary cache per copy, beside the plain one, keyed by the SPEC.

``CACHE/aug-<identity>-seed<S>-v<effects version>/copy<k>/`` holds copy k of every utterance of the manifest (each utterance
trains in some fold; training reads only its training ids' copies, dev and test read the plain cache).
Its rows are keyed by (audio sha256, SPEC identity, drawn plan), so a shard of other audio or another
SPEC is redone; extraction resumes shard by shard like the plain cache.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import List

from ..augment.effects import EFFECTS_VERSION
from ..augment.spec import Spec, SpecError
from .format import HEADER, CacheError, read_header


@dataclass(frozen=True)
class CopySpec:
    """Which augmented copy a cache folder holds."""

    spec: Spec
    copy: int
    seed: int

    def record(self) -> dict:
        return {**self.spec.provenance(), "copy": self.copy, "seed": self.seed}


def check_cacheable(spec: Spec) -> Spec:
    """Babble draws its talkers from each split's training set, which one shared cache cannot know."""
    if "babble" in spec.names:
        raise SpecError("babble mixes talkers of each split's own training set, so its copies differ per fold and "
                        "condition and cannot be cached once: train with the live upstream (run.sh --cache no) or "
                        "drop babble from the SPEC")
    return spec


def copy_roots(cache: Path, spec: Spec, seed: int, copies: int) -> List[Path]:
    """The cache folders of copies 0..K-1 of ``spec`` beside the plain cache ``cache``."""
    base = Path(cache) / f"aug-{spec.identity()[:12]}-seed{seed}-v{EFFECTS_VERSION}"  # new effects: new folders
    return [base / f"copy{k}" for k in range(copies)]


def check_augment_owner(root: Path, augment: CopySpec) -> None:
    """Refuse a folder holding another augmentation's (or the plain) features."""
    if not (Path(root) / HEADER).exists():
        return
    found = read_header(Path(root)).get("augment") or {}
    if (found.get("identity"), found.get("copy"), found.get("seed")) != (
            augment.spec.identity(), augment.copy, augment.seed):
        raise CacheError(f"{root} holds features of another augmentation ({found.get('canonical', 'none')}, copy "
                         f"{found.get('copy')}, seed {found.get('seed')}), not of {augment.spec.canonical()} copy "
                         f"{augment.copy} seed {augment.seed}")
