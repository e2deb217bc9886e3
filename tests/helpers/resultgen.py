"""Result files for the results-tooling tests, built through the real make_split / make_result path."""
import random
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from s3prl_crosscorpus.core.folds import FOLDS, make_split
from s3prl_crosscorpus.core.labels import CORPORA, LABELS
from s3prl_crosscorpus.results.schema import make_result, path_of, result_path, write_result

#: system -> (family, features, head)
SYSTEMS: Dict[str, Tuple[str, str, Optional[str]]] = {
    "ComParE-SVM": ("svm", "ComParE_2016", None),
    "HuBERT-Linear": ("dnn", "hubert", "linear"),
}
#: (system, fold, labels, rng) -> predictions
Predictor = Callable[[str, int, Sequence[str], random.Random], List[str]]


def noisy(system: str, fold: int, labels: Sequence[str], rng: random.Random) -> List[str]:
    """Each label kept with probability 0.7, else a random class."""
    return [lab if rng.random() < 0.7 else rng.choice(LABELS) for lab in labels]


def write_results(results_dir: Path, utterances, systems: Sequence[str] = tuple(SYSTEMS),
                  conditions: Sequence[str] = ("matched", "extended"), corpora: Sequence[str] = CORPORA,
                  folds: Sequence[int] = FOLDS, predictor: Predictor = noisy, seed: int = 0,
                  init_seed: Optional[int] = None) -> List[Path]:
    """One schema-valid result file per (system, condition, corpus, fold), on the shared folds' test sets.

    The results record each utterance's speaker (make_result reads it from the corpus' id convention);
    ``init_seed`` (None: not recorded, as results written before it) names the run among a cell's seeds."""
    label_of = {u.id: u.label for u in utterances}
    rng = random.Random(seed if init_seed is None else f"{seed}/{init_seed}")
    paths = []
    for fold in folds:
        for condition in conditions:
            for corpus in corpora:
                split = make_split(utterances, condition, fold, corpus)
                labels = [label_of[i] for i in split.test]
                for system in systems:
                    family, features, head = SYSTEMS.get(system, ("dnn", "hubert", "x"))
                    result = make_result(
                        system=system, family=family, features=features, head=head, split=split,
                        test_corpus=corpus, seed=seed, hyperparameters={"C": 1.0, "fold": fold}, dev_uar=0.5,
                        ids=split.test, labels=labels, predictions=predictor(system, fold, labels, rng),
                        config={"note": "test"}, versions={"s3prl_crosscorpus": "test", "python": "3"},
                        init_seed=init_seed)
                    paths.append(write_result(result_path(results_dir, system, condition, corpus, fold), result))
    return paths


def write_transfer(results: Path, utterances, rows, system: str = "GeMAPS-SVM", folds: Sequence[int] = FOLDS,
                   pool: Sequence[str] = CORPORA) -> None:
    """Transfer results of ``rows`` through the real make_split / make_result path (noisy predictions)."""
    label_of = {u.id: u.label for u in utterances}
    rng = random.Random(0)
    for fold in folds:
        for row in rows:
            split = make_split(utterances, "transfer", fold, None, pool, train=row)
            for corpus in pool:
                ids = [i for i in split.test if i.startswith(corpus + "_")]
                labels = [label_of[i] for i in ids]
                predicted = [lab if rng.random() < 0.7 else rng.choice(LABELS) for lab in labels]
                result = make_result(system=system, family="svm", features="GeMAPSv01b", head=None, split=split,
                                     test_corpus=corpus, seed=0, hyperparameters={}, dev_uar=0.5, ids=ids,
                                     labels=labels, predictions=predicted,
                                     versions={"s3prl_crosscorpus": "test", "python": "3"})
                write_result(path_of(results, result), result)
