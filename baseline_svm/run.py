"""One SVM experiment: (feature set, condition, test corpus, folds) -> result files and model files.

Splits come only from :func:`s3prl_crosscorpus.core.folds.make_split`; results are built and
written with :mod:`s3prl_crosscorpus.results.schema`, so they share the DNN system's schema.
"""
import hashlib
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from tqdm import tqdm

from s3prl_crosscorpus.core.corpora import Utterance
from s3prl_crosscorpus.core.folds import DEFAULT_SEED, FOLDS, Split, fold_file_sha256, make_split
from s3prl_crosscorpus.core.io_utils import read_json
from s3prl_crosscorpus.core.labels import CORPORA, LABELS
from s3prl_crosscorpus.core.manifest import load_manifest
from s3prl_crosscorpus.results.schema import (ResultError, make_result, package_versions, result_path,
                                       validate_result, write_result)

from .features import Extraction, check_feature_set, describe, extract, opensmile_version
from .model import GRIDS, ModelError, fit_final, predict, save_model, search

#: Feature set -> the system name (leaderboard row) its results carry.
SYSTEMS: Dict[str, str] = {"GeMAPSv01b": "GeMAPS-SVM", "eGeMAPSv02": "eGeMAPS-SVM", "ComParE_2016": "ComParE-SVM"}
ALL = "all"


