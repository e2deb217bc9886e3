"""The one runner entry of ``crosscorpus_emotion``: s3prl's own ``run_downstream`` main, with the
upstream computed live (``run-downstream``) or read from a feature cache (``train-cached``).

The arguments are exactly s3prl's (``-m``, ``-u``, ``-k``, ``-d``, ``-c``, ``-o``, ``-p``, ``-e``,
``-t``, ``--seed``, ``--device``, ``--backend``...). Nothing is copied from s3prl and nothing is
written into the installed s3prl: :func:`run` calls s3prl's ``run_downstream.main`` with two of its
names swapped for the duration of the call: ``get_downstream_args`` (s3prl's parsing followed by
the plugin's checks, so a bad configuration stops before the upstream loads) and ``Runner``
(s3prl's own, or :class:`~.cached.CachedRunner` when the features come from a cache).
"""
import builtins
import logging
import random
import sys
import warnings
from argparse import Namespace
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import s3prl.run_downstream as s3prl_main
import torch
from s3prl.downstream.runner import Runner

from ..cache.format import CacheError, FeatureCache
from ..core.names import DOWNSTREAM
from . import compat
from .cached import CachedRunner
from .dataset import ConfigError
from .expert import BEST_CKPT, check_normalisation_source, validate_config
from .layers import LayerRunner
from .upstreams import checkpoint_identity, frontend_identity

#: ``prog`` of s3prl's argument parser (its usage and error lines) unless the caller names another.
PROG = "s3prl-crosscorpus run-downstream"


def find_config_dir() -> Path:
    """``downstream_configs/`` of a source checkout, else the copy pip installs under ``<prefix>/share``."""
    checkout = Path(__file__).resolve().parents[2] / "downstream_configs"
    installed = Path(sys.prefix) / "share" / "s3prl-crosscorpus" / "downstream_configs"
    return checkout if checkout.is_dir() or not installed.is_dir() else installed


CONFIG_DIR = find_config_dir()


def config_path(name: str) -> Path:
    """A shipped config by name (``paper``, ``smoke``)."""
    path = CONFIG_DIR / f"{name}.yaml"
    if not path.is_file():
        shipped = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))) or "none"
        raise FileNotFoundError(f"{path}: no such shipped config (shipped: {shipped})")
    return path


@dataclass(frozen=True)
class CacheSource:
    """Read the upstream's features from a cache: ``root``, or (None) the cache the ``-e`` checkpoint used."""

    root: Optional[Path] = None
    check_audio: bool = True  # re-hash the audio to confirm the cache was extracted from the same files


# --------------------------------------------------------------------------- argument lists

def option_value(argv: Sequence[str], short: str, long: str) -> Optional[str]:
    """Value of the last ``-c X`` / ``-cX`` / ``--config X`` / ``--config=X`` style option in ``argv``."""
    value = None
    for k, arg in enumerate(argv):
        if arg in (short, long):
            value = argv[k + 1] if k + 1 < len(argv) else ""
        elif arg.startswith(long + "="):
            value = arg[len(long) + 1:]
        elif arg.startswith(short) and not arg.startswith("--") and len(arg) > len(short):
            value = arg[len(short):]
    return value


def has_option(argv: Sequence[str], *names: str) -> bool:
    """Whether any of the option ``names`` is given (as ``NAME`` or ``NAME=VALUE``)."""
    return any(a == n or a.startswith(n + "=") for a in argv for n in names)


def missing_config(argv: Sequence[str]) -> Optional[str]:
    """A message when a new crosscorpus_emotion experiment has no ``-c`` (s3prl would look for
    ./downstream/crosscorpus_emotion/config.yaml in the current directory)."""
    if (option_value(argv, "-d", "--downstream") != DOWNSTREAM or option_value(argv, "-c", "--config")
            or option_value(argv, "-e", "--past_exp")):
        return None
    shipped = ", ".join(sorted(p.name for p in CONFIG_DIR.glob("*.yaml"))) or "none found"
    return (f"-d {DOWNSTREAM} needs a config: pass -c CONFIG.yaml (shipped in {CONFIG_DIR}: {shipped}), "
            "or -e CHECKPOINT to continue or evaluate an experiment")


