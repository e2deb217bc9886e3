"""Shared fixtures: one small synthetic copy of the three corpora and its manifest per test session.

``S3PRL_CROSSCORPUS_TEST_CORPORA=DIR`` makes them once in DIR and reuses them in later sessions (mutation
testing runs the tests once per mutant; see setup.cfg). Use it only with the same seed and size.
"""
import os
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


#: A folder to keep the synthetic corpora in across sessions (None: a fresh temporary folder each session).
REUSE = os.environ.get("S3PRL_CROSSCORPUS_TEST_CORPORA")


@pytest.fixture(scope="session")
def synth_roots(tmp_path_factory) -> dict:
    """corpus -> root of a synthetic corpus tree in the real layout."""
    if not REUSE:
        return synthesize(tmp_path_factory.mktemp("corpora"), per_class=PER_CLASS, seed=0)
    root, done = Path(REUSE) / "corpora", Path(REUSE) / "corpora.complete"
    if done.exists():
        return {corpus: root / corpus for corpus in ("emodb", "ravdess", "iemocap")}
    roots = synthesize(root, per_class=PER_CLASS, seed=0)
    done.touch()
    return roots


@pytest.fixture(scope="session")
def data_dir(synth_roots, tmp_path_factory) -> Path:
    """A prepared DATA_DIR (manifest.jsonl + manifest.meta.json) over the synthetic corpora."""
    out = Path(REUSE) / "data" if REUSE else tmp_path_factory.mktemp("data")
    if not (REUSE and (out / "manifest.meta.json").exists()):
        prepare(synth_roots, out)
    return out


@pytest.fixture(scope="session")
def utterances(data_dir):
    return load_manifest(data_dir)
