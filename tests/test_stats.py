"""Speaker-level statistics against known answers: hand-computed bootstrap distributions, test floors, Holm."""
import numpy as np
import pytest
from scipy.stats import permutation_test

from s3prl_crosscorpus.core.labels import LABELS
from s3prl_crosscorpus.core.metrics import uar as reference_uar
from s3prl_crosscorpus.results import stats
from s3prl_crosscorpus.results.stats import StatsConfig, speaker_counts

C = len(LABELS)


def counts_of(speakers, labels, *predictions):
    """SpeakerCounts with one seed per predictions list (seeds 0, 1, ...)."""
    return speaker_counts(speakers, labels, dict(enumerate(predictions)), C)


def balanced(n_speakers, per_class=3):
    """Every speaker says ``per_class`` utterances of each class: (speakers, labels)."""
    speakers = [f"s{s:02d}" for s in range(n_speakers) for _ in range(C * per_class)]
    labels = [c for _ in range(n_speakers) for c in range(C) for _ in range(per_class)]
    return speakers, labels


def wrong(labels):
    return [(y + 1) % C for y in labels]


def random_case(rng, n=400, n_speakers=8, accuracy=0.6):
    speakers = [f"s{k}" for k in rng.integers(0, n_speakers, n)]
    labels = rng.integers(0, C, n)
    guess = lambda acc: np.where(rng.random(n) < acc, labels, rng.integers(0, C, n))
    return speakers, labels, guess(accuracy), guess(accuracy + 0.05)


def test_uar_of_counts_equals_the_metric_of_the_predictions_even_with_a_class_absent():
    rng = np.random.default_rng(0)
    speakers, labels, a, _ = random_case(rng)
    labels = np.where(labels == 2, 0, labels)  # no "ang" reference at all
    counts = counts_of(speakers, labels, a)
    pooled = stats.uar(counts.support.sum(axis=0), counts.correct[0].sum(axis=0))
    assert pooled == pytest.approx(reference_uar([LABELS[y] for y in labels], [LABELS[y] for y in a]))


def test_identical_predictions_give_difference_zero_and_p_one():
    rng = np.random.default_rng(1)
    for n_speakers, resamples in ((6, 1000), (20, 500)):  # exact enumeration, then random swaps
        speakers, labels, a, _ = random_case(rng, n_speakers=n_speakers)
        counts = counts_of(speakers, labels, a)
        found = stats.paired_difference(counts, counts, StatsConfig(resamples=resamples), ["same"])
        assert found["diff"] == 0 and found["ci"] == [0, 0] and found["p"] == 1.0
        assert found["exact"] is (2 ** n_speakers <= resamples)


def test_b_right_wherever_a_is_wrong_on_every_speaker_reaches_the_floor_of_the_random_test():
    speakers, labels = balanced(20)
    a, b = counts_of(speakers, labels, wrong(labels)), counts_of(speakers, labels, labels)
    found = stats.paired_difference(a, b, StatsConfig(resamples=999), ["floor"])
    assert found["diff"] == pytest.approx(100.0)
    assert not found["exact"] and found["p"] == 1 / 1000  # 1 / (R + 1): no random swap is as extreme
    assert found["ci"] == pytest.approx([100.0, 100.0])


def test_the_exact_test_floor_with_few_speakers_is_two_of_all_swaps():
    speakers, labels = balanced(6)
    a, b = counts_of(speakers, labels, wrong(labels)), counts_of(speakers, labels, labels)
    found = stats.paired_difference(a, b, StatsConfig(resamples=1000), ["floor"])
    # Only "swap nobody" and "swap everybody" are as extreme as the observed difference.
    assert found["exact"] and found["permutations"] == 64 and found["p"] == 2 / 64


