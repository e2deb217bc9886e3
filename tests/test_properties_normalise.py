"""Properties of per-corpus / per-speaker normalisation (GitHub issue 25), each value computed by hand with numpy.

SVM: every row of every set (test speakers included) is z-normalised with the mean and standard deviation of
its own group's utterances, never with statistics pooled or averaged over groups. DNN: the frame statistics of
each group are those of that group's frames alone, whichever utterances the run asks for.
"""
from typing import Dict, List, Sequence, Tuple

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baseline_svm.features import Extraction
from baseline_svm.model import group_notes, normalise_batch
from baseline_svm.run import RunConfig, job_rows, norm_statistics, plan
from helpers.domain_data import write_shifted_cache
from helpers.properties import QUICK
from s3prl_crosscorpus.cache.format import FeatureCache
from s3prl_crosscorpus.core.labels import CORPORA
from s3prl_crosscorpus.core.normalise import apply_statistics, group_statistics
from s3prl_crosscorpus.domain.frames import frame_statistics

FAST = settings(max_examples=40, **QUICK)


def hand_zscore(X: np.ndarray, groups: Sequence[str]) -> np.ndarray:
    """Each row minus its group's mean over its group's rows, divided by their std (0 std: divided by 1)."""
    X, groups = np.asarray(X, dtype=np.float64), np.asarray(groups)
    out = np.empty_like(X)
    for group in set(groups.tolist()):
        rows = X[groups == group]
        std = rows.std(axis=0)
        std[std < 1e-12] = 1.0
        out[groups == group] = (rows - rows.mean(axis=0)) / std
    return out


def grouped_rows(rng: np.random.Generator, groups: Sequence[str], dims: int) -> np.ndarray:
    """Rows whose offset and scale depend strongly on the group, so pooled statistics would be far off."""
    names = sorted(set(groups))
    offsets = {g: rng.normal(0, 20, dims) for g in names}
    scales = {g: rng.lognormal(0, 1.5, dims) for g in names}
    return np.stack([offsets[g] + scales[g] * rng.standard_normal(dims) for g in groups])


@FAST
@given(groups=st.lists(st.sampled_from("abcde"), min_size=2, max_size=40), dims=st.integers(1, 5),
       seed=st.integers(0, 2 ** 32 - 1))
def test_group_statistics_z_score_every_group_with_its_own_rows(groups, dims, seed):
    """For any grouping of rows: each row minus its group's mean, over its group's std (core/normalise.py)."""
    X = grouped_rows(np.random.default_rng(seed), groups, dims)
    found = apply_statistics(X, groups, group_statistics(X, groups))
    np.testing.assert_allclose(found, hand_zscore(X, groups), rtol=1e-9, atol=1e-9)
    # Row order does not matter: the same statistics applied to the rows in another order give the same rows.
    order = np.random.default_rng(seed).permutation(len(groups))
    shuffled = apply_statistics(X[order], [groups[k] for k in order], group_statistics(X, groups))
    np.testing.assert_allclose(shuffled, found[order], rtol=1e-12, atol=1e-12)


@FAST
@given(groups=st.lists(st.sampled_from("xyz"), min_size=2, max_size=30), seed=st.integers(0, 2 ** 32 - 1))
def test_new_files_are_normalised_per_given_group(groups, seed):
    """``predict --speaker-of``: the batch's own statistics per group; a group of one file is not predicted."""
    X = grouped_rows(np.random.default_rng(seed), groups, 3)
    paths = [f"f{k}.wav" for k in range(len(groups))]
    kept, notes = group_notes(paths, groups, list(range(len(groups))), "speaker")
    single = {k for k, g in enumerate(groups) if groups.count(g) == 1}
    assert kept == [k for k in range(len(groups)) if k not in single]
    assert all("not predicted" in notes[k] for k in single)
    if kept:
        rows = [groups[k] for k in kept]
        np.testing.assert_allclose(normalise_batch(X[kept], rows), hand_zscore(X[kept], rows), rtol=1e-9, atol=1e-9)


# --------------------------------------------------------------------------- the SVM runner's matrices

def group_key(utt, norm: str) -> Tuple[str, ...]:
    return (utt.corpus,) if norm == "corpus" else (utt.corpus, utt.speaker)


_JOBS: dict = {}


def planned_job(utterances, condition: str, corpus: str, fold: int):
    """The runner's job for one experiment (planned once per session: the split does not depend on features)."""
    key = (len(utterances), condition, corpus, fold)
    if key not in _JOBS:
        config = RunConfig(data_dir=".", out=".", feature_set="GeMAPSv01b", condition=condition, test_corpus=corpus,
                           folds=(fold,))
        (_JOBS[key],) = plan(utterances, config)
    return _JOBS[key]


