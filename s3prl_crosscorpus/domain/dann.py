"""Domain-adversarial training (DANN, Ganin et al. 2016) for the DNN heads.

A corpus classifier reads the head's pooled utterance embedding through a gradient-reversal
layer: it learns to tell the corpora apart while the reversed gradient pushes the embedding
(and everything below it: head, projector, layer weights) to hide the corpus. The weight of
the reversed gradient follows Ganin's schedule ``lambda(p) = weight * (2 / (1 + exp(-gamma p)) - 1)``
over training progress ``p`` in [0, 1] (0 at the start, so the emotion task shapes the embedding
first), or stays constant. Configured by ``downstream_expert.modelrc.dann``; off by default.
"""
import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SCHEDULES = ("ganin", "constant")


class DannConfigError(ValueError):
    """A ``modelrc.dann`` section that cannot work."""


@dataclass(frozen=True)
class DannSettings:
    """``modelrc.dann``: ``enabled``, ``weight`` (max lambda), ``schedule``, ``gamma``, ``hidden_dim`` (0: linear)."""

    enabled: bool = False
    weight: float = 1.0
    schedule: str = "ganin"
    gamma: float = 10.0
    hidden_dim: int = 0

    @classmethod
    def from_config(cls, section: Optional[Mapping[str, Any]]) -> "DannSettings":
        """Read and check ``modelrc.dann`` (None or {} = off)."""
        section = dict(section or {})
        unknown = sorted(set(section) - set(cls.__dataclass_fields__))
        if unknown:
            raise DannConfigError(f"modelrc.dann: unknown key(s) {unknown}; known: {', '.join(cls.__dataclass_fields__)}")
        try:
            settings = cls(enabled=bool(section.get("enabled", False)), weight=float(section.get("weight", 1.0)),
                           schedule=str(section.get("schedule", "ganin")), gamma=float(section.get("gamma", 10.0)),
                           hidden_dim=int(section.get("hidden_dim", 0)))
        except (TypeError, ValueError) as err:
            raise DannConfigError(f"modelrc.dann: {err}") from None
        if settings.schedule not in SCHEDULES:
            raise DannConfigError(f"modelrc.dann.schedule={settings.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if settings.weight < 0 or settings.gamma <= 0 or settings.hidden_dim < 0:
            raise DannConfigError("modelrc.dann: weight >= 0, gamma > 0 and hidden_dim >= 0 are required")
        return settings

    def record(self) -> dict:
        return asdict(self)


def dann_lambda(progress: float, weight: float, schedule: str = "ganin", gamma: float = 10.0) -> float:
    """Gradient-reversal weight at training progress ``progress`` (clipped to [0, 1])."""
    if schedule == "constant":
        return float(weight)
    p = min(max(float(progress), 0.0), 1.0)
    return float(weight * (2.0 / (1.0 + math.exp(-gamma * p)) - 1.0))


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, lam: float) -> Tensor:
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return -ctx.lam * grad, None


def reverse_gradient(x: Tensor, lam: float) -> Tensor:
    """Identity forward; the gradient is multiplied by ``-lam`` backward."""
    return _Reverse.apply(x, float(lam))


class CorpusClassifier(nn.Module):
    """Corpus logits of pooled embeddings seen through gradient reversal (linear, or one hidden ReLU layer)."""

    def __init__(self, embed_dim: int, num_corpora: int, hidden_dim: int = 0):
        super().__init__()
        self.net = (nn.Linear(embed_dim, num_corpora) if not hidden_dim else
                    nn.Sequential(nn.Linear(embed_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, num_corpora)))

    def forward(self, embedding: Tensor, lam: float) -> Tensor:
        return self.net(reverse_gradient(embedding, lam))


def corpus_loss(classifier: CorpusClassifier, embedding: Tensor, corpus_index: Sequence[int],
                lam: float) -> "tuple[Tensor, Tensor]":
    """(cross-entropy of the corpus classifier, its predictions) for one batch."""
    target = torch.as_tensor(list(corpus_index), dtype=torch.long, device=embedding.device)
    logits = classifier(embedding, lam)
    return F.cross_entropy(logits, target), logits.argmax(dim=-1)
