"""``train-cached``: s3prl's own Runner (train / evaluate) with the frozen upstream read from a feature cache.

Everything but the upstream is the on-the-fly path's code: s3prl's ``Runner`` loop (optimizer,
scheduler, clipping, logging, dev evaluation, checkpoints), s3prl's ``Featurizer`` (softmax layer
weights over every stored layer; only its weighted sum is computed without temporaries), and the
``crosscorpus_emotion`` expert (heads, shared folds, dev-UAR selection, predict/truth files,
shared-schema results). The upstream is replaced by
:class:`CachedUpstream`, whose "waves" are the cached ``[frames, layers, hidden]`` arrays, so a
training step costs only the head. Checkpoints are ordinary s3prl checkpoints: a model trained
here also runs with ``s3prl-crosscorpus run-downstream -m evaluate -e CKPT`` on raw audio.
"""
import argparse
import os
import random
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pad_sequence

from .dataset import ConfigError, EmotionDataset, Item
from ..cache.format import CacheError, FeatureCache, UpstreamKey
from ..core.io_utils import atomic_open, sha256_file
from ..core.labels import LABEL_TO_INDEX

PROG = "s3prl-crosscorpus train-cached"
#: Frames of the stand-in output the Featurizer sees when it probes the upstream at start-up.
PROBE_FRAMES = 50
#: Extra key of the stand-in upstream's output: the padded batch with all layers, ``[B, T, L, D]``.
STACKED = "stacked_hidden_states"


class CachedUpstream(nn.Module):
    """Stands in for the frozen upstream inside s3prl's Runner.

    Its inputs are the cached ``[T, L, D]`` tensors of a batch (what the dataset yields in place
    of waves); its output is s3prl's ``{"hidden_states": [L x (B, T_max, D)]}``. One input "sample"
    is one frame, so the downsample rate is 1 and the Featurizer keeps exactly ``T`` frames each.
    """

    def __init__(self, key: UpstreamKey):
        super().__init__()
        self.key = key

    def get_downsample_rates(self, key: str) -> int:
        return 1

    def forward(self, inputs: Sequence[Tensor]) -> Dict[str, Any]:
        if inputs[0].dim() == 1:  # the Featurizer's start-up probe sends one random wave
            padded = inputs[0].new_zeros(1, PROBE_FRAMES, self.key.num_layers, self.key.hidden_size)
        else:
            padded = pad_sequence(list(inputs), batch_first=True)  # [B, T, L, D]
        return {"hidden_states": list(padded.unbind(dim=2)), STACKED: padded}


def cached_featurizer_class():
    """s3prl's legacy ``Featurizer`` whose weighted sum reads the padded ``[B, T, L, D]`` batch in place.

    Same parameters (``weights``, so checkpoints are interchangeable) and the same formula as s3prl's
    ``_weighted_sum``: optional per-frame layer norm, then ``sum_l softmax(weights)_l * h_l``. s3prl
    stacks the L layers into a new tensor and multiplies before summing (three full-size temporaries
    forward and backward); a matrix product over the layer axis avoids them, which matters when the
    upstream costs nothing.
    """
    from s3prl.upstream.interfaces import Featurizer

    class CachedFeaturizer(Featurizer):
        def forward(self, paired_wavs: Sequence[Any], paired_features: Dict[str, Any]) -> List[Tensor]:
            stacked = paired_features.get(STACKED)
            if (stacked is None or not hasattr(self, "weights") or self.feature_selection != "hidden_states"
                    or self.layer_selection is not None or self.layer_num != stacked.size(2)):
                return super().forward(paired_wavs, paired_features)
            if self.normalize:
                stacked = F.layer_norm(stacked, (stacked.shape[-1],))
            weighted = torch.matmul(F.softmax(self.weights, dim=-1), stacked)  # [L] @ [B, T, L, D] -> [B, T, D]
            return self.tolist(paired_wavs, weighted)

    return CachedFeaturizer


class CachedEmotionDataset(EmotionDataset):
    """The expert's dataset with each wave replaced by the utterance's cached features (float32 tensor [T, L, D])."""

    def __init__(self, utterances, cache: FeatureCache):
        super().__init__(utterances)
        self.cache = cache

    def __getitem__(self, index: int) -> Item:
        utt = self.utterances[index]
        # Copy the fp16 rows out of the read-only map, then let torch widen them (10x numpy's speed).
        features = torch.from_numpy(np.array(self.cache.features(utt.id))).float()
        return features, LABEL_TO_INDEX[utt.label], utt.id, utt.corpus