def speaker_features(utterances, rng: np.random.Generator, dims: int, drop: float) -> Extraction:
    """Feature vectors with a strong offset and scale per (corpus, speaker); a fraction ``drop`` of files has none
    (failed extraction), so the statistics must come from the files that have features."""
    keys = [(u.corpus, u.speaker) for u in utterances]
    X = grouped_rows(rng, [f"{c}/{s}" for c, s in keys], dims).astype(np.float32)
    keep = rng.random(len(utterances)) >= drop
    return Extraction("GeMAPSv01b", vectors={u.path: X[k] for k, u in enumerate(utterances) if keep[k]})


@settings(max_examples=30, **QUICK)
@given(norm=st.sampled_from(["corpus", "speaker"]), condition=st.sampled_from(["matched", "extended", "loco"]),
       corpus=st.sampled_from(CORPORA), fold=st.integers(1, 5), seed=st.integers(0, 2 ** 32 - 1),
       drop=st.sampled_from([0.0, 0.05]))
def test_svm_rows_of_every_set_are_normalised_with_their_own_groups_statistics(utterances, norm, condition, corpus,
                                                                                fold, seed, drop):
    """Test speakers included: each row uses the mean and std of its own corpus/speaker (all its files with
    features, test audio included), not statistics pooled or averaged over groups."""
    rng = np.random.default_rng(seed)
    features = speaker_features(utterances, rng, dims=3, drop=drop)
    job = planned_job(utterances, condition, corpus, fold)
    config = RunConfig(data_dir=".", out=".", feature_set="GeMAPSv01b", condition=condition, test_corpus=corpus,
                       folds=(fold,), norm=norm)
    by_id = {u.id: u for u in utterances}
    rows = job_rows(job, config, by_id, features, norm_statistics(utterances, features, norm))
    members: Dict[Tuple[str, ...], List[np.ndarray]] = {}
    for utt in utterances:
        if utt.path in features.vectors:
            members.setdefault(group_key(utt, norm), []).append(features.vectors[utt.path].astype(np.float64))
    for name in ("train", "dev", "test"):
        assert rows.ids[name] and all(by_id[i].path in features.vectors for i in rows.ids[name])
        expected = []
        for i in rows.ids[name]:
            own = np.stack(members[group_key(by_id[i], norm)])
            std = own.std(axis=0)
            std[std < 1e-12] = 1.0
            expected.append((features.vectors[by_id[i].path] - own.mean(axis=0)) / std)
        np.testing.assert_allclose(rows.X[name], np.stack(expected), rtol=1e-6, atol=1e-6, err_msg=name)


# --------------------------------------------------------------------------- the DNN's frame statistics

@pytest.fixture(scope="module")
def frames_cache(utterances, tmp_path_factory):
    return FeatureCache(write_shifted_cache(tmp_path_factory.mktemp("property_frames"), utterances))


@settings(max_examples=30, **QUICK)
@given(norm=st.sampled_from(["corpus", "speaker"]), picks=st.lists(st.integers(0, 10 ** 6), min_size=1, max_size=12))
def test_frame_statistics_of_each_group_are_its_own_frames(utterances, frames_cache, norm, picks):
    """For any utterances a run asks for (train and test speakers of several corpora), each group's statistics
    are numpy's over that group's frames in the manifest, per layer and dimension; nothing pooled across groups."""
    wanted = [utterances[k % len(utterances)] for k in picks]
    stats = frame_statistics(frames_cache, utterances, wanted, norm, progress=False)
    groups = {group_key(u, norm) for u in wanted}
    assert set(stats) == {"/".join(g) for g in groups}
    hand = {}
    for group in groups:
        frames = np.concatenate([np.asarray(frames_cache.features(u.id), dtype=np.float64)
                                 for u in utterances if group_key(u, norm) == group])  # [T, L, D]
        hand[group] = frames.mean(axis=0), frames.std(axis=0)
        np.testing.assert_allclose(stats["/".join(group)][0], hand[group][0], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(stats["/".join(group)][1], hand[group][1], rtol=1e-4, atol=1e-5)
    if len(groups) > 1:  # precondition: the groups' statistics differ, so pooling them would show
        first, *others = [hand[g][0] for g in sorted(groups)]
        assert all(not np.allclose(first, other, rtol=1e-3, atol=1e-3) for other in others)