@dataclass(frozen=True)
class RunConfig:
    """Everything one ``baseline-svm run`` needs. ``test_corpus`` may be ``"all"``."""

    data_dir: Path
    out: Path
    feature_set: str
    condition: str
    test_corpus: str
    folds: Tuple[int, ...]
    seed: int = DEFAULT_SEED
    corpora: Optional[Tuple[str, ...]] = None  # None: every corpus in the manifest
    grid: str = "libsvm"
    n_jobs: Optional[int] = None  # None: all cores
    cache_dir: Optional[Path] = None  # None: DATA_DIR/cache/opensmile
    class_weight: Optional[str] = None
    save_models: bool = True
    skip_done: bool = False  # --fold all: keep folds whose results already exist

    @property
    def system(self) -> str:
        return SYSTEMS[self.feature_set]

    @property
    def cache(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else Path(self.data_dir) / "cache" / "opensmile"


@dataclass(frozen=True)
class Job:
    """One model to train: a split and the test corpora whose results it writes."""

    split: Split
    test_corpora: Tuple[str, ...]


@dataclass
class RunReport:
    written: List[Path] = field(default_factory=list)
    skipped: List[Path] = field(default_factory=list)
    extraction: Optional[Extraction] = None


def pool_of(utts: Sequence[Utterance], corpora: Optional[Sequence[str]]) -> Tuple[str, ...]:
    """The corpus pool: the requested corpora, else every corpus present in the manifest."""
    present = {u.corpus for u in utts}
    wanted = CORPORA if corpora is None else tuple(corpora)
    return tuple(c for c in CORPORA if c in wanted and (corpora is not None or c in present))


def plan(utts: Sequence[Utterance], config: RunConfig) -> List[Job]:
    """Models to train. Extended with test corpus ``all`` trains one model per fold for every corpus."""
    pool = pool_of(utts, config.corpora)
    tests = pool if config.test_corpus == ALL else (config.test_corpus,)
    jobs = []
    for fold in config.folds:
        if config.condition == "extended" and config.test_corpus == ALL:
            jobs.append(Job(make_split(utts, "extended", fold, None, pool, config.seed), tests))
        else:
            jobs.extend(Job(make_split(utts, config.condition, fold, t, pool, config.seed), (t,)) for t in tests)
    return jobs


def result_file(config: RunConfig, test_corpus: str, fold: int) -> Path:
    return result_path(config.out, config.system, config.condition, test_corpus, fold)


def model_file(config: RunConfig, job: Job) -> Path:
    """Next to the result; the extended model serves every test corpus, so it sits one level up."""
    if config.condition == "extended":
        return Path(config.out) / config.system / "extended" / f"fold{job.split.fold}.model.joblib"
    return result_file(config, job.test_corpora[0], job.split.fold).with_name(f"fold{job.split.fold}.model.joblib")


def stale_reason(path: Path, config: RunConfig, job: Job) -> Optional[str]:
    """Why an existing result cannot stand for this job (None: it can)."""
    if not path.exists():
        return "missing"
    try:
        result = read_json(path)
        validate_result(result, str(path))
    except (ValueError, ResultError) as err:
        return f"unreadable ({err})"
    expected = {"fold_file_sha256": fold_file_sha256(), "seed": config.seed, "features": config.feature_set,
                "train_corpora": list(job.split.train_corpora)}
    for key, value in expected.items():
        if result.get(key) != value:
            return f"{key} is {result.get(key)!r}, this run needs {value!r}"
    return None


def ids_digest(ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


def with_features(ids: Sequence[str], by_id: Dict[str, Utterance], features: Extraction) -> List[str]:
    """The ids whose file has a feature vector (excluded files drop out), order kept."""
    return [i for i in ids if by_id[i].path in features.vectors]


def design(ids: Sequence[str], by_id: Dict[str, Utterance], features: Extraction) -> Tuple[np.ndarray, List[str]]:
    """Feature matrix and labels of ``ids``."""
    return features.matrix([by_id[i].path for i in ids]), [by_id[i].label for i in ids]


def check_usable(job: Job, config: RunConfig, sets: Mapping[str, Sequence[str]], by_id: Dict[str, Utterance]) -> None:
    """Stop with a message naming the experiment when excluded files leave a set unusable."""
    where = f"{config.system} {config.condition} fold {job.split.fold}"
    for name in ("train", "dev"):
        if len({by_id[i].label for i in sets[name]}) < 2:
            raise ModelError(f"{where}: after excluding files that failed extraction, the {name} set holds "
                             f"{len(sets[name])} utterance(s) of fewer than 2 classes")
    for corpus in job.test_corpora:
        if not any(by_id[i].corpus == corpus for i in sets["test"]):
            raise ModelError(f"{where}: every {corpus} test file was excluded (failed extraction)")


def run_job(job: Job, config: RunConfig, by_id: Dict[str, Utterance], features: Extraction) -> List[Path]:
    """Search C/gamma on dev, refit on train, predict the test ids, write one result per test corpus."""
    split = job.split
    train, dev, test = (with_features(ids, by_id, features) for ids in (split.train, split.dev, split.test))
    check_usable(job, config, {"train": train, "dev": dev, "test": test}, by_id)
    (X_train, y_train), (X_dev, y_dev) = design(train, by_id, features), design(dev, by_id, features)

    start = time.perf_counter()
    chosen = search(X_train, y_train, X_dev, y_dev, grid=config.grid, n_jobs=config.n_jobs or -1,
                    class_weight=config.class_weight)
    searched = time.perf_counter()
    pipeline, calibrator = fit_final(X_train, y_train, chosen.C, chosen.gamma, config.class_weight,
                                     n_jobs=config.n_jobs or -1)
    fitted = time.perf_counter()
    X_test, y_test = design(test, by_id, features)
    predictions, probabilities = predict(pipeline, calibrator, X_test)
    predicted = time.perf_counter()

    hyperparameters = {
        "C": chosen.C, "gamma": chosen.gamma,
        "log2_C": int(round(np.log2(chosen.C))), "log2_gamma": int(round(np.log2(chosen.gamma))),
        "grid": {"name": config.grid, **{k: list(v) for k, v in GRIDS[config.grid].items()}},
        "class_weight": config.class_weight,
        "selection": "max dev UAR over the grid (PredefinedSplit); final model refitted on train only",
    }
    if chosen.on_edge:
        tqdm.write(f"warning: {config.system} {config.condition} fold {split.fold}: chosen "
                   f"{' and '.join(chosen.on_edge)} on the edge of the {config.grid} grid", file=sys.stderr)
    used = replace(split, train=tuple(train), dev=tuple(dev), test=tuple(test))
    model_path = model_file(config, job)
    if config.save_models:
        save_model(model_path, {
            "pipeline": pipeline, "calibrator": calibrator, "feature_set": config.feature_set, "system": config.system,
            "labels": list(LABELS), "fold_file_sha256": fold_file_sha256(), "hyperparameters": hyperparameters,
            "condition": split.condition, "fold": split.fold, "train_corpora": list(split.train_corpora),
            "seed": config.seed, "train_ids": list(train), "dev_ids": list(dev),
            "opensmile": opensmile_version(),
        })
    timings = {"extraction": features.seconds, "search": searched - start, "fit": fitted - searched,
               "predict": predicted - fitted}
    versions = package_versions("opensmile", "scikit-learn", "numpy")
    written = []
    for corpus in job.test_corpora:
        rows = [k for k, i in enumerate(test) if by_id[i].corpus == corpus]
        ids = [test[k] for k in rows]
        corpus_paths = [by_id[i].path for i in split.train + split.dev
                        + tuple(i for i in split.test if by_id[i].corpus == corpus)]
        result = make_result(
            system=config.system, family="svm", features=config.feature_set, head=None, split=used,
            test_corpus=corpus, seed=config.seed, hyperparameters=hyperparameters, dev_uar=chosen.dev_uar,
            ids=ids, labels=[y_test[k] for k in rows], predictions=[predictions[k] for k in rows],
            probabilities=[probabilities[k] for k in rows], excluded=features.excluded_among(corpus_paths),
            timings=timings, versions=versions,
            config={
                "data_dir": str(config.data_dir), "cache_dir": str(config.cache), "grid": config.grid,
                "n_jobs": config.n_jobs, "corpora": list(pool_of(list(by_id.values()), config.corpora)),
                "model_file": str(model_path) if config.save_models else None,
                "extraction": {"files": features.extracted + features.cached, "extracted": features.extracted,
                               "cached": features.cached, "excluded": len(features.excluded)},
                "split_sha256": {"train": ids_digest(train), "dev": ids_digest(dev), "test": ids_digest(ids)},
                "dev_uar_grid": chosen.table,
            })
        written.append(write_result(result_file(config, corpus, split.fold), result))
        tqdm.write(f"{config.system} {config.condition} fold {split.fold} train {'+'.join(split.train_corpora)}"
                   f" -> {corpus}: C=2^{hyperparameters['log2_C']} gamma=2^{hyperparameters['log2_gamma']}"
                   f" dev UAR {chosen.dev_uar:.3f}, test UAR {result['metrics']['uar']:.3f}"
                   f" (n={len(ids)})")
    return written


def run(config: RunConfig, utts: Optional[Sequence[Utterance]] = None) -> RunReport:
    """Plan the jobs, skip finished ones (``skip_done``), extract features once, train and write results."""
    check_feature_set(config.feature_set)
    if config.grid not in GRIDS:
        raise ValueError(f"unknown grid {config.grid!r}; choose one of {', '.join(GRIDS)}")
    utts = list(load_manifest(config.data_dir) if utts is None else utts)
    by_id = {u.id: u for u in utts}
    report = RunReport()
    todo = []
    for job in plan(utts, config):
        paths = [result_file(config, c, job.split.fold) for c in job.test_corpora]
        reasons = [stale_reason(p, config, job) for p in paths] if config.skip_done else ["re-run"]
        if all(r is None for r in reasons):
            report.skipped.extend(paths)
            tqdm.write(f"skip {config.system} {config.condition} fold {job.split.fold} "
                       f"({', '.join(job.test_corpora)}): result exists")
            continue
        for path, reason in zip(paths, reasons):
            if reason not in (None, "missing", "re-run"):
                tqdm.write(f"recomputing {path}: {reason}", file=sys.stderr)
        todo.append(job)
    if not todo:
        return report
    needed = sorted({by_id[i].path for job in todo for i in job.split.train + job.split.dev + job.split.test})
    report.extraction = extract(needed, config.feature_set, cache_dir=config.cache, n_jobs=config.n_jobs)
    tqdm.write(describe(report.extraction))
    for job in tqdm(todo, desc=f"{config.system} {config.condition}", unit="model", disable=len(todo) < 2):
        report.written.extend(run_job(job, config, by_id, report.extraction))
    return report


def parse_folds(text: str) -> Tuple[int, ...]:
    """``"all"`` or one fold number."""
    return FOLDS if text == ALL else (int(text),)
