"""s3prl's Runner with the frozen upstream read from a feature cache (``train-cached``).

Everything but the upstream is the on-the-fly path's code: s3prl's ``Runner`` loop (optimizer,
scheduler, clipping, logging, dev evaluation, checkpoints), s3prl's ``Featurizer`` (softmax layer
weights over every stored layer; only its weighted sum is computed without temporaries), and the
``crosscorpus_emotion`` expert (heads, shared folds, dev-UAR selection, predict/truth files,
shared-schema results). The upstream is replaced by :class:`CachedUpstream`, whose "waves" are
the cached ``[frames, layers, hidden]`` arrays, so a training step costs only the head.
Checkpoints are ordinary s3prl checkpoints: a model trained here also runs with
``s3prl-crosscorpus run-downstream -m evaluate -e CKPT`` on raw audio.
"""
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from s3prl.downstream.runner import Runner
from torch import Tensor, nn
from torch.nn.utils.rnn import pad_sequence

from ..core.normalise import group_of

from ..augment.plan import draw_plan, plan_key
from ..augment.spec import SpecError
from ..cache.augmented import check_cacheable, copy_roots
from ..cache.format import HEADER, FeatureCache, UpstreamKey
from ..core.corpora import Utterance
from ..core.io_utils import sha256_file
from ..core.labels import LABEL_TO_INDEX
from ..core.manifest import load_manifest
from ..domain.frames import FrameStatistics, frame_statistics
from .augmented import AugmentSettings, version_of
from .dataset import ConfigError, EmotionDataset, Item
from .expert import DownstreamExpert
from .layers import LayerFeaturizer, build_featurizer

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


class CachedFeaturizer(LayerFeaturizer):
    """s3prl's legacy ``Featurizer`` whose weighted sum reads the padded ``[B, T, L, D]`` batch in place.

    Same parameters (``weights``, so checkpoints are interchangeable) and the same formula as s3prl's
    ``_weighted_sum``: optional per-frame layer norm, then ``sum_l softmax(weights)_l * h_l``. s3prl
    stacks the L layers into a new tensor and multiplies before summing (three full-size temporaries
    forward and backward); a matrix product over the layer axis avoids them, which matters when the
    upstream costs nothing.
    """

    def forward(self, paired_wavs: Sequence[Any], paired_features: Dict[str, Any]) -> List[Tensor]:
        stacked = paired_features.get(STACKED)
        if stacked is not None and self.selected_layers is not None:  # modelrc.layers: those layers only
            stacked = stacked[:, :, list(self.selected_layers)]
        if (stacked is None or not hasattr(self, "weights") or self.feature_selection != "hidden_states"
                or self.layer_selection is not None or self.layer_num != stacked.size(2)):
            return super().forward(paired_wavs, paired_features)
        if self.normalize:
            stacked = F.layer_norm(stacked, (stacked.shape[-1],))
        weighted = torch.matmul(F.softmax(self.weights, dim=-1), stacked)  # [L] @ [B, T, L, D] -> [B, T, D]
        return self.tolist(paired_wavs, weighted)


class CachedEmotionDataset(EmotionDataset):
    """The expert's dataset with each wave replaced by the utterance's cached features (float32 tensor [T, L, D]),
    each layer z-normalised with its corpus' / speaker's frame statistics when ``stats`` are given."""

    def __init__(self, utterances, cache: FeatureCache, stats: Optional[FrameStatistics] = None, norm: str = "global"):
        super().__init__(utterances)
        self.cache = cache
        self.norm = norm
        self.stats = {g: (torch.from_numpy(m), torch.from_numpy(s)) for g, (m, s) in (stats or {}).items()}

    def __getitem__(self, index: int) -> Item:
        utt = self.utterances[index]
        # Copy the fp16 rows out of the read-only map, then let torch widen them (10x numpy's speed).
        features = torch.from_numpy(np.array(self.cache.features(utt.id))).float()
        if self.norm != "global":
            mean, scale = self.stats[group_of(utt.corpus, utt.speaker, self.norm)]
            features = (features - mean) / scale
        return features, LABEL_TO_INDEX[utt.label], utt.id, utt.corpus


class CachedAugmentedDataset(CachedEmotionDataset):
    """Cached training features, each utterance as its plain features or one augmented copy's, drawn per epoch
    exactly as the live path draws them (:func:`.augmented.version_of`)."""

    def __init__(self, utterances, cache: FeatureCache, stats, norm: str, copies: Sequence[FeatureCache],
                 settings: AugmentSettings):
        super().__init__(utterances, cache, stats, norm)
        self.copies, self.settings, self.epoch = list(copies), settings, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, index: int) -> Item:
        utt = self.utterances[index]
        version = version_of(self.settings.seed, self.epoch, utt.id, self.settings.copies)
        if version < 0 or utt.id in self.copies[version].excluded:
            return super().__getitem__(index)
        features = torch.from_numpy(np.array(self.copies[version].features(utt.id))).float()
        if self.norm != "global":
            mean, scale = self.stats[group_of(utt.corpus, utt.speaker, self.norm)]
            features = (features - mean) / scale
        return features, LABEL_TO_INDEX[utt.label], utt.id, utt.corpus


