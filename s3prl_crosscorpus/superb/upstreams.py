"""s3prl upstreams built exactly as s3prl's runner builds them (for extraction and inference)."""
from typing import List, Optional

import s3prl.hub as hub
from torch import Tensor, nn


class UpstreamError(ValueError):
    """An upstream that cannot be built: unknown name, missing checkpoint, failed download."""


def build_upstream(name: str, ckpt: Optional[str] = None, model_config: Optional[str] = None,
                   device: str = "cpu") -> nn.Module:
    """``getattr(s3prl.hub, name)(ckpt=..., model_config=..., refresh=False)`` on ``device``, in eval mode.

    The same call as s3prl's ``Runner._get_upstream``, so that features computed here equal the
    runner's. Raises :class:`UpstreamError` with the upstream and checkpoint named.
    """
    if not hasattr(hub, name):
        raise UpstreamError(f"unknown s3prl upstream {name!r}; see s3prl.hub.options() for the names")
    try:
        upstream = getattr(hub, name)(ckpt=ckpt, model_config=model_config, refresh=False)
    except UpstreamError:
        raise
    except Exception as err:  # s3prl raises anything from a failed download to a bad checkpoint
        raise UpstreamError(f"cannot build s3prl upstream {name!r}{f' from {ckpt}' if ckpt else ''}: {err!r}; "
                            "without a network use a local checkpoint (e.g. -u hubert_local -k FILE)") from err
    return upstream.to(device).eval()


def hidden_states(output: dict) -> List[Tensor]:
    """The ``hidden_states`` entry as a list of [B, T, D] tensors (s3prl Featurizer's selection rules)."""
    feature = output["hidden_states"]
    if isinstance(feature, dict):
        feature = list(feature.values())
    if not isinstance(feature, (list, tuple)):
        feature = [feature]
    return list(feature)