def cached_expert_class():
    """``DownstreamExpert`` of crosscorpus_emotion reading its splits from the cache (built lazily:
    the expert module imports s3prl-dependent code only after ``compat.apply``)."""
    from .expert import DownstreamExpert

    class CachedDownstreamExpert(DownstreamExpert):
        """The plugin's expert; only the datasets (cached features instead of audio) and the recorded
        run configuration (which cache) differ."""

        def __init__(self, upstream_dim: int, upstream_rate: int, downstream_expert: Mapping[str, Any],
                     expdir: str, **kwargs: Any):
            super().__init__(upstream_dim, upstream_rate, downstream_expert, expdir, **kwargs)
            self.cache = FeatureCache(kwargs["feature_cache"])
            utterances = [u for dataset in self.datasets.values() for u in dataset.utterances]
            hashes = ({u.id: sha256_file(u.path) for u in utterances}
                      if kwargs.get("feature_cache_check_audio", True) else None)
            self.cache.require([u.id for u in utterances], hashes)
            self.datasets = {name: CachedEmotionDataset(dataset.utterances, self.cache)
                             for name, dataset in self.datasets.items()}

        def _run_config(self) -> dict:
            config = super()._run_config()
            config.update(feature_cache=str(self.cache.root), feature_cache_upstream=dict(
                name=self.cache.key.name, ckpt_sha256=self.cache.key.ckpt_sha256,
                num_layers=self.cache.num_layers, hidden_size=self.cache.hidden_size))
            return config

    return CachedDownstreamExpert


def cached_runner_class():
    """s3prl's ``Runner`` with the upstream and the expert swapped for their cached counterparts."""
    from s3prl.downstream.runner import Runner

    class CachedRunner(Runner):
        def _get_upstream(self):
            self.cache_key = FeatureCache(self.args.feature_cache).key
            model = CachedUpstream(self.cache_key).to(self.args.device)
            return self._init_model(model=model, name="Upstream", trainable=False,
                                    interfaces=["get_downsample_rates"])

        def _get_featurizer(self):
            # Runner._get_featurizer, with the in-place weighted sum of the cached layers.
            model = cached_featurizer_class()(
                upstream=self.upstream.model, feature_selection=self.args.upstream_feature_selection,
                layer_selection=self.args.upstream_layer_selection, upstream_device=self.args.device,
                normalize=self.args.upstream_feature_normalize).to(self.args.device)
            return self._init_model(model=model, name="Featurizer", trainable=True,
                                    interfaces=["output_dim", "downsample_rate"])

        def _get_downstream(self):
            # Runner._get_downstream, with the expert class fixed and the true upstream rate passed on.
            model = cached_expert_class()(upstream_dim=self.featurizer.model.output_dim,
                                          upstream_rate=self.cache_key.downsample_rate,
                                          **self.config, **vars(self.args)).to(self.args.device)
            return self._init_model(model=model, name="Downstream", trainable=True,
                                    interfaces=["get_dataloader", "log_records"])

    return CachedRunner


# --------------------------------------------------------------------------- arguments

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, add_help=False, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  s3prl-crosscorpus train-cached --cache cache/hubert -c downstream_configs/linear.yaml "
               "-p exp/linear/matched-iemocap/fold1 \\\n    -o \"config.downstream_expert.datarc.data_dir='DATA',,"
               "config.downstream_expert.datarc.test_corpus='iemocap'\"",
        description="Train and evaluate crosscorpus_emotion heads from a feature cache made by "
                    "`s3prl-crosscorpus extract`. Every other option is s3prl run_downstream's "
                    "(-c CONFIG -p EXPDIR -o OVERRIDES --seed --device -m train|evaluate -e CKPT -t SPLIT ...); "
                    "-u/-k default to the cache's upstream.")
    parser.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    parser.add_argument("--cache", type=Path, help="cache folder (default with -e: the one the checkpoint used)")
    parser.add_argument("--no-test", action="store_true",
                        help="after -m train, do not evaluate dev-best.ckpt on the test split")
    parser.add_argument("--no-audio-check", action="store_true",
                        help="do not re-hash the audio files to confirm the cache is from the same audio")
    return parser


def has_option(argv: Sequence[str], *names: str) -> bool:
    return any(a == n or a.startswith(n + "=") for a in argv for n in names)


def s3prl_argv(rest: Sequence[str], key: Optional[UpstreamKey], header: Optional[Mapping]) -> List[str]:
    """s3prl's argument list with this command's defaults: -m train, -d crosscorpus_emotion, the cache's
    upstream, and (as run-downstream) the CPU when there is no GPU."""
    from .runner import DOWNSTREAM, default_device

    argv = list(rest)
    if not has_option(argv, "-m", "--mode"):
        argv += ["-m", "train"]
    if not has_option(argv, "-d", "--downstream"):
        argv += ["-d", DOWNSTREAM]
    if key is not None and not has_option(argv, "-e", "--past_exp"):
        if not has_option(argv, "-u", "--upstream"):
            argv += ["-u", key.name]
        if not has_option(argv, "-k", "--upstream_ckpt") and header and header.get("ckpt"):
            argv += ["-k", str(header["ckpt"])]
    return default_device(argv)