def test_exact_test_equals_scipys_paired_permutation_test():
    speakers, labels, a, b = random_case(np.random.default_rng(2))
    ca, cb = counts_of(speakers, labels, a), counts_of(speakers, labels, b)
    shares = stats.speaker_shares(ca.support, ca.mean_correct, cb.mean_correct)
    # Swapping x_s and y_s = (share_s, -share_s) flips the sign of speaker s's share, as swapping its predictions does.
    scipy_p = permutation_test((shares, -shares), lambda x, y, axis: np.sum(x, axis=axis), vectorized=True,
                               permutation_type="samples", n_resamples=10_000).pvalue
    found = stats.paired_difference(ca, cb, StatsConfig(), ["scipy"])
    assert found["exact"] and found["p"] == pytest.approx(scipy_p)
    assert found["diff"] / 100 == pytest.approx(stats.uar(ca.support.sum(0), cb.correct[0].sum(0))
                                                - stats.uar(ca.support.sum(0), ca.correct[0].sum(0)))


def test_a_speaker_with_many_utterances_weighs_as_one_speaker_in_the_bootstrap():
    # X says one utterance per class, all right; Y says 100 per class, all wrong. Drawing two speakers with
    # replacement gives XX (UAR 1, prob 1/4), XY or YX (1/101, prob 1/2), YY (0, prob 1/4), by hand.
    speakers = ["X"] * C + ["Y"] * (100 * C)
    labels = list(range(C)) + [c for c in range(C) for _ in range(100)]
    predictions = labels[:C] + wrong(labels[C:])
    counts = counts_of(speakers, labels, predictions)
    weights = stats.speaker_resamples(np.random.default_rng(3), 2, 20_000)
    assert set(weights.sum(axis=1)) == {2}  # every resample draws as many speakers as there are
    values = stats.bootstrap_uar(counts.support, counts.mean_correct, weights)
    for value, probability in ((1.0, 0.25), (1 / 101, 0.5), (0.0, 0.25)):
        assert np.mean(np.isclose(values, value)) == pytest.approx(probability, abs=0.02)
    found = stats.cell_interval(counts, StatsConfig(), ["XY"])
    assert found["uar"] == pytest.approx(100 / 101) and found["ci"] == pytest.approx([0.0, 100.0])
    assert found["n_speakers"] == 2 and found["n_utterances"] == 404


def test_fixed_seed_gives_identical_numbers_and_another_seed_other_intervals():
    speakers, labels, a, b = random_case(np.random.default_rng(4), n_speakers=24)
    ca, cb = counts_of(speakers, labels, a), counts_of(speakers, labels, b)
    run = lambda seed: (stats.cell_interval(ca, StatsConfig(seed=seed), ["k"]),
                        stats.paired_difference(ca, cb, StatsConfig(seed=seed), ["k"]))
    assert run(0) == run(0)
    assert run(0)[0]["ci"] != run(1)[0]["ci"] and run(0)[1]["p"] != run(1)[1]["p"]
    assert run(0)[0]["uar"] == run(1)[0]["uar"]  # the estimate itself does not depend on the seed


def test_several_seeds_average_pooled_uar_and_pair_per_seed():
    rng = np.random.default_rng(5)
    speakers, labels, a0, b0 = random_case(rng)
    a1, b1 = (np.where(rng.random(len(labels)) < acc, labels, rng.integers(0, C, len(labels))) for acc in (0.5, 0.7))
    a, b = counts_of(speakers, labels, a0, a1), counts_of(speakers, labels, b0, b1)
    pooled = [100 * reference_uar([LABELS[y] for y in labels], [LABELS[y] for y in p]) for p in (a0, a1, b0, b1)]
    found = stats.cell_interval(a, StatsConfig(resamples=200), ["a"])
    assert found["uar"] == pytest.approx(np.mean(pooled[:2]))
    assert found["per_seed"] == pytest.approx({"0": pooled[0], "1": pooled[1]})
    assert found["seed_std"] == pytest.approx(np.std(pooled[:2], ddof=1))
    diff = stats.paired_difference(a, b, StatsConfig(resamples=200), ["ab"])["diff"]
    assert diff == pytest.approx(np.mean([pooled[2] - pooled[0], pooled[3] - pooled[1]]))


