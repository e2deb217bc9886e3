"""``s3prl-crosscorpus run-downstream ARGS...``: s3prl's own ``run_downstream.py`` with ``crosscorpus_emotion``.

The arguments are exactly s3prl's (``-m``, ``-u``, ``-k``, ``-d``, ``-c``, ``-o``, ``-p``, ``-e``, ``-t``,
``--seed``, ``--device``, ``--backend``...). This module registers the downstream, applies the
compatibility workarounds and calls s3prl's ``run_downstream.main`` (nothing is copied and nothing
is written into the installed s3prl). ``python -m s3prl_crosscorpus.superb.runner`` does the same,
so DDP runs start with ``torchrun --nproc_per_node=N -m s3prl_crosscorpus.superb.runner ...``.
"""
import argparse
import builtins
import sys
import types
import warnings
from pathlib import Path
from typing import Callable, List, Optional, Sequence

from . import compat

DOWNSTREAM = "crosscorpus_emotion"


def find_config_dir() -> Path:
    """``downstream_configs/`` of a source checkout, else the copy pip installs under ``<prefix>/share``."""
    checkout = Path(__file__).resolve().parents[2] / "downstream_configs"
    installed = Path(sys.prefix) / "share" / "s3prl-crosscorpus" / "downstream_configs"
    return checkout if checkout.is_dir() or not installed.is_dir() else installed


CONFIG_DIR = find_config_dir()


def config_path(name: str) -> Path:
    """A shipped config by name (``linear``, ``cnn_selfatt``, ``transformer``, ``smoke``)."""
    path = CONFIG_DIR / f"{name}.yaml"
    if not path.is_file():
        shipped = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))) or "none"
        raise FileNotFoundError(f"{path}: no such shipped config (shipped: {shipped})")
    return path


PROG = "s3prl-crosscorpus run-downstream"


def register() -> None:
    """Make ``s3prl.downstream.crosscorpus_emotion.expert`` (what s3prl's runner imports) our expert.

    A ``sys.modules`` alias keeps one module object for both names (no second copy of the class)
    and needs no folder inside s3prl's installed package.
    """
    import s3prl.downstream

    from . import expert

    package_name = f"s3prl.downstream.{DOWNSTREAM}"
    if sys.modules.get(f"{package_name}.expert") is expert:
        return
    package = types.ModuleType(package_name, "crosscorpus_emotion, registered by s3prl_crosscorpus")
    package.__path__ = []  # a package with no files of its own
    package.expert = expert
    sys.modules[package_name] = package
    sys.modules[f"{package_name}.expert"] = expert
    setattr(s3prl.downstream, DOWNSTREAM, package)


def missing_config(argv: Sequence[str]) -> Optional[str]:
    """A message when a new crosscorpus_emotion experiment has no ``-c`` (s3prl would look for
    ./downstream/crosscorpus_emotion/config.yaml in the current directory)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument("-c", "--config")
    parser.add_argument("-d", "--downstream")
    parser.add_argument("-e", "--past_exp")
    known, _ = parser.parse_known_args(list(argv))
    if known.downstream != DOWNSTREAM or known.config or known.past_exp:
        return None
    shipped = ", ".join(sorted(p.name for p in CONFIG_DIR.glob("*.yaml"))) or "none found"
    return (f"-d {DOWNSTREAM} needs a config: pass -c CONFIG.yaml (shipped in {CONFIG_DIR}: {shipped}), "
            "or -e CHECKPOINT to continue or evaluate an experiment")


def default_device(argv: Sequence[str]) -> List[str]:
    """``--device cpu`` when none is given and CUDA is absent (s3prl's default, cuda, cannot work there)."""
    import torch

    argv = list(argv)
    if torch.cuda.is_available() or any(a == "--device" or a.startswith("--device=") for a in argv):
        return argv
    return argv + ["--device", "cpu"]


def validating(get_args: Callable) -> Callable:
    """Wrap s3prl's ``get_downstream_args`` so that a crosscorpus_emotion config is checked (data,
    folds, heads) right after parsing: bad configurations stop before the upstream loads or training."""
    def get_downstream_args():
        args, config, backup_files = get_args()
        if args.downstream == DOWNSTREAM and args.mode != "inference":
            from .expert import validate_config

            validate_config(config)
        return args, config, backup_files

    get_downstream_args.wrapped = get_args
    return get_downstream_args


def main(argv: Optional[List[str]] = None) -> int:
    """Run s3prl's ``run_downstream`` main with ``argv``; 2 on a configuration error."""
    from .dataset import ConfigError

    argv = default_device(compat.torchrun_args(sys.argv[1:] if argv is None else argv))
    message = missing_config(argv)
    if message:
        print(f"error: {message}", file=sys.stderr)
        return 2
    compat.apply()
    register()
    import s3prl.run_downstream as s3prl_main

    original_get_args, original_argv, original_isinstance = s3prl_main.get_downstream_args, sys.argv, isinstance
    s3prl_main.get_downstream_args = validating(original_get_args)
    sys.argv = [PROG] + list(argv)
    try:
        with warnings.catch_warnings():
            # s3prl's runner uses the deprecated torch.cuda.amp.autocast on every step, also on CPU
            warnings.filterwarnings("ignore", message=r".*torch\.cuda\.amp\.autocast", category=FutureWarning)
            warnings.filterwarnings("ignore", message=r".*CUDA is not available.*autocast", category=UserWarning)
            s3prl_main.main()
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        s3prl_main.get_downstream_args, sys.argv = original_get_args, original_argv
        # s3prl's main swaps builtins.isinstance for a slower wrapper (for DDP); undo it for the caller
        builtins.isinstance = original_isinstance
    return 0


if __name__ == "__main__":
    sys.exit(main())