def parse_s3prl_args(argv: Sequence[str]) -> Tuple[argparse.Namespace, dict]:
    """(args, config) exactly as s3prl's run_downstream builds them (config file, -o overrides, -e
    restore), with the crosscorpus_emotion config check of the plugin."""
    import s3prl.run_downstream as s3prl_main

    from .runner import PROG as RUN_PROG, validating

    saved = sys.argv
    sys.argv = [RUN_PROG] + list(argv)
    try:
        args, config, _ = validating(s3prl_main.get_downstream_args)()
    finally:
        sys.argv = saved
    return args, config


def check_upstream(args: argparse.Namespace, cache: FeatureCache) -> None:
    """Refuse a cache made by another upstream or checkpoint than the run's -u / -k."""
    key = cache.key
    if args.upstream != key.name:
        raise CacheError(f"the run uses upstream {args.upstream!r} but {cache.root} holds {key.describe()}")
    ckpt = getattr(args, "upstream_ckpt", None)
    if key.ckpt_sha256 and ckpt and Path(ckpt).is_file() and sha256_file(ckpt) != key.ckpt_sha256:
        raise CacheError(f"-k {ckpt} is not the checkpoint the cache {cache.root} was extracted with "
                         f"({key.describe()})")


def save_run_files(args: argparse.Namespace, config: Mapping) -> None:
    """``args_<time>.yaml`` and ``config_<time>.yaml`` in the experiment folder, as s3prl's main writes."""
    import yaml
    from s3prl.utility.helper import get_time_tag

    tag = get_time_tag()
    for name, content in (("args", vars(args)), ("config", dict(config))):
        with atomic_open(Path(args.expdir) / f"{name}_{tag}.yaml", "w") as handle:
            yaml.dump(content, handle)


def seed_everything(seed: int) -> None:
    """What s3prl's run_downstream main does before building the Runner."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def build_runner(argv: Sequence[str], cache_dir: Optional[Path], check_audio: bool = True):
    """(runner, args): s3prl's Runner over the cache for an s3prl-style argument list."""
    from . import compat
    from .runner import register

    compat.apply()
    register()
    cache = FeatureCache(cache_dir) if cache_dir else None
    argv = s3prl_argv(argv, cache.key if cache else None, cache.header if cache else None)
    args, config = parse_s3prl_args(argv)
    if cache is None:
        if not getattr(args, "feature_cache", None):
            raise CacheError("give --cache CACHE (the folder made by `s3prl-crosscorpus extract`)")
        cache = FeatureCache(args.feature_cache)
    if args.mode == "inference":
        raise CacheError("-m inference reads new audio: use `s3prl-crosscorpus run-downstream -m inference` "
                         "or `predict` with the checkpoint (it is an ordinary s3prl checkpoint)")
    check_upstream(args, cache)
    args.feature_cache = str(cache.root.resolve())
    args.feature_cache_check_audio = check_audio
    save_run_files(args, config)
    seed_everything(args.seed)
    return cached_runner_class()(args, config), args


def evaluate_best(args: argparse.Namespace, check_audio: bool) -> None:
    """``-m evaluate -e EXPDIR/dev-best.ckpt -t test``: writes predict/truth files and the results."""
    from .expert import BEST_CKPT

    best = Path(args.expdir) / BEST_CKPT
    if not best.exists():
        raise CacheError(f"{best} was not written: no dev evaluation ran (is 'dev' in runner.eval_dataloaders "
                         f"and eval_step <= total_steps?)")
    runner, _ = build_runner(["-m", "evaluate", "-e", str(best), "-t", "test", "--device", args.device],
                             Path(args.feature_cache), check_audio)
    runner.evaluate()


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    ours, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if ours.help:
        parser.print_help()
        return 0
    from .runner import missing_config

    if int(os.environ.get("WORLD_SIZE", 1)) > 1:
        print(f"{PROG}: error: runs in one process (no DDP): from the cache a head trains at the speed of the "
              "head alone; start it without torchrun", file=sys.stderr)
        return 2
    message = missing_config(s3prl_argv(rest, None, None))
    if message:
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    try:
        runner, args = build_runner(rest, ours.cache, not ours.no_audio_check)
        getattr(runner, args.mode)()
        if args.mode == "train" and not ours.no_test:
            evaluate_best(args, not ours.no_audio_check)
    except (CacheError, ConfigError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
