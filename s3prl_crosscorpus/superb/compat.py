"""Make s3prl 0.4.18 (the newest on PyPI) run on today's torch / torchaudio / huggingface_hub.

One function per breakage; each checks whether it is needed before patching and returns
True when it patched something. :func:`apply` runs them all and is idempotent; importing
``s3prl_crosscorpus.superb`` calls it. Nothing is written into s3prl's installed package: the
patches live in this process only. This module imports only the standard library at import time,
so that each workaround can also be tried alone (tests load it without the package).
"""
import argparse
import functools
import importlib
import io
import os
import sys
import types
from typing import Dict, List, Optional, Sequence

_APPLIED: Dict[str, bool] = {}


def _fail_with(message: str):
    """A function that raises a RuntimeError with ``message`` whatever it is called with."""
    def fail(*args, **kwargs):
        raise RuntimeError(message)
    return fail


# --- 1. torchaudio's compiled extension ------------------------------------------------------
# Until a torchaudio wheel built for the installed torch (CPU) is on PyPI: torchaudio 2.11 is a
# CUDA build whose extension cannot load on CPU torch, yet s3prl only needs its Python parts.
def torchaudio_without_extension() -> bool:
    """Import torchaudio; if its compiled extension fails to load, import it without the extension."""
    try:
        importlib.import_module("torchaudio")
        return False
    except OSError as err:
        if "torchaudio" not in str(err):
            raise
    for name in [m for m in sys.modules if m == "torchaudio" or m.startswith("torchaudio.")]:
        del sys.modules[name]
    stub = types.ModuleType("torchaudio._extension")
    stub.__doc__ = "Stand-in installed by s3prl_crosscorpus.superb.compat: the compiled extension could not load."
    stub._IS_TORCHAUDIO_EXT_AVAILABLE = False
    stub._IS_ALIGN_AVAILABLE = False
    stub._load_lib = lambda lib: False

    def fail_if_no_align(func):
        message = f"torchaudio.{func.__name__} needs torchaudio's compiled extension, which does not load here"
        return functools.wraps(func)(_fail_with(message))

    stub.fail_if_no_align = fail_if_no_align
    sys.modules["torchaudio._extension"] = stub
    importlib.import_module("torchaudio")  # now without the extension
    return True


# --- 2. torchaudio's removed audio backends ---------------------------------------------------
# Until s3prl > 0.4.18 stops calling torchaudio.set_audio_backend and importing
# torchaudio.sox_effects (both removed in torchaudio 2.9; s3prl issue 575).
def torchaudio_legacy_api() -> bool:
    """Give torchaudio a no-op ``set_audio_backend`` and a ``sox_effects`` that fails only when used."""
    import torchaudio

    patched = False
    if not hasattr(torchaudio, "set_audio_backend"):
        torchaudio.set_audio_backend = lambda backend=None: None
        patched = True
    try:
        import torchaudio.sox_effects  # noqa: F401
    except ImportError:
        sox = types.ModuleType("torchaudio.sox_effects")
        sox.__doc__ = "Stand-in installed by s3prl_crosscorpus.superb.compat: torchaudio no longer has sox_effects."
        message = "torchaudio.sox_effects was removed from torchaudio; this s3prl feature cannot run here"
        sox.apply_effects_tensor = _fail_with(message)
        sox.apply_effects_file = _fail_with(message)
        sys.modules["torchaudio.sox_effects"] = sox
        torchaudio.sox_effects = sox
        patched = True
    return patched


# --- 3. huggingface_hub >= 1 ------------------------------------------------------------------
# Until s3prl > 0.4.18 stops importing HfFolder and Repository (removed in huggingface_hub 1.0);
# only s3prl's --hub huggingface / --push_to_hf_hub use them, and those stay unsupported.
def huggingface_hub_legacy_names() -> bool:
    """Define ``huggingface_hub.HfFolder`` / ``Repository`` stand-ins if the library lacks them."""
    import huggingface_hub

    patched = False
    unsupported = ("s3prl's --hub huggingface / --push_to_hf_hub need huggingface_hub < 1.0 "
                   f"(installed: {huggingface_hub.__version__})")
    if not hasattr(huggingface_hub, "HfFolder"):
        class HfFolder:
            """Stand-in for the removed class: tokens come from ``huggingface_hub.get_token``."""

            get_token = staticmethod(huggingface_hub.get_token)
            save_token = staticmethod(_fail_with(unsupported))

        huggingface_hub.HfFolder = HfFolder
        patched = True
    if not hasattr(huggingface_hub, "Repository"):
        class Repository:
            """Stand-in for the removed git-based class."""

            def __init__(self, *args, **kwargs):
                raise RuntimeError(unsupported)

        huggingface_hub.Repository = Repository
        patched = True
    return patched


# --- 4. torch >= 2.6 loads with weights_only=True ----------------------------------------------
# Until s3prl > 0.4.18 stops pickling argparse.Namespace into its checkpoints ('Args').
def namespace_loadable() -> bool:
    """Allow ``argparse.Namespace`` in weights-only ``torch.load`` when that is the default."""
    import torch

    if _loads_namespace():
        return False
    torch.serialization.add_safe_globals([argparse.Namespace])
    return True


def _loads_namespace() -> bool:
    """Whether ``torch.load`` with its default arguments can read a pickled Namespace."""
    import torch

    buffer = io.BytesIO()
    torch.save({"Args": argparse.Namespace(x=1)}, buffer)
    buffer.seek(0)
    try:
        torch.load(buffer, map_location="cpu")
        return True
    except Exception:  # torch raises pickle.UnpicklingError (or a subclass) naming the global
        return False


