"""Utterance-level emotion heads over padded frame features, and the projector + head model.

Every head maps ``features: FloatTensor[B, T, D]`` and ``lengths: LongTensor[B]`` to logits
``[B, num_classes]``, in two steps: ``embed`` (the pooled utterance embedding, ``[B, embed_dim]``,
which DANN's corpus classifier reads) and ``classify``. Padding never reaches a prediction: pooling and attention use only the
first ``lengths[b]`` frames, and padded frames are zeroed before every convolution so a
padded utterance sees the same zero border as when it is alone.
"""
from typing import Any, Dict, Mapping, Optional, Type

import torch
from torch import Tensor, nn

from ..core.labels import LABELS
from ..core.names import HEADS

NUM_CLASSES = len(LABELS)


def valid_mask(lengths: Tensor, max_len: int) -> Tensor:
    """BoolTensor[B, max_len], True on the first ``lengths[b]`` frames of each row."""
    if lengths.dim() != 1:
        raise ValueError(f"lengths must be 1-d (one length per utterance), got shape {tuple(lengths.shape)}")
    if len(lengths) and (int(lengths.min()) < 1 or int(lengths.max()) > max_len):
        raise ValueError(f"every length must be in 1..{max_len} (the padded length), got {lengths.tolist()}")
    return torch.arange(max_len, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


def masked_mean(features: Tensor, mask: Tensor) -> Tensor:
    """Mean over the valid frames: [B, T, D], [B, T] -> [B, D]."""
    weights = mask.to(features.dtype).unsqueeze(-1)
    return (features * weights).sum(dim=1) / weights.sum(dim=1)


class MeanPoolLinear(nn.Module):
    """Mean pooling over valid frames, then one linear layer."""

    def __init__(self, input_dim: int, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.linear = nn.Linear(input_dim, num_classes)
        self.embed_dim = input_dim

    def embed(self, features: Tensor, lengths: Tensor) -> Tensor:
        return masked_mean(features, valid_mask(lengths, features.size(1)))

    def classify(self, embedding: Tensor) -> Tensor:
        return self.linear(embedding)

    def forward(self, features: Tensor, lengths: Tensor) -> Tensor:
        return self.classify(self.embed(features, lengths))


class SelfAttentionPooling(nn.Module):
    """Softmax-weighted sum of frames with one learned score per frame; padded frames get weight 0."""

    def __init__(self, input_dim: int):
        super().__init__()
        self.score = nn.Linear(input_dim, 1)

    def forward(self, features: Tensor, mask: Tensor) -> Tensor:
        scores = self.score(features).squeeze(-1).masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        return torch.bmm(weights.unsqueeze(1), features).squeeze(1)


class CNNSelfAttention(nn.Module):
    """Two blocks (dropout, conv, ReLU), an output block (dropout, conv), self-attention pooling over
    valid frames, then FC, ReLU, FC (the paper's section 4.2.2)."""

    def __init__(self, input_dim: int, num_classes: int = NUM_CLASSES, hidden_dim: int = 80,
                 kernel_size: int = 5, dropout: float = 0.4):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"cnn_selfatt kernel_size must be odd to keep the frame count, got {kernel_size}")
        dims = [input_dim, hidden_dim, hidden_dim, hidden_dim]
        self.dropouts = nn.ModuleList(nn.Dropout(dropout) for _ in range(3))
        self.convs = nn.ModuleList(nn.Conv1d(dims[i], dims[i + 1], kernel_size, padding=kernel_size // 2)
                                   for i in range(3))
        self.pooling = SelfAttentionPooling(hidden_dim)
        self.output = nn.Sequential(nn.Linear(hidden_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, num_classes))
        self.embed_dim = hidden_dim

    def forward(self, features: Tensor, lengths: Tensor) -> Tensor:
        return self.classify(self.embed(features, lengths))

    def classify(self, embedding: Tensor) -> Tensor:
        return self.output(embedding)

    def embed(self, features: Tensor, lengths: Tensor) -> Tensor:
        mask = valid_mask(lengths, features.size(1))
        keep = mask.unsqueeze(1).to(features.dtype)  # [B, 1, T]
        x = features.transpose(1, 2)
        for k, (dropout, conv) in enumerate(zip(self.dropouts, self.convs)):
            x = conv(dropout(x) * keep)  # zero padding before each conv: same border as an unpadded input
            if k < len(self.convs) - 1:
                x = torch.relu(x)
        return self.pooling(x.transpose(1, 2), mask)


class ClassTokenTransformer(nn.Module):
    """ViT-style: a learned class token prepended to the frames, a Transformer encoder with padding
    masked, and a linear classifier on the class token's output. No positional encoding is added:
    the upstream features already carry position (HuBERT's convolutional positional embedding)."""

    def __init__(self, input_dim: int, num_classes: int = NUM_CLASSES, layers: int = 2, heads: int = 6,
                 ffn_dim: Optional[int] = None, dropout: float = 0.1):
        super().__init__()
        if input_dim % heads:
            raise ValueError(f"transformer head: model width {input_dim} (the projector_dim) must be divisible "
                             f"by the number of attention heads {heads}; e.g. use projector_dim 768 or 96")
        self.class_token = nn.Parameter(torch.zeros(1, 1, input_dim))
        nn.init.trunc_normal_(self.class_token, std=0.02)
        layer = nn.TransformerEncoderLayer(input_dim, heads, ffn_dim or 4 * input_dim, dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(input_dim)
        self.classifier = nn.Linear(input_dim, num_classes)
        self.embed_dim = input_dim

    def forward(self, features: Tensor, lengths: Tensor) -> Tensor:
        return self.classify(self.embed(features, lengths))

    def classify(self, embedding: Tensor) -> Tensor:
        return self.classifier(embedding)

    def embed(self, features: Tensor, lengths: Tensor) -> Tensor:
        mask = valid_mask(lengths, features.size(1))
        tokens = torch.cat([self.class_token.expand(features.size(0), -1, -1), features], dim=1)
        padding = torch.cat([mask.new_zeros(mask.size(0), 1), ~mask], dim=1)
        encoded = self.encoder(tokens, src_key_padding_mask=padding)
        return self.norm(encoded[:, 0])


#: ``modelrc.head`` name -> head class, in the order of :data:`core.names.HEADS`.
HEAD_CLASSES: Dict[str, Type[nn.Module]] = dict(zip(HEADS, (MeanPoolLinear, CNNSelfAttention, ClassTokenTransformer)))


class EmotionModel(nn.Module):
    """Per-frame projector Linear(upstream_dim, projector_dim) followed by an utterance-level head."""

    def __init__(self, upstream_dim: int, projector_dim: int, head: nn.Module, head_name: str):
        super().__init__()
        self.projector = nn.Linear(upstream_dim, projector_dim)
        self.head = head
        self.head_name = head_name

    def forward(self, features: Tensor, lengths: Tensor) -> Tensor:
        return self.head(self.projector(features), lengths)

    def embed(self, features: Tensor, lengths: Tensor) -> Tensor:
        """The head's pooled utterance embedding ``[B, head.embed_dim]`` (logits: ``head.classify`` of it)."""
        return self.head.embed(self.projector(features), lengths)


def build_model(upstream_dim: int, config: Mapping[str, Any]) -> EmotionModel:
    """The model of the YAML ``downstream_expert.modelrc`` section: ``projector_dim``, ``head``
    (linear | cnn_selfatt | transformer) and an optional per-head section of keyword arguments."""
    head_name = config.get("head", "linear")
    if head_name not in HEAD_CLASSES:
        raise ValueError(f"unknown head {head_name!r}; choose one of {', '.join(HEAD_CLASSES)}")
    projector_dim = int(config.get("projector_dim", 768))
    options = dict(config.get(head_name) or {})
    try:
        head = HEAD_CLASSES[head_name](projector_dim, NUM_CLASSES, **options)
    except TypeError as err:
        raise ValueError(f"modelrc.{head_name}: bad option for the {head_name} head ({err})") from err
    return EmotionModel(upstream_dim, projector_dim, head, head_name)
