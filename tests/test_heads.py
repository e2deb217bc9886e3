"""The three heads: padding never changes a prediction nor receives gradient; config errors are clear."""
import pytest
import torch

from s3prl_crosscorpus.core.labels import LABELS
from s3prl_crosscorpus.core.names import HEADS
from s3prl_crosscorpus.superb.heads import ClassTokenTransformer, EmotionModel, build_model, masked_mean, valid_mask

UPSTREAM_DIM = 20
SMALL = {"linear": {}, "cnn_selfatt": {"hidden_dim": 12, "kernel_size": 5, "dropout": 0.3},
         "transformer": {"layers": 2, "heads": 6, "ffn_dim": 48, "dropout": 0.1}}


def small_model(head: str, seed: int = 0) -> EmotionModel:
    torch.manual_seed(seed)
    return build_model(UPSTREAM_DIM, {"head": head, "projector_dim": 24, head: SMALL[head]})


@pytest.mark.parametrize("head", sorted(HEADS))
def test_same_utterance_alone_and_padded_in_a_batch_gives_the_same_output(head):
    model = small_model(head).eval()
    generator = torch.Generator().manual_seed(1)
    lengths = [7, 31, 1, 18]
    utterances = [torch.randn(n, UPSTREAM_DIM, generator=generator) for n in lengths]
    batch = torch.full((len(lengths), 40, UPSTREAM_DIM), 1e3)  # loud padding: it must not leak
    for k, utt in enumerate(utterances):
        batch[k, :len(utt)] = utt
    with torch.no_grad():
        batched = model(batch, torch.tensor(lengths))
        alone = torch.cat([model(u.unsqueeze(0), torch.tensor([len(u)])) for u in utterances])
    assert batched.shape == (len(lengths), len(LABELS))
    torch.testing.assert_close(batched, alone, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("head", sorted(HEADS))
def test_padding_gets_no_gradient_in_training_mode(head):
    model = small_model(head).train()
    features = torch.randn(3, 25, UPSTREAM_DIM, requires_grad=True)
    lengths = torch.tensor([25, 9, 16])
    model(features, lengths).logsumexp(dim=-1).sum().backward()
    padding = ~valid_mask(lengths, 25)
    assert features.grad[padding].abs().max() == 0
    assert features.grad[~padding].abs().max() > 0


def toy_task(n: int, seed: int):
    """Class = sign pattern of the mean of two feature dimensions, buried in noise; variable lengths."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % len(LABELS)
    features = 0.3 * torch.randn(n, 12, UPSTREAM_DIM, generator=generator)
    features[:, :, 0] += torch.where(labels % 2 == 1, 1.0, -1.0).unsqueeze(1)
    features[:, :, 1] += torch.where(labels >= 2, 1.0, -1.0).unsqueeze(1)
    lengths = torch.randint(4, 13, (n,), generator=generator)
    return features, lengths, labels


def uninformative_labels(labels: torch.Tensor) -> torch.Tensor:
    """Shuffled labels that tell nothing about the true class: each class's utterances get every label
    equally often (a uniform contingency table), in a seeded random order."""
    generator = torch.Generator().manual_seed(3)
    shuffled = labels.clone()
    for cls in range(len(LABELS)):
        rows = torch.nonzero(labels == cls).flatten()
        spread = torch.arange(len(rows)) % len(LABELS)
        shuffled[rows] = spread[torch.randperm(len(rows), generator=generator)]
    return shuffled


def held_out_accuracy(head: str, shuffle: bool) -> float:
    """Train on 32 utterances (labels shuffled or not), score on 256 others never seen in training."""
    model = small_model(head).train()
    features, lengths, labels = toy_task(32, seed=2)
    if shuffle:
        labels = uninformative_labels(labels)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(features, lengths), labels).backward()
        optimizer.step()
    model.eval()
    test_features, test_lengths, test_labels = toy_task(256, seed=5)
    with torch.no_grad():
        return (model(test_features, test_lengths).argmax(dim=-1) == test_labels).float().mean().item()


@pytest.mark.parametrize("head", sorted(HEADS))
def test_every_head_generalises_on_a_toy_task_and_not_from_shuffled_labels(head):
    """Generalisation, not memorisation: held-out accuracy is high with the true labels and near chance
    (0.25) with shuffled ones, which a head can still fit on its training utterances."""
    assert held_out_accuracy(head, shuffle=False) >= 0.9
    assert held_out_accuracy(head, shuffle=True) <= 0.5


def test_transformer_width_must_divide_by_the_heads():
    with pytest.raises(ValueError, match="divisible by the number of attention heads 6"):
        build_model(UPSTREAM_DIM, {"head": "transformer", "projector_dim": 50})
    assert isinstance(build_model(UPSTREAM_DIM, {"head": "transformer", "projector_dim": 48}).head,
                      ClassTokenTransformer)


def test_build_model_reads_the_yaml_modelrc_section():
    model = build_model(UPSTREAM_DIM, {"head": "cnn_selfatt", "projector_dim": 16,
                                       "cnn_selfatt": {"hidden_dim": 8, "kernel_size": 3, "dropout": 0.0}})
    assert model.projector.in_features == UPSTREAM_DIM and model.projector.out_features == 16
    assert model.head.convs[0].out_channels == 8 and model.head_name == "cnn_selfatt"
    with pytest.raises(ValueError, match="unknown head 'lstm'"):
        build_model(UPSTREAM_DIM, {"head": "lstm"})
    with pytest.raises(ValueError, match="modelrc.linear"):
        build_model(UPSTREAM_DIM, {"head": "linear", "linear": {"hidden_dim": 3}})


def test_masks_and_pooling():
    mask = valid_mask(torch.tensor([2, 3]), 4)
    assert mask.tolist() == [[True, True, False, False], [True, True, True, False]]
    features = torch.tensor([[[1.0], [3.0], [100.0], [100.0]], [[1.0], [2.0], [3.0], [100.0]]])
    assert masked_mean(features, mask).flatten().tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match="1..4"):
        valid_mask(torch.tensor([5]), 4)
    with pytest.raises(ValueError, match="1..4"):
        valid_mask(torch.tensor([0]), 4)
