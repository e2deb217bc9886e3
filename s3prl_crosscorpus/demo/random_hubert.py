"""A randomly initialised HuBERT in s3prl's converted checkpoint format (for offline tests and benchmarks).

The file holds ``task_cfg``, ``model_cfg``, ``model_weight`` and ``dictionaries_symbols``, exactly
what s3prl's ``load_converted_model`` reads, so it loads with ``-u hubert_local -k PATH``. The
model is built from s3prl's own HuBERT classes; only the sizes differ between "tiny" and "base".
"""
from dataclasses import asdict
from pathlib import Path
from typing import Dict, List, Union

from ..core.io_utils import atomic_open

#: Overrides of s3prl's ``HubertConfig`` defaults (which are HuBERT base's) per size.
SIZES: Dict[str, dict] = {
    # Two small layers; the conv strides keep HuBERT's 320-sample hop, which s3prl hard-codes.
    "tiny": dict(encoder_layers=2, encoder_embed_dim=48, encoder_ffn_embed_dim=96, encoder_attention_heads=4,
                 conv_feature_layers="[(32,10,5)] + [(32,3,2)] * 4 + [(32,2,2)] * 2",
                 conv_pos=16, conv_pos_groups=4, final_dim=16),
    # hubert_base_ls960: 12 layers of 768, 7 conv layers of 512, 256-d final projection.
    "base": dict(final_dim=256),
}
#: Number of k-means units in the label dictionary per size (HuBERT base iteration 2 used 500).
UNITS = {"tiny": 8, "base": 500}


def dictionary_symbols(units: int) -> List[str]:
    """fairseq's special symbols followed by the unit ids, as stored in converted checkpoints."""
    return ["<s>", "<pad>", "</s>", "<unk>"] + [str(i) for i in range(units)]


def random_hubert_state(size: str = "tiny", seed: int = 0) -> dict:
    """The converted-format dict of a HuBERT of ``size`` with weights drawn from ``seed``."""
    import torch

    from .. import superb  # noqa: F401  (patches the stack first: s3prl's HuBERT classes import torchaudio)
    from s3prl.upstream.hubert.hubert_model import HubertConfig, HubertModel, HubertPretrainingConfig

    if size not in SIZES:
        raise ValueError(f"unknown HuBERT size {size!r}; choose one of {', '.join(SIZES)}")
    task_cfg = HubertPretrainingConfig(label_rate=50.0, sample_rate=16000, normalize=False)
    model_cfg = HubertConfig(label_rate=50.0, **SIZES[size])
    symbols = [dictionary_symbols(UNITS[size])]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = HubertModel(model_cfg, task_cfg, symbols)
    return {
        "task_cfg": asdict(task_cfg),
        "model_cfg": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(model_cfg).items()},
        "model_weight": model.state_dict(),
        "dictionaries_symbols": symbols,
    }


def write_random_hubert(path: Union[str, Path], size: str = "tiny", seed: int = 0) -> Path:
    """Write a random HuBERT of ``size`` ("tiny" or "base") to ``path`` atomically; return the path."""
    import torch

    path = Path(path)
    state = random_hubert_state(size, seed)
    with atomic_open(path, "wb") as handle:
        torch.save(state, handle)
    return path

