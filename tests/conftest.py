"""Shared fixtures: one small synthetic copy of the three corpora and its manifest per test session."""
from pathlib import Path

import pytest
import torch

from s3prl_crosscorpus.core.manifest import load_manifest, prepare
from s3prl_crosscorpus.demo.synth import synthesize

#: Utterances per speaker and class in the shared synthetic corpora
#: (EmoDB 80, RAVDESS 192, IEMOCAP 80 usable utterances).
PER_CLASS = 2

# One torch thread: CI machines have 2 cores, and oversubscribed threads make small CPU runs slower.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def synth_roots(tmp_path_factory) -> dict:
    """corpus -> root of a synthetic corpus tree in the real layout."""
    return synthesize(tmp_path_factory.mktemp("corpora"), per_class=PER_CLASS, seed=0)


@pytest.fixture(scope="session")
def data_dir(synth_roots, tmp_path_factory) -> Path:
    """A prepared DATA_DIR (manifest.jsonl + manifest.meta.json) over the synthetic corpora."""
    out = tmp_path_factory.mktemp("data")
    prepare(synth_roots, out)
    return out


@pytest.fixture(scope="session")
def utterances(data_dir):
    return load_manifest(data_dir)
