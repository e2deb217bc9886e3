"""The DNN's cached training path on the transfer condition."""
import pytest

from s3prl_crosscorpus.core.folds import make_split
from test_cache_training import cache_dir, tiny_ckpt  # noqa: F401 (fixtures of the cached training path)


@pytest.mark.e2e
def test_train_cached_transfer_writes_each_cell_under_its_name(data_dir, tiny_ckpt, cache_dir, tmp_path, utterances):
    from test_cache_training import runner_argv
    from s3prl_crosscorpus.commands.train_cached import main as train_cached
    from helpers.results import load_results

    argv = ["--cache", str(cache_dir), *runner_argv(tmp_path, data_dir, None,
            "config.downstream_expert.datarc.condition='transfer'", "config.downstream_expert.datarc.test_corpus=None",
            "config.downstream_expert.datarc.train_corpora=['ravdess']", "config.downstream_expert.datarc.fold=2")]
    assert train_cached(argv) == 0
    results = {r["test_corpus"]: r for r in load_results(tmp_path / "results")}
    assert {c: r["condition"] for c, r in results.items()} == {"emodb": "transfer", "ravdess": "matched",
                                                              "iemocap": "transfer"}
    assert all(r["train_corpora"] == ["ravdess"] for r in results.values())
    assert (tmp_path / "results" / "HuBERT-Linear" / "from-ravdess" / "emodb" / "fold2.json").exists()
    split = make_split(utterances, "matched", 2, "ravdess")
    assert [row["id"] for row in results["ravdess"]["predictions"]] == list(split.test)  # the diagonal is matched