def default_device(argv: Sequence[str]) -> List[str]:
    """``--device cpu`` when none is given and CUDA is absent (s3prl's default, cuda, cannot work there)."""
    argv = list(argv)
    if torch.cuda.is_available() or has_option(argv, "--device"):
        return argv
    return argv + ["--device", "cpu"]


def cached_argv(argv: Sequence[str], cache: Optional[FeatureCache]) -> List[str]:
    """Defaults of a cached run: ``-m train``, ``-d crosscorpus_emotion``, the cache's ``-u``/``-k``, the device."""
    argv = list(argv)
    if not has_option(argv, "-m", "--mode"):
        argv += ["-m", "train"]
    if not has_option(argv, "-d", "--downstream"):
        argv += ["-d", DOWNSTREAM]
    if cache is not None and not has_option(argv, "-e", "--past_exp"):
        if not has_option(argv, "-u", "--upstream"):
            argv += ["-u", cache.key.name]
        if not has_option(argv, "-k", "--upstream_ckpt") and cache.header.get("ckpt"):
            argv += ["-k", str(cache.header["ckpt"])]
    return default_device(argv)


def plugin_argv(argv: Sequence[str], cache: Optional[CacheSource]) -> Tuple[List[str], Optional[FeatureCache]]:
    """(s3prl argument list with the plugin's defaults, the opened cache when its folder is given)."""
    if cache is None:
        return default_device(compat.torchrun_args(argv)), None
    features = FeatureCache(cache.root) if cache.root else None
    return cached_argv(argv, features), features


# --------------------------------------------------------------------------- checks after parsing

def check_upstream(args: Namespace, cache: FeatureCache) -> None:
    """Refuse a cache made by another upstream or checkpoint than the run's -u / -k."""
    key = cache.key
    if args.upstream != key.name:
        raise CacheError(f"the run uses upstream {args.upstream!r} but {cache.root} holds {key.describe()}")
    ckpt = getattr(args, "upstream_ckpt", None)
    sha256, _ = checkpoint_identity(args.upstream, ckpt)  # None when -k is not here to hash (then trust the name)
    if key.ckpt_sha256 and sha256 and sha256 != key.ckpt_sha256:
        raise CacheError(f"-k {ckpt} is not the checkpoint the cache {cache.root} was extracted with "
                         f"({key.describe()})")
    frontend = frontend_identity(args.upstream, ckpt)
    if key.frontend_sha256 and frontend and frontend != key.frontend_sha256:
        raise CacheError(f"-k {ckpt}: its feature extractor settings are not those the cache {cache.root} was "
                         f"extracted with ({key.describe()})")


def use_cache(args: Namespace, cache: CacheSource, features: Optional[FeatureCache]) -> None:
    """Point ``args`` at the run's cache (given, or the checkpoint's) after checking that it fits the run."""
    if args.mode == "inference":
        raise CacheError("-m inference reads new audio: use `s3prl-crosscorpus run-downstream -m inference` "
                         "or `predict` with the checkpoint (it is an ordinary s3prl checkpoint)")
    if features is None:
        if not getattr(args, "feature_cache", None):
            raise CacheError("give --cache CACHE (the folder made by `s3prl-crosscorpus extract`)")
        features = FeatureCache(args.feature_cache)
    check_upstream(args, features)
    args.feature_cache = str(features.root.resolve())
    args.feature_cache_check_audio = cache.check_audio


def check_past_exp(argv: Sequence[str]) -> None:
    """Refuse a ``-e`` that is missing or no checkpoint of s3prl's runner before s3prl loads it (a traceback)."""
    from .inference import CheckpointError, read_runner_checkpoint

    value = option_value(argv, "-e", "--past_exp")
    if not value:
        return
    path = Path(value)
    if path.is_dir():
        if not list(path.glob("states-*.ckpt")):
            raise ConfigError(f"-e {path}: the folder holds no states-*.ckpt checkpoint to resume from")
        return
    try:
        read_runner_checkpoint(path)
    except CheckpointError as err:
        raise ConfigError(f"-e {err}") from None


