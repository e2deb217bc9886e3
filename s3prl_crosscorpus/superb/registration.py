"""Registration of ``crosscorpus_emotion`` with s3prl's legacy runner, done once by ``superb/__init__``.

s3prl's runner imports ``s3prl.downstream.<name>.expert`` and has no entry points. A ``sys.modules``
alias keeps one module object for both names (no second copy of the classes) and writes nothing
into s3prl's installed package.
"""
import sys
import types

import s3prl.downstream

from ..core.names import DOWNSTREAM
from . import expert


def register() -> None:
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