class CachedDownstreamExpert(DownstreamExpert):
    """The plugin's expert; only the datasets (cached features instead of audio) and the recorded run
    configuration (which cache) differ. Reads ``feature_cache`` and ``feature_cache_check_audio`` from the args."""

    def __init__(self, upstream_dim: int, upstream_rate: int, downstream_expert: Mapping[str, Any],
                 expdir: str, **kwargs: Any):
        super().__init__(upstream_dim, upstream_rate, downstream_expert, expdir, **kwargs)
        if self.test_degrade is not None:
            raise ConfigError("datarc.test_degrade needs the degraded test audio: evaluate the checkpoint with the live "
                              "upstream (run-downstream -m evaluate -e CKPT -o ...datarc.test_degrade=SPEC)")
        utterances = [u for dataset in self.datasets.values() for u in dataset.utterances]
        hashes = ({u.id: sha256_file(u.path) for u in utterances}
                  if kwargs.get("feature_cache_check_audio", True) else None)
        self.cache.require([u.id for u in utterances], hashes)
        # Once per run, before the first step: a corrupted or non-finite shard would train and score silently.
        notes = self.cache.verify(u.id for u in utterances)
        if notes:
            self._log([f"warning: {note}" for note in notes])
        norm = self.settings.normalisation
        stats = (frame_statistics(self.cache, load_manifest(self.settings.data_dir), utterances, norm)
                 if norm != "global" else None)
        self.datasets = {name: CachedEmotionDataset(dataset.utterances, self.cache, stats, norm)
                         for name, dataset in self.datasets.items()}
        if self.augment is not None:  # training only: dev and test read the plain cache
            train = self.datasets["train"].utterances
            self.datasets["train"] = CachedAugmentedDataset(train, self.cache, stats, norm,
                                                            self.augmented_caches(train, hashes), self.augment)

    def augmented_caches(self, train: Sequence[Utterance], hashes: Optional[Mapping[str, str]]) -> List[FeatureCache]:
        """The K copy caches of ``datarc.augment`` beside the plain cache, each holding every training id (made
        from the same audio and SPEC, when ``hashes`` of the audio are given)."""
        try:
            check_cacheable(self.augment.spec)
        except SpecError as err:
            raise ConfigError(f"datarc.augment: {err}") from None
        roots = copy_roots(self.cache.root, self.augment.spec, self.augment.seed, self.augment.copies)
        missing = [r for r in roots if not (r / HEADER).exists()]
        if missing:
            raise ConfigError(f"datarc.augment: no augmented cache {missing[0]}; extract it first: s3prl-crosscorpus "
                              f"extract -u {self.cache.key.name} --data DATA --out {self.cache.root} --augment "
                              f"'{self.augment.spec.canonical()}' --augment-copies {self.augment.copies} "
                              f"--augment-seed {self.augment.seed}")
        caches = [FeatureCache(r) for r in roots]
        spec, seed = self.augment.spec, self.augment.seed
        for k, cache in enumerate(caches):
            keys = None if hashes is None else {
                u.id: plan_key(hashes[u.id], spec, draw_plan(spec, hashes[u.id], k, seed)) for u in train}
            cache.require([u.id for u in train], keys)
        return caches

    def utterance_problems(self, utterances: Sequence[Utterance]) -> Dict[str, str]:
        """The utterances ``extract`` excluded (named in the cache's shard indexes); no audio is decoded."""
        self.cache = FeatureCache(self.run_args["feature_cache"])
        problems = {u.id: self.cache.excluded[u.id]["reason"] for u in utterances if u.id in self.cache.excluded}
        self.report_excluded(problems)
        return problems

    def _run_config(self) -> dict:
        config = super()._run_config()
        config.update(feature_cache=str(self.cache.root), feature_cache_upstream=dict(
            name=self.cache.key.name, ckpt_sha256=self.cache.key.ckpt_sha256, revision=self.cache.key.revision,
            num_layers=self.cache.num_layers, hidden_size=self.cache.hidden_size,
            info=self.cache.header.get("upstream_info")))
        return config


class CachedRunner(Runner):
    """s3prl's ``Runner`` with the upstream, featurizer and expert swapped for their cached counterparts."""

    def _get_upstream(self):
        self.cache_key = FeatureCache(self.args.feature_cache).key
        model = CachedUpstream(self.cache_key).to(self.args.device)
        return self._init_model(model=model, name="Upstream", trainable=False, interfaces=["get_downsample_rates"])

    def _get_featurizer(self):
        # Runner._get_featurizer, with the in-place weighted sum of the cached layers and modelrc.layers.
        model = build_featurizer(self.upstream.model, self.args, self.config, self.args.device, CachedFeaturizer)
        return self._init_model(model=model, name="Featurizer", trainable=True,
                                interfaces=["output_dim", "downsample_rate"])

    def _get_downstream(self):
        # Runner._get_downstream, with the expert class fixed and the true upstream rate passed on.
        model = CachedDownstreamExpert(upstream_dim=self.featurizer.model.output_dim,
                                       upstream_rate=self.cache_key.downsample_rate,
                                       **self.config, **vars(self.args)).to(self.args.device)
        return self._init_model(model=model, name="Downstream", trainable=True,
                                interfaces=["get_dataloader", "log_records"])