def check_config_file(argv: Sequence[str]) -> None:
    """Refuse a ``-c`` that is missing or not a YAML mapping (s3prl would stop with a traceback)."""
    import yaml

    value = option_value(argv, "-c", "--config")
    if not value or option_value(argv, "-e", "--past_exp"):
        return
    path = Path(value)
    try:
        with open(path, encoding="utf-8") as handle:
            config = yaml.load(handle, Loader=yaml.FullLoader)  # s3prl's own loader
    except OSError as err:
        raise ConfigError(f"-c {path}: cannot read the config ({err.strerror or err})") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"-c {where}: not valid YAML ({getattr(err, 'problem', None) or err})") from None
    if not isinstance(config, dict):
        raise ConfigError(f"-c {path}: the config must be a YAML mapping (runner:, optimizer:, downstream_expert:), "
                          f"not {type(config).__name__}")


def check_override_string(argv: Sequence[str]) -> None:
    """Refuse an ``-o`` option that s3prl's parser cannot split into ``config.a.b=VALUE`` / ``args.x=VALUE``."""
    value = option_value(argv, "-o", "--override")
    if not value or value.lower() == "none":
        return
    for option in value.split(",,"):
        key, equals, _ = option.strip().partition("=")
        first, *rest = key.strip().split(".")
        if (not equals or "=" in _ or first not in ("config", "args") or not rest
                or (first == "args" and len(rest) != 1) or not all(rest)):
            raise ConfigError(f"-o: {option.strip()!r} is not config.SECTION.KEY=VALUE or args.NAME=VALUE (options "
                              "are joined with ',,'; for paths and names use `s3prl-crosscorpus overrides`, "
                              "which quotes '=' and ',,' safely)")


def check_upstream_args(args: Namespace, cached: bool) -> None:
    """Refuse an unknown ``-u`` and a missing ``-k`` file of a ``*_local`` upstream before the runner builds it."""
    import s3prl.hub as hub

    if not hasattr(hub, str(args.upstream)):
        raise ConfigError(f"-u {args.upstream}: unknown s3prl upstream; see s3prl.hub.options() for the names")
    ckpt = getattr(args, "upstream_ckpt", None)
    if not cached and str(args.upstream).endswith("_local") and not (ckpt and Path(ckpt).is_file()):
        raise ConfigError(f"-u {args.upstream} needs -k CHECKPOINT_FILE" + (f"; {ckpt} is not a file" if ckpt else ""))


def evaluate_expdir(args: Namespace, argv: Sequence[str]) -> None:
    """``-m evaluate -e CKPT`` writes next to CKPT (or into ``-p``), not into the folder recorded in the
    checkpoint, which is stale once the experiment was moved or copied."""
    if args.mode != "evaluate" or not args.past_exp or Path(args.past_exp).is_dir():
        return
    given = option_value(argv, "-p", "--expdir")
    args.expdir = str(Path(given) if given else Path(args.past_exp).resolve().parent)
    Path(args.expdir).mkdir(parents=True, exist_ok=True)
    logging.getLogger(__name__).info(f"evaluate: writing into {args.expdir}")


class PluginArgs:
    """Stands in for s3prl's ``get_downstream_args``: s3prl's parsing (config file, ``-o``, ``-e`` restore),
    then the crosscorpus_emotion config check and, for a cached run, the cache; keeps the parsed args."""

    def __init__(self, get_args: Callable, cache: Optional[CacheSource], features: Optional[FeatureCache],
                 argv: Sequence[str] = ()):
        self.get_args, self.cache, self.features, self.argv = get_args, cache, features, list(argv)
        self.args: Optional[Namespace] = None

    def __call__(self):
        check_past_exp(self.argv)
        check_config_file(self.argv)
        check_override_string(self.argv)
        args, config, backup_files = self.get_args()
        evaluate_expdir(args, self.argv)
        check_upstream_args(args, cached=self.cache is not None)
        if args.downstream == DOWNSTREAM and args.mode != "inference":
            settings = validate_config(config, args.upstream)
            check_normalisation_source(settings, None if self.cache is None else "cache")
        if self.cache is not None:
            use_cache(args, self.cache, self.features)
        self.args = args
        return args, config, backup_files


