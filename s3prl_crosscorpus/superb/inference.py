"""Emotion probabilities of new audio from a ``dev-best.ckpt`` of the crosscorpus_emotion downstream.

The checkpoint written by s3prl's runner holds everything needed: ``Args`` (upstream name, ``-k``
checkpoint, feature selection), ``Config`` (the head's ``modelrc``), and the trained ``Featurizer``
(layer weights) and ``Downstream`` (projector + head) states (plus ``Upstream`` when fine-tuned).

A checkpoint trained with ``datarc.normalisation`` corpus/speaker saw every hidden layer's frames
z-normalised with its group's statistics; :meth:`DnnPredictor.predict_proba_grouped` does the same
with the statistics of each given group's own files, and :meth:`DnnPredictor.predict_proba` refuses.
"""
from argparse import Namespace
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from ..core.labels import LABELS
from ..core.names import DOWNSTREAM
from ..core.normalise import NORMS, transductive_refusal
from .heads import EmotionModel, build_model
from .layers import build_featurizer
from .upstreams import build_upstream


class CheckpointError(ValueError):
    """A file that is not a crosscorpus_emotion checkpoint of s3prl's runner."""


class UngroupedError(CheckpointError):
    """A corpus/speaker-normalised checkpoint asked to predict files whose grouping is unknown."""


