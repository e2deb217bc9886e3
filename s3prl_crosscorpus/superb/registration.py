"""Registration with s3prl's legacy runner, done once by ``superb/__init__``: the ``crosscorpus_emotion``
downstream and the Hugging Face upstreams of :mod:`.upstreams`.

s3prl's runner imports ``s3prl.downstream.<name>.expert`` and builds ``getattr(s3prl.hub, UPSTREAM)``;
it has no entry points. A ``sys.modules`` alias keeps one module object for both names of the
expert (no second copy of the classes); the upstreams become attributes of ``s3prl.hub``. Nothing
is written into s3prl's installed package.
"""
import sys
import types

import s3prl.downstream
import s3prl.hub

from ..core.names import DOWNSTREAM
from . import expert
from .upstreams import HF_UPSTREAMS


def register() -> None:
    """Register the downstream and the Hugging Face upstreams (idempotent)."""
    register_upstreams()
    register_downstream()


def register_upstreams() -> None:
    """``s3prl.hub.hf_*_custom``: the plugin's Hugging Face upstreams (replacing s3prl's two; see :mod:`.upstreams`)."""
    for name, upstream in HF_UPSTREAMS.items():
        setattr(s3prl.hub, name, upstream)


def register_downstream() -> None:
    """Make ``s3prl.downstream.crosscorpus_emotion.expert`` (what s3prl's runner imports) our expert."""
    package_name = f"s3prl.downstream.{DOWNSTREAM}"
    if sys.modules.get(f"{package_name}.expert") is expert:
        return
    package = types.ModuleType(package_name, f"{DOWNSTREAM}, registered by s3prl_crosscorpus")
    package.__path__ = []  # a package with no files of its own
    package.expert = expert
    sys.modules[package_name] = package
    sys.modules[f"{package_name}.expert"] = expert
    setattr(s3prl.downstream, DOWNSTREAM, package)