@contextmanager
def s3prl_main_with_plugin(argv: Sequence[str], cache: Optional[CacheSource], features: Optional[FeatureCache],
                           prog: str) -> Iterator[PluginArgs]:
    """s3prl's ``run_downstream`` module with the plugin's argument handling and Runner, ``sys.argv`` = ``argv``.

    Everything is put back on exit, also what s3prl's main changes for the whole process: ``builtins.isinstance``
    (swapped for DDP) and the root logger (``logging.basicConfig``, which would keep writing to the stream of
    the first run, e.g. a log file the caller has closed since).
    """
    root = logging.getLogger()
    saved = s3prl_main.get_downstream_args, s3prl_main.Runner, sys.argv, builtins.isinstance
    saved_handlers, saved_level = root.handlers[:], root.level
    plugin_args = PluginArgs(saved[0], cache, features, argv)
    s3prl_main.get_downstream_args = plugin_args
    s3prl_main.Runner = CachedRunner if cache is not None else LayerRunner
    sys.argv = [prog] + list(argv)
    try:
        yield plugin_args
    finally:
        s3prl_main.get_downstream_args, s3prl_main.Runner, sys.argv, builtins.isinstance = saved
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


# --------------------------------------------------------------------------- entries

def run(argv: Sequence[str], cache: Optional[CacheSource] = None, prog: str = PROG) -> Namespace:
    """Run s3prl's ``run_downstream`` main on s3prl's arguments ``argv``; return the parsed args.

    Without ``cache`` the upstream runs live (and torchrun's ``LOCAL_RANK`` becomes ``--local_rank``);
    with it, the features are read from the cache and ``-m``/``-d``/``-u``/``-k`` default to the cache's.
    Raises :class:`ConfigError` or :class:`CacheError` before training when the run cannot work.
    """
    argv, features = plugin_argv(argv, cache)
    message = missing_config(argv)
    if message:
        raise ConfigError(message)
    with s3prl_main_with_plugin(argv, cache, features, prog) as plugin_args, warnings.catch_warnings():
        # s3prl's runner uses the deprecated torch.cuda.amp.autocast on every step, also on CPU
        warnings.filterwarnings("ignore", message=r".*torch\.cuda\.amp\.autocast", category=FutureWarning)
        warnings.filterwarnings("ignore", message=r".*CUDA is not available.*autocast", category=UserWarning)
        s3prl_main.main()
    return plugin_args.args


def parse_args(argv: Sequence[str], cache: Optional[CacheSource] = None, prog: str = PROG) -> Tuple[Namespace, dict]:
    """(args, config) exactly as :func:`run` would run them, without running anything."""
    argv, features = plugin_argv(argv, cache)
    with s3prl_main_with_plugin(argv, cache, features, prog) as plugin_args:
        args, config, _ = plugin_args()
    return args, config


def seed_everything(seed: int) -> None:
    """What s3prl's run_downstream main does before building the Runner."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def build_runner(argv: Sequence[str], cache: Optional[CacheSource] = None) -> Tuple[Runner, Namespace]:
    """(runner, args): the seeded Runner that :func:`run` would start, not started (benchmarks and tests
    hook or time it). No DDP and no args/config files in the experiment folder."""
    args, config = parse_args(argv, cache)
    seed_everything(args.seed)
    return (CachedRunner if cache is not None else LayerRunner)(args, config), args


def evaluate_best(args: Namespace, cache: Optional[CacheSource] = None) -> Namespace:
    """``-m evaluate -e EXPDIR/dev-best.ckpt -t test`` after a training run: predict/truth files and results."""
    best = Path(args.expdir) / BEST_CKPT
    if not best.exists():
        raise ConfigError(f"{best} was not written: no dev evaluation ran (is 'dev' in runner.eval_dataloaders "
                          f"and eval_step <= total_steps?)")
    return run(["-m", "evaluate", "-e", str(best), "-t", "test", "--device", args.device], cache)