@dataclass
class DnnPredictor:
    """Frozen upstream -> featurizer (weighted layer sum) -> projector + head, in eval mode."""

    upstream: nn.Module
    featurizer: nn.Module
    model: EmotionModel
    args: Any
    config: dict
    device: str = "cpu"
    labels: Sequence[str] = LABELS
    normalisation: str = "global"

    @classmethod
    def from_checkpoint(cls, ckpt_path: Union[str, Path], device: str = "cpu",
                        upstream_ckpt: Optional[str] = None, grouped: bool = True) -> "DnnPredictor":
        """Rebuild the whole model of a runner checkpoint; ``upstream_ckpt`` replaces a moved ``-k`` file.

        ``grouped=False`` (the caller has no speaker groups) refuses a corpus/speaker-normalised
        checkpoint with :class:`UngroupedError` before the upstream is built.
        """
        ckpt = load_checkpoint(ckpt_path)
        args, config = ckpt["Args"], ckpt["Config"]
        norm = (config.get("downstream_expert", {}).get("datarc") or {}).get("normalisation") or "global"
        if norm not in NORMS:
            raise CheckpointError(f"{ckpt_path}: unknown datarc.normalisation {norm!r}")
        if norm != "global" and not grouped:
            raise UngroupedError(f"{ckpt_path}: {transductive_refusal(norm)}")
        upstream = build_upstream(args.upstream, upstream_ckpt or args.upstream_ckpt, args.upstream_model_config,
                                  device)
        if "Upstream" in ckpt:  # saved only when the upstream was fine-tuned (-f)
            upstream.load_state_dict(ckpt["Upstream"])
        upstream.eval()
        featurizer = build_featurizer(upstream, args, config, device)  # with the run's modelrc.layers
        featurizer.load_state_dict(ckpt["Featurizer"])
        model = build_model(featurizer.output_dim, config["downstream_expert"]["modelrc"]).to(device)
        model.load_state_dict({k[len("model."):]: v for k, v in ckpt["Downstream"].items() if k.startswith("model.")})
        return cls(upstream, featurizer.eval(), model.eval(), args, config, device, normalisation=norm)

    @torch.no_grad()
    def predict_proba(self, waves: Sequence[np.ndarray]) -> np.ndarray:
        """Class probabilities [N, 4] (columns in LABELS order) of 16 kHz mono float waves.

        Each wave goes through the upstream alone: HuBERT's first conv layer normalises over the
        whole (padded) input, so batching would make a prediction depend on its batch-mates.
        """
        if self.normalisation != "global":
            raise ValueError(f"{transductive_refusal(self.normalisation)}: use predict_proba_grouped")
        return self._stack([self._classify(wave, self.upstream([self._tensor(wave)])) for wave in waves])

    @torch.no_grad()
    def predict_proba_grouped(self, waves: Sequence[np.ndarray], groups: Sequence[str]) -> np.ndarray:
        """Class probabilities [N, 4] with each hidden layer's frames z-normalised per group (corpus/speaker).

        A group's statistics come from its own waves only (frame mean and standard deviation per layer
        and dimension, as in training), so a wave's probabilities depend on its group alone. Two passes
        over the upstream keep memory to one wave's frames.
        """
        if len(groups) != len(waves):
            raise ValueError(f"{len(groups)} groups for {len(waves)} waves")
        stats: Dict[str, List] = {}
        for wave, group in zip(waves, groups):
            frames = self._layers(wave).double()  # [T, L, D]
            acc = stats.setdefault(group, [0, 0.0, 0.0])
            acc[0] += len(frames)
            acc[1] = acc[1] + frames.sum(dim=0)
            acc[2] = acc[2] + frames.square().sum(dim=0)
        scales = {g: self._mean_scale(*acc) for g, acc in stats.items()}
        rows = []
        for wave, group in zip(waves, groups):
            mean, scale = scales[group]
            frames = (self._layers(wave) - mean) / scale
            rows.append(self._classify(wave, {"hidden_states": list(frames.unsqueeze(0).unbind(dim=2))}))
        return self._stack(rows)

    @staticmethod
    def _mean_scale(n: int, total: torch.Tensor, squares: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        mean = total / n
        scale = (squares / n - mean ** 2).clamp(min=0.0).sqrt()
        scale[scale < 1e-6] = 1.0  # constant dimension: leave its scale alone (as in training)
        return mean.float(), scale.float()

    def _tensor(self, wave: np.ndarray) -> torch.Tensor:
        wave = np.asarray(wave, dtype=np.float32)
        if wave.ndim != 1 or not len(wave):
            raise ValueError(f"each wave must be a non-empty 1-d 16 kHz mono array, got shape {wave.shape}")
        return torch.from_numpy(wave).to(self.device)

    def _layers(self, wave: np.ndarray) -> torch.Tensor:
        """The upstream's hidden states of one wave, stacked [T, L, D] (the feature cache's layout)."""
        return torch.stack([h[0] for h in self.upstream([self._tensor(wave)])["hidden_states"]], dim=1)

    def _classify(self, wave: np.ndarray, upstream_output: Dict[str, Any]) -> np.ndarray:
        """Featurizer (weighted layer sum) and head on one wave's upstream output."""
        wavs = [self._tensor(wave)]
        features = self.featurizer(wavs, upstream_output)
        lengths = torch.tensor([len(features[0])], device=self.device)
        return torch.softmax(self.model(features[0].unsqueeze(0), lengths), dim=-1)[0].cpu().numpy()

    @staticmethod
    def _stack(rows: List[np.ndarray]) -> np.ndarray:
        return np.stack(rows) if rows else np.zeros((0, len(LABELS)), dtype=np.float32)


def read_runner_checkpoint(ckpt_path: Union[str, Path], parts: Sequence[str] = ("Args", "Config")) -> dict:
    """Load a checkpoint of s3prl's runner on CPU; CheckpointError naming the file unless it holds ``parts``."""
    path = Path(ckpt_path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found" if not path.exists() else f"{path}: not a file")
    try:
        ckpt = torch.load(path, map_location="cpu")
    except Exception as err:  # torch raises several types for a truncated or foreign file
        raise CheckpointError(f"{path}: not a loadable checkpoint ({load_failure(err)})") from err
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path}: not a checkpoint of s3prl's runner (holds {type(ckpt).__name__})")
    missing = [k for k in parts if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: not a checkpoint of s3prl's runner (missing {', '.join(missing)})")
    if not isinstance(ckpt["Args"], Namespace) or not isinstance(ckpt["Config"], dict):
        raise CheckpointError(f"{path}: not a checkpoint of s3prl's runner (Args or Config of the wrong type)")
    return ckpt


def load_failure(err: Exception) -> str:
    """One line on why ``torch.load`` failed (its weights-only message is a page long)."""
    text = str(err).strip()
    if "Weights only load failed" in text:
        return "not a torch file, or it holds objects torch refuses to unpickle with weights_only"
    return text.splitlines()[0] if text else type(err).__name__


def load_checkpoint(ckpt_path: Union[str, Path]) -> dict:
    """Load a runner checkpoint on CPU and check that it is one of this downstream."""
    path = Path(ckpt_path)
    ckpt = read_runner_checkpoint(path, ("Args", "Config", "Featurizer", "Downstream"))
    if getattr(ckpt["Args"], "downstream", None) != DOWNSTREAM:
        raise CheckpointError(f"{path}: trained for downstream {getattr(ckpt['Args'], 'downstream', None)!r}, "
                              f"not {DOWNSTREAM}")
    return ckpt
