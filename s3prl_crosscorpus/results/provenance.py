"""Provenance: what made a result or a bundle (package version and git commit, library versions, CUDA, machine,
command line), collected in one place.

Versions come from ``importlib.metadata`` and CUDA from torch's ``version.py`` read as text, so nothing here
imports torch, s3prl or openSMILE.
"""
import platform
import re
import shlex
import shutil
import subprocess
import sys
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence

from .. import __version__

#: Distributions whose versions every result and bundle records (when installed); display name -> distribution.
LIBRARIES: Dict[str, str] = {"torch": "torch", "torchaudio": "torchaudio", "s3prl": "s3prl",
                             "transformers": "transformers", "scikit-learn": "scikit-learn",
                             "opensmile": "opensmile", "numpy": "numpy"}
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def library_versions(names: Mapping[str, str] = LIBRARIES) -> Dict[str, Optional[str]]:
    """name -> installed version (None when not installed)."""
    found: Dict[str, Optional[str]] = {}
    for name, dist in names.items():
        try:
            found[name] = version(dist)
        except PackageNotFoundError:
            found[name] = None
    return found


def run_quiet(argv: Sequence[str], cwd: Optional[Path] = None) -> Optional[str]:
    """A command's stripped stdout, or None when it is missing, fails or hangs."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_commit(root: Path = PACKAGE_ROOT) -> Optional[str]:
    """The commit of the checkout the package runs from (``+dirty`` with uncommitted changes); None outside git,
    and None when the package merely sits inside another repository (e.g. a virtualenv in a project)."""
    top = run_quiet(["git", "rev-parse", "--show-toplevel"], cwd=root)
    if not top or Path(top).resolve() != root.parent:
        return None
    commit = run_quiet(["git", "rev-parse", "HEAD"], cwd=root)
    if not commit:
        return None
    dirty = run_quiet(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root)
    return commit + ("+dirty" if dirty else "")


def torch_cuda() -> Optional[str]:
    """The CUDA version torch was built for, read from its version.py without importing it (None: CPU build)."""
    spec = find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "version.py"
    try:
        match = re.search(r"^cuda\b[^=]*=\s*['\"]([^'\"]+)['\"]", path.read_text(), re.MULTILINE)
    except OSError:
        return None
    return match.group(1) if match else None


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux), else what platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_models() -> list:
    """Names of the NVIDIA GPUs ``nvidia-smi`` lists (empty without one)."""
    out = run_quiet(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"])
    return [line.strip() for line in out.splitlines() if line.strip()] if out else []


@lru_cache(maxsize=None)
def machine_provenance() -> dict:
    """What does not change within a process: versions, commit, machine (collected once)."""
    return {
        "package": "s3prl-crosscorpus", "package_version": __version__, "git_commit": git_commit(),
        "python": platform.python_version(), "libraries": library_versions(), "cuda": torch_cuda(),
        "platform": platform.platform(), "cpu": cpu_model(), "gpus": gpu_models(),
    }


def provenance(argv: Optional[Sequence[str]] = None) -> dict:
    """The provenance record of this process: :func:`machine_provenance` and the command line (``argv``)."""
    argv = [str(a) for a in (sys.argv if argv is None else argv)]
    if argv and Path(argv[0]).name == "__main__.py":  # python -m s3prl_crosscorpus / baseline_svm
        argv[0] = Path(argv[0]).parent.name.replace("s3prl_crosscorpus", "s3prl-crosscorpus").replace(
            "baseline_svm", "baseline-svm")
    return {**machine_provenance(), "command": shlex.join(argv)}


def provenance_lines(record: Mapping) -> list:
    """A provenance record as ``key: value`` lines for people."""
    libs = record.get("libraries") or {}
    lines = [f"package: {record.get('package', 's3prl-crosscorpus')} {record.get('package_version')} "
             f"(git {record.get('git_commit') or 'unknown'})",
             f"python: {record.get('python')}",
             "libraries: " + ", ".join(f"{k} {v}" for k, v in libs.items() if v) if libs else "libraries: unknown",
             f"CUDA (torch build): {record.get('cuda') or 'none (CPU build)'}",
             f"machine: {record.get('cpu')}; GPU: {', '.join(record.get('gpus') or []) or 'none'}",
             f"command: {record.get('command')}"]
    return lines
