"""Time the results tooling on paper-scale results: ``python -m s3prl_crosscorpus.benchmarks.results OUT``.

Writes 6 systems x 3 conditions x 3 corpora x 5 folds of random predictions over test sets of the
real corpus sizes (EmoDB 339, RAVDESS 672, IEMOCAP 5531 utterances) and speaker counts, then prints
how long the leaderboard, the speaker-level statistics, the plots, packing a bundle and validating it take.
"""
import argparse
import random
import shutil
import time
from pathlib import Path
from typing import List, Optional

from ..core.folds import CONDITIONS, FOLDS, TRANSFER, Split
from ..core.labels import LABELS
from ..results.cells import load_cells
from ..results.leaderboard import render_markdown, summary
from ..results.paper import SYSTEM_ORDER
from ..results.plots import plot_all
from ..results.schema import make_result, result_path, write_result
from ..results.significance import requested_pairs, statistics, table_statistics
from ..results.stats import StatsConfig
from ..submission.bundle import build_bundle
from ..submission.validate import validate_bundle

CORPUS_SIZES = {"emodb": 339, "ravdess": 672, "iemocap": 5531}
#: Test speakers per fold, as in the real folds (EmoDB and IEMOCAP 2, RAVDESS 5, 5, 5, 5, 4).
FOLD_SPEAKERS = {"emodb": (2,) * 5, "ravdess": (5, 5, 5, 5, 4), "iemocap": (2,) * 5}


def write_fake_results(out: Path, seed: int = 0) -> int:
    """Random (65 % correct) predictions on every fold's fifth of each corpus, utterances dealt to the fold's
    speakers in turn; returns the number of files."""
    rng = random.Random(seed)
    count = 0
    for corpus, size in CORPUS_SIZES.items():
        labels = {f"{corpus}_{i:05d}": rng.choice(LABELS) for i in range(size)}
        ids = sorted(labels)
        for fold in FOLDS:
            test = tuple(ids[fold - 1::len(FOLDS)])
            truth = [labels[i] for i in test]
            speakers = [f"{corpus}-f{fold}-s{k % FOLD_SPEAKERS[corpus][fold - 1]}" for k in range(len(test))]
            for condition in (k for k in CONDITIONS if k != TRANSFER):  # a transfer split needs its rows
                split = Split(condition, fold, (corpus,), (corpus,), ("train",), ("dev",), test)
                for system in SYSTEM_ORDER:
                    predictions = [y if rng.random() < 0.65 else rng.choice(LABELS) for y in truth]
                    result = make_result(system=system, family="svm" if system.endswith("SVM") else "dnn",
                                         features="fake", head=None, split=split, test_corpus=corpus, seed=seed,
                                         hyperparameters={}, dev_uar=0.5, ids=test, labels=truth,
                                         predictions=predictions, speakers=speakers)
                    write_result(result_path(out, system, condition, corpus, fold), result)
                    count += 1
    return count


def timed(label: str, func, *args, **kwargs):
    start = time.perf_counter()
    value = func(*args, **kwargs)
    print(f"{label:<40} {time.perf_counter() - start:7.2f} s")
    return value


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="scratch folder (emptied first)")
    args = parser.parse_args(argv)
    shutil.rmtree(args.out, ignore_errors=True)
    results = args.out / "results"
    count = timed("write results (make_result)", write_fake_results, results)
    cells, sha = timed(f"load + check {count} result files", load_cells, results)
    timed("render the markdown table", render_markdown, summary(cells, sha))
    stats = timed(f"statistics ({len(cells)} cells, {StatsConfig().resamples} resamples)", table_statistics, cells)
    timed("render the table with --stats", render_markdown, summary(cells, sha, stats))
    iemocap = [c for c in cells if c.corpus == "iemocap"][0]
    timed(f"one IEMOCAP cell ({iemocap.confusion().sum()} predictions)", table_statistics, [iemocap])
    pair = requested_pairs(cells, SYSTEM_ORDER[0], SYSTEM_ORDER[-1], "iemocap")[:1]
    timed("one IEMOCAP paired comparison", statistics, [], pair)
    paths = timed("plots (confusions + chart)", plot_all, cells, summary(cells, sha), args.out / "plots")
    bundle = args.out / "bundle.zip"
    timed("submit bundle (with plots)", build_bundle, results, bundle)
    found = timed("validate bundle", validate_bundle, bundle)
    print(f"{len(paths)} PNG files; bundle {bundle.stat().st_size / 1e6:.1f} MB; validate: {found.describe()}")
    return 0 if found.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