def test_holm_adjusted_p_values_by_hand():
    # Sorted 0.01, 0.03, 0.04, 0.5 -> 4 x 0.01, 3 x 0.03, max(2 x 0.04, 0.09), max(0.5, 0.09), in input order.
    assert stats.holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert stats.holm([0.6, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1


def test_wilcoxon_over_five_folds_cannot_go_below_0_0625():
    assert stats.wilcoxon_folds([60, 61, 62, 63, 64], [70, 71, 72, 73, 74])["p"] == pytest.approx(0.0625)
    assert stats.wilcoxon_folds([60] * 5, [60] * 5)["p"] == 1.0


def test_bad_settings_are_refused():
    with pytest.raises(stats.StatsError, match="resamples"):
        StatsConfig(resamples=0)
    with pytest.raises(stats.StatsError, match="between 0 and 1"):
        StatsConfig(confidence=95)


def test_speaker_shares_sum_to_the_uar_difference_with_a_rare_and_an_absent_class():
    """Class 0 said once in the whole set, class 3 never: UAR is over classes 0-2, and the shares still sum
    to UAR(b) - UAR(a) computed by hand with core.metrics on the pooled predictions."""
    speakers = ["s1", "s1", "s1", "s2", "s2", "s3", "s3"]
    labels = [0, 1, 2, 1, 2, 1, 2]
    a, b = [1, 1, 2, 1, 0, 2, 2], [0, 1, 2, 2, 2, 1, 2]
    ca, cb = counts_of(speakers, labels, a), counts_of(speakers, labels, b)
    shares = stats.speaker_shares(ca.support, ca.mean_correct, cb.mean_correct)
    by_hand = (reference_uar([LABELS[k] for k in labels], [LABELS[k] for k in b])
               - reference_uar([LABELS[k] for k in labels], [LABELS[k] for k in a]))
    assert np.isfinite(shares).all() and shares.sum() == pytest.approx(by_hand)


def test_wilcoxon_side_figure_is_scipys_signed_rank_test_over_the_fold_differences():
    from scipy.stats import wilcoxon

    a, b = [61.0, 58.5, 70.0, 64.25, 59.0], [63.5, 58.0, 75.0, 66.0, 62.5]
    found = stats.wilcoxon_folds(a, b)
    assert found == {"p": pytest.approx(wilcoxon(np.subtract(b, a)).pvalue), "n_folds": 5}


def test_percentile_interval_is_the_central_share_of_the_values():
    values = np.arange(1001, dtype=float)  # the q-quantile of 0..1000 is 1000 q
    assert stats.percentile_interval(values, 0.95) == pytest.approx((25.0, 975.0))
    assert stats.percentile_interval(values, 0.5) == pytest.approx((250.0, 750.0))


def test_uar_counts_a_class_said_once_and_skips_an_absent_one():
    support = np.array([1, 4, 2, 0])  # class 0 once, class 3 never
    correct = np.array([1, 1, 2, 0])
    assert stats.uar(support, correct) == pytest.approx((1 + 1 / 4 + 1) / 3)


def test_cells_on_other_speakers_are_not_paired():
    speakers, labels = balanced(4)
    a = counts_of(speakers, labels, labels)
    b = counts_of([s + "x" for s in speakers], labels, labels)  # same class counts, other speakers
    with pytest.raises(stats.StatsError, match="not tested on the same speakers"):
        stats.paired_difference(a, b, StatsConfig(resamples=100), ["other"])


def test_stats_config_bounds():
    assert StatsConfig(resamples=1).resamples == 1  # the smallest valid setting
    for bad in ({"resamples": 0}, {"confidence": 0.0}, {"confidence": 1.0}, {"alpha": 0.0}, {"alpha": 1.0}):
        with pytest.raises(stats.StatsError):
            StatsConfig(**bad)
