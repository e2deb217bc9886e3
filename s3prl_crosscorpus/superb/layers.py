"""Layer selection of the featurizer: ``modelrc.layers`` instead of the weighted sum of every hidden state.

``modelrc.layers`` is one hidden-state index (``6``: that layer alone, as s3prl's ``-l``), an inclusive
range (``"4-8"``) or a list (``[0, 4, 8]`` or ``"0,4,8"``): s3prl's learned softmax weighting over those
layers only. Index 0 is the upstream's first hidden state (the CNN / input embedding), the last is the
top layer. Unset (or ``all``): every hidden state, the paper's setting.

:class:`LayerFeaturizer` is s3prl's ``Featurizer`` with the selection applied; the live runner
(:class:`LayerRunner`), the cached runner and ``predict`` build it, so a checkpoint's ``Featurizer``
weights always have the size of its selection.
"""
from typing import Any, Mapping, Optional, Sequence, Tuple

from s3prl.downstream.runner import Runner
from s3prl.upstream.interfaces import Featurizer

from ..core.names import ALL_LAYERS, parse_layers  # noqa: F401  (re-exported: the parser lives with the names)
from .dataset import ConfigError

def layers_of(config: Mapping[str, Any]) -> Optional[Tuple[int, ...]]:
    """The selection of a runner config (``downstream_expert.modelrc.layers``)."""
    modelrc = (config.get("downstream_expert") or {}).get("modelrc") or {}
    return parse_layers(modelrc.get("layers"))


class LayerFeaturizer(Featurizer):
    """s3prl's ``Featurizer`` over the selected hidden states only: one layer as it is, several weighted."""

    def __init__(self, *args: Any, layers: Optional[Sequence[int]] = None, **kwargs: Any):
        # s3prl's __init__ already calls _select_feature (to size the weights): set the selection first.
        object.__setattr__(self, "selected_layers", tuple(layers) if layers is not None else None)
        super().__init__(*args, **kwargs)

    def _select_feature(self, features: Any) -> Any:
        feature = super()._select_feature(features)
        layers = self.selected_layers
        if layers is None:
            return feature
        available = len(feature) if isinstance(feature, (list, tuple)) else 1
        if max(layers) >= available:
            raise ConfigError(f"modelrc.layers={list(layers)}: the upstream has {available} hidden states "
                              f"(layers 0..{available - 1})")
        if not isinstance(feature, (list, tuple)):
            return feature
        return feature[layers[0]] if len(layers) == 1 else [feature[k] for k in layers]


def build_featurizer(upstream: Any, args: Any, config: Mapping[str, Any], device: str,
                     cls: type = LayerFeaturizer) -> Featurizer:
    """The featurizer of s3prl's ``Runner._get_featurizer`` (same arguments) with ``modelrc.layers`` applied."""
    return cls(upstream=upstream, feature_selection=args.upstream_feature_selection,
               layer_selection=args.upstream_layer_selection, upstream_device=device,
               normalize=args.upstream_feature_normalize, layers=layers_of(config)).to(device)


class LayerRunner(Runner):
    """s3prl's ``Runner`` (``run-downstream``) whose featurizer honours ``modelrc.layers``."""

    def _get_featurizer(self):
        model = build_featurizer(self.upstream.model, self.args, self.config, self.args.device)
        return self._init_model(model=model, name="Featurizer", trainable=True,
                                interfaces=["output_dim", "downsample_rate"])