# --- 5. DDP on CPU -----------------------------------------------------------------------------
# Until s3prl's runner stops assuming CUDA for DDP: it calls torch.cuda.set_device(local_rank)
# and DDP(model, device_ids=[local_rank]), which both fail on CPU (gloo) processes.
def cpu_ddp() -> bool:
    """On a machine without CUDA: make ``set_device`` a no-op and wrap CPU modules without device_ids."""
    import torch

    if torch.cuda.is_available():
        return False
    import s3prl.downstream.runner as runner

    if getattr(runner.DDP, "_crosscorpus_cpu", False):
        return False
    ddp_class = runner.DDP

    def cpu_aware_ddp(module, device_ids=None, *args, **kwargs):
        on_cpu = all(p.device.type == "cpu" for p in module.parameters())
        return ddp_class(module, None if on_cpu else device_ids, *args, **kwargs)

    cpu_aware_ddp._crosscorpus_cpu = True
    runner.DDP = cpu_aware_ddp
    torch.cuda.set_device = lambda device: None
    return True


# --- 6. DDP progress of non-leader processes -------------------------------------------------------
# Until s3prl > 0.4.18 (fixed on s3prl's master): Runner.train lets non-leader ranks `continue`
# before `pbar.update(1)`, so they never reach total_steps and crash once the leader has finished.
def ddp_progress() -> bool:
    """Advance a non-leader rank's step counter at the point where s3prl's master does."""
    import inspect

    import s3prl.downstream.runner as runner

    if getattr(runner.is_leader_process, "_crosscorpus_progress", False):
        return False
    source = inspect.getsource(runner.Runner.train)
    skip, update = source.find("if not is_leader_process():"), source.find("pbar.update(1)")
    if skip < 0 or update < skip:
        return False
    leader_check = runner.is_leader_process
    train_code = runner.Runner.train.__code__

    def is_leader_process() -> bool:
        leader = leader_check()
        if not leader:
            caller = sys._getframe(1)
            if caller.f_code is train_code and "global_step" in caller.f_locals:
                pbar = caller.f_locals.get("pbar")
                if pbar is not None and not pbar.disable:  # a closed tqdm is disabled: after the loop
                    pbar.update(1)
        return leader

    is_leader_process._crosscorpus_progress = True
    runner.is_leader_process = is_leader_process
    return True


# --- 7. torchrun ------------------------------------------------------------------------------
# Until s3prl's runner reads LOCAL_RANK: torchrun (unlike the removed torch.distributed.launch)
# passes the rank in the environment only, so s3prl would silently run without DDP.
def torchrun_args(argv: Sequence[str], environ: Optional[Dict[str, str]] = None) -> List[str]:
    """Add ``--local_rank`` from ``LOCAL_RANK`` (and ``--backend gloo`` without CUDA) for torchrun."""
    import torch

    environ = os.environ if environ is None else environ
    argv = list(argv)
    if "LOCAL_RANK" not in environ or any(a == "--local_rank" or a.startswith("--local_rank=") for a in argv):
        return argv
    argv += ["--local_rank", environ["LOCAL_RANK"]]
    if not torch.cuda.is_available() and not any(a == "--backend" or a.startswith("--backend=") for a in argv):
        argv += ["--backend", "gloo"]
    return argv


# --- 8. s3prl's import-time notice about ESPnet ----------------------------------------------------
# Until s3prl stops logging "ESPnet is not installed, cannot use espnet_hubert upstream" whenever its hub
# is imported (every command, --help included), although only -u espnet_hubert needs ESPnet.
def quiet_espnet_notice() -> bool:
    """Raise the level of the logger that prints the notice; -u espnet_hubert still fails with s3prl's message."""
    import logging

    notice = logging.getLogger("s3prl.upstream.espnet_hubert.expert")
    if notice.level >= logging.ERROR:
        return False
    notice.setLevel(logging.ERROR)
    return True


# --- 9. s3prl's progress bars in logs -----------------------------------------------------------
# s3prl's runner draws an "overall" bar with a nested "train" bar (and one per evaluation) with plain
# tqdm: in a job log that is a line of carriage returns per epoch (tens of thousands of characters)
# and `[A` cursor escapes. Its bars become the project's (core.progress): tqdm on a terminal, a plain
# line every 30 s otherwise.
def plain_progress_in_logs() -> bool:
    """Make s3prl's runner draw its bars with core.progress.Progress."""
    import s3prl.downstream.runner as runner

    from ..core.progress import Progress

    if runner.tqdm is Progress:
        return False
    runner.tqdm = Progress
    return True


WORKAROUNDS = (
    quiet_espnet_notice,
    torchaudio_without_extension,
    torchaudio_legacy_api,
    huggingface_hub_legacy_names,
    namespace_loadable,
    cpu_ddp,
    ddp_progress,
    plain_progress_in_logs,
)


#: Comma-separated workaround names to leave out, to check whether a workaround is still needed.
SKIP_ENV = "S3PRL_CROSSCORPUS_COMPAT_SKIP"


def apply() -> Dict[str, bool]:
    """Apply every workaround that this stack needs (once); name -> whether it patched.

    Names listed in the environment variable ``S3PRL_CROSSCORPUS_COMPAT_SKIP`` are left out.
    """
    skip = {name.strip() for name in os.environ.get(SKIP_ENV, "").split(",") if name.strip()}
    unknown = skip - {w.__name__ for w in WORKAROUNDS}
    if unknown:
        raise ValueError(f"{SKIP_ENV}: unknown workaround(s) {sorted(unknown)}; "
                         f"known: {', '.join(w.__name__ for w in WORKAROUNDS)}")
    for workaround in WORKAROUNDS:
        if workaround.__name__ not in _APPLIED and workaround.__name__ not in skip:
            _APPLIED[workaround.__name__] = workaround()
    return dict(_APPLIED)
