"""Per-corpus / per-speaker normalisation of the SVM (--norm) and the synthetic per-corpus channel."""
import numpy as np
import pytest

from baseline_svm.cli import main
from baseline_svm.model import load_model, predict_files
from s3prl_crosscorpus.core.normalise import apply_statistics, group_statistics
from baseline_svm.run import RunConfig, needed_paths, plan, run
from s3prl_crosscorpus.core.names import svm_system_name as system_name
from s3prl_crosscorpus.core.manifest import load_manifest, prepare
from s3prl_crosscorpus.demo.synth import Channel, synthesize
from helpers.results import load_results

#: A strong per-corpus channel: EmoDB quiet, dark and telephone-band; IEMOCAP loud, bright and noisy.
STRONG = {"emodb": Channel(gain=0.3, tilt=-4.0, band=(300, 3400)),
          "iemocap": Channel(gain=2.5, tilt=3.0, noise=0.01)}
SEEDS = (0, 1, 2)


def test_group_statistics_z_normalise_each_group():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(5, 2, (30, 4)), rng.normal(-50, 10, (20, 4))])
    X[:, 3] = 7.0  # a constant feature keeps scale 1, as in StandardScaler
    groups = ["a"] * 30 + ["b"] * 20
    Z = apply_statistics(X, groups, group_statistics(X, groups))
    for rows in (slice(0, 30), slice(30, 50)):
        np.testing.assert_allclose(Z[rows, :3].mean(axis=0), 0, atol=1e-12)
        np.testing.assert_allclose(Z[rows, :3].std(axis=0), 1, atol=1e-12)
    assert np.all(Z[:, 3] == 0)
    with pytest.raises(KeyError, match="'c'"):
        apply_statistics(X[:2], ["a", "c"], group_statistics(X, groups))


def test_system_names_keep_the_variants_apart():
    assert system_name("eGeMAPSv02") == "eGeMAPS-SVM"
    assert system_name("eGeMAPSv02", norm="speaker") == "eGeMAPS-SVM_speaker-norm"
    assert system_name("ComParE_2016", select="group-cv") == "ComParE-SVM_group-cv"
    assert system_name("GeMAPSv01b", "corpus", "group-cv") == "GeMAPS-SVM_corpus-norm_group-cv"


def test_corpus_norm_needs_every_utterance_of_the_test_corpus(utterances, tmp_path):
    """loco tests on one fold of a corpus, but its statistics come from all of its utterances."""
    config = RunConfig(data_dir=tmp_path, out=tmp_path, feature_set="GeMAPSv01b", condition="loco",
                       test_corpus="emodb", folds=(1,), norm="corpus")
    jobs = plan(utterances, config)
    emodb = {u.path for u in utterances if u.corpus == "emodb"}
    split_paths = {u.path for u in utterances if u.id in set(jobs[0].split.test)}
    assert split_paths < emodb <= set(needed_paths(utterances, jobs, "corpus"))
    assert not emodb - split_paths & set(needed_paths(utterances, jobs, "global"))


@pytest.mark.e2e
def test_speaker_norm_run_is_recorded_as_transductive(data_dir, tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["run", "--data", str(data_dir), "--feature-set", "GeMAPSv01b", "--condition", "matched",
                 "--test-corpus", "emodb", "--fold", "1", "--out", str(out), "--grid", "coarse",
                 "--cache", str(tmp_path / "cache"), "--norm", "speaker", "--corpora", "emodb"]) == 0
    assert "transductive" in capsys.readouterr().out
    (result,) = load_results(out)
    assert result["system"] == "GeMAPS-SVM_speaker-norm"
    assert result["hyperparameters"]["normalisation"] == "speaker" and result["hyperparameters"]["transductive"]
    assert result["config"]["normalisation"] == "speaker" and result["config"]["transductive"]
    model = load_model(out / "GeMAPS-SVM_speaker-norm" / "matched" / "emodb" / "fold1.model.skops")
    assert model["normalisation"] == "speaker"
    # New files are normalised per speaker, as the caller says; without a grouping the model refuses.
    by_id = {u.id: u for u in load_manifest(data_dir)}
    speaker = [p["id"] for p in result["predictions"] if by_id[p["id"]].speaker == by_id[result["predictions"][0]["id"]].speaker]
    labels, _, notes = predict_files(model, [by_id[i].path for i in speaker], progress=False,
                                     groups=["x"] * len(speaker))
    assert labels == [p["prediction"] for p in result["predictions"] if p["id"] in speaker]
    assert len(notes) == len(speaker) and "fewer than the 10 needed" in notes[0]  # 8 files per synthetic speaker
    with pytest.raises(ValueError, match="say which files share a speaker"):
        predict_files(model, [by_id[i].path for i in speaker], progress=False)
    labels, _, notes = predict_files(model, [by_id[speaker[0]].path], progress=False, groups=["x"])
    assert labels == [None] and "all-zero vector" in notes[0]


@pytest.mark.e2e
def test_channel_is_off_by_default_and_changes_only_its_corpus(tmp_path):
    plain = synthesize(tmp_path / "plain", per_class=1, seed=3, corpora=("emodb", "iemocap"))
    shaped = synthesize(tmp_path / "shaped", per_class=1, seed=3, corpora=("emodb", "iemocap"),
                        channels={"emodb": STRONG["emodb"]})
    for corpus, changed in (("emodb", True), ("iemocap", False)):
        files = sorted(p.relative_to(plain[corpus]) for p in plain[corpus].rglob("*.wav"))
        same = [(plain[corpus] / f).read_bytes() == (shaped[corpus] / f).read_bytes() for f in files]
        assert not any(same) if changed else all(same), corpus
    with pytest.raises(ValueError, match="unknown corpus"):
        synthesize(tmp_path / "x", channels={"timit": Channel()})


@pytest.fixture(scope="module")
def channel_corpora(tmp_path_factory):
    """seed -> DATA_DIR of small EmoDB + IEMOCAP copies recorded through strongly different channels."""
    found = {}
    for seed in SEEDS:
        root = tmp_path_factory.mktemp(f"channel{seed}")
        prepare(synthesize(root / "corpora", per_class=1, seed=seed, channels=STRONG, corpora=("emodb", "iemocap")),
                root / "data")
        found[seed] = root / "data"
    return found


def loco_uar(data_dir, norm: str) -> float:
    """Mean test UAR of leave-one-corpus-out (train EmoDB -> test IEMOCAP and back), fold 1."""
    out = data_dir.parent / f"results-{norm}"
    run(RunConfig(data_dir=data_dir, out=out, feature_set="GeMAPSv01b", condition="loco", test_corpus="all",
                  folds=(1,), grid="coarse", n_jobs=1, cache_dir=data_dir.parent / "cache", norm=norm,
                  save_models=False))
    return float(np.mean([r["metrics"]["uar"] for r in load_results(out)]))


@pytest.mark.e2e
def test_corpus_norm_undoes_a_per_corpus_channel_in_loco(channel_corpora):
    gains = [loco_uar(data, "corpus") - loco_uar(data, "global") for data in channel_corpora.values()]
    assert min(gains) > 0.05 and np.mean(gains) > 0.15, gains
