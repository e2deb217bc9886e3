"""One SVM experiment: (feature set, condition, test corpus, folds) -> result files and model files.

Splits come only from :func:`s3prl_crosscorpus.core.folds.make_split`; results are built and
written with :mod:`s3prl_crosscorpus.results.schema`, so they share the DNN system's schema.
The steps of one fold: :func:`job_rows` (ids with features), :func:`job_design` (matrices,
normalised), :func:`fit_job` (the estimator), :func:`hyperparameters_of`, :func:`save_job_model`,
:func:`write_job_results`.
"""
import hashlib
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from s3prl_crosscorpus.core.progress import Progress as tqdm  # plain lines when not a terminal

from s3prl_crosscorpus.core.corpora import Utterance
from s3prl_crosscorpus.core.folds import (DEFAULT_SEED, FOLDS, TRANSFER, Split, condition_label, fold_file_sha256,
                                          make_split, manifest_folds, result_condition, transfer_rows)
from s3prl_crosscorpus.core.io_utils import read_json
from s3prl_crosscorpus.core.labels import LABELS, corpus_order
from s3prl_crosscorpus.core.manifest import load_manifest, manifest_digest, manifest_path
from s3prl_crosscorpus.augment.plan import check_material
from s3prl_crosscorpus.augment.spec import Spec, spec_warnings
from s3prl_crosscorpus.core.names import augment_tags, svm_system_name
from s3prl_crosscorpus.core.metrics import degenerate_warnings, uar
from s3prl_crosscorpus.results.schema import (ResultError, make_result, package_versions, result_path,
                                              validate_result, write_result)

from .augmented import (CopyExtraction, check_degrade, copy_rows, degraded_copies, extract_copies, split_copies,
                        split_key)
from .features import FEATURE_SETS, Extraction, check_feature_set, describe, extract, opensmile_version
from .model import (DEFAULT_CV_FOLDS, GRIDS, MODEL_SUFFIX, SEARCHES, SELECTIONS, ModelError, SVMEmotionClassifier,
                    labels_and_probabilities, save_model)
from s3prl_crosscorpus.core.normalise import (NORMS, Statistics, apply_statistics, group_of, group_sizes,
                                              group_statistics, is_transductive, small_group_warning, small_groups)
from .search import SearchMemoryError, plan_memory
from .choices import ALL


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
    search: str = "kernel"  # or "sklearn" (GridSearchCV, the reference); same results
    select: str = "dev"  # or "group-cv"
    cv_folds: int = DEFAULT_CV_FOLDS
    norm: str = "global"  # or "corpus", "speaker" (transductive)
    train_pools: Tuple[Tuple[str, ...], ...] = ()  # transfer: the matrix rows (default each corpus, and the pool)
    augment: Optional[Spec] = None  # training copies: K per training utterance, never dev or test
    augment_copies: int = 1
    test_degrade: Optional[Spec] = None  # evaluate on degraded test audio: its own system row

    @property
    def system(self) -> str:
        tags = augment_tags(self.augment.short() if self.augment else "", self.augment_copies,
                            self.test_degrade.short() if self.test_degrade else "")
        return svm_system_name(self.feature_set, self.norm, self.select, tags)

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
    augmented: Optional[CopyExtraction] = None
    degraded: Optional[CopyExtraction] = None


@dataclass
class Rows:
    """The ids of one fold that have features, and their matrices (normalised if asked)."""

    ids: Dict[str, List[str]]
    X: Dict[str, np.ndarray]
    y: Dict[str, List[str]]
    augmented_ids: List[str] = field(default_factory=list)  # source utterance of each augmented training row


def check_config(config: RunConfig) -> None:
    check_feature_set(config.feature_set)
    if config.test_degrade is not None:
        check_degrade(config.test_degrade)
        if config.norm != "global":
            raise ValueError("--test-degrade needs --norm global (per-group statistics would come from clean audio)")
    for name, value, allowed in (("grid", config.grid, tuple(GRIDS)), ("search", config.search, SEARCHES),
                                 ("selection", config.select, SELECTIONS), ("normalisation", config.norm, NORMS)):
        if value not in allowed:
            raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(allowed)}")


def pool_of(utts: Sequence[Utterance], corpora: Optional[Sequence[str]]) -> Tuple[str, ...]:
    """The corpus pool: the requested corpora, else every corpus present in the manifest."""
    return corpus_order(corpora if corpora is not None else {u.corpus for u in utts})


def plan(utts: Sequence[Utterance], config: RunConfig) -> List[Job]:
    """Models to train. Extended with test corpus ``all`` trains one model per fold for every corpus."""
    pool = pool_of(utts, config.corpora)
    test_only = manifest_folds(utts).test_only
    tests = pool if config.test_corpus == ALL else (config.test_corpus,)
    if config.condition == "matched" and config.test_corpus == ALL:  # a test-only corpus has no matched model
        tests = tuple(c for c in tests if c not in test_only)
    jobs = []
    if config.condition == TRANSFER:  # one model per (training pool, fold) serves every test corpus
        return [Job(make_split(utts, TRANSFER, fold, None if config.test_corpus == ALL else config.test_corpus,
                               pool, config.seed, train=rows), tests)
                for fold in config.folds
                for rows in transfer_rows(pool, config.train_pools, test_only)]
    for fold in config.folds:
        if config.condition == "extended" and config.test_corpus == ALL:
            jobs.append(Job(make_split(utts, "extended", fold, None, pool, config.seed), tests))
        else:
            jobs.extend(Job(make_split(utts, config.condition, fold, t, pool, config.seed), (t,)) for t in tests)
    return jobs


def result_file(config: RunConfig, test_corpus: str, split: Split) -> Path:
    """Where the result of ``split`` on ``test_corpus`` goes (a transfer split names each cell's condition)."""
    return result_path(config.out, config.system, result_condition(split, test_corpus), test_corpus, split.fold,
                       split.train_corpora)


def model_file(config: RunConfig, job: Job) -> Path:
    """Next to the result; an extended (transfer) model serves every test corpus, so it sits one level up
    (in the ``extended`` or ``from-<corpora>`` folder)."""
    name = f"fold{job.split.fold}.model{MODEL_SUFFIX}"
    if config.condition == "extended":
        return Path(config.out) / config.system / "extended" / name
    if config.condition == TRANSFER:
        return Path(config.out) / config.system / condition_label(TRANSFER, job.split.train_corpora) / name
    return result_file(config, job.test_corpora[0], job.split).with_name(name)


def stale_reason(path: Path, config: RunConfig, job: Job) -> Optional[str]:
    """Why an existing result cannot stand for this job (None: it can)."""
    if not path.exists():
        return "missing"
    try:
        result = read_json(path)
        validate_result(result, str(path))
    except (ValueError, ResultError) as err:
        return f"unreadable ({err})"
    hyper = result.get("hyperparameters", {})
    found = {"fold_file_sha256": result.get("fold_file_sha256"), "seed": result.get("seed"),
             "features": result.get("features"), "train_corpora": result.get("train_corpora"),
             "grid": (hyper.get("grid") or {}).get("name"), "class_weight": hyper.get("class_weight"),
             "augment": ((result.get("config") or {}).get("augment") or {}).get("identity")}
    expected = {"fold_file_sha256": job.split.fold_file_sha256 or fold_file_sha256(), "seed": config.seed,
                "features": config.feature_set,
                "train_corpora": list(job.split.train_corpora), "grid": config.grid,
                "class_weight": config.class_weight, "augment": config.augment.identity() if config.augment else None}
    for key, value in expected.items():
        if found[key] != value:
            return f"{key} is {found[key]!r}, this run needs {value!r}"
    # The manifest's content, not its mtime: a re-made manifest (other audio, labels) makes every result stale.
    recorded, current = (result.get("config") or {}).get("manifest_sha256"), manifest_digest(config.data_dir)
    if recorded and current and recorded != current:
        return (f"made from manifest sha256 {recorded[:12]}…, {manifest_path(config.data_dir)} is now "
                f"{current[:12]}… (re-made since)")
    return None


def ids_digest(ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


def with_features(ids: Sequence[str], by_id: Dict[str, Utterance], features: Extraction) -> List[str]:
    """The ids whose file has a feature vector (excluded files drop out), order kept."""
    return [i for i in ids if by_id[i].path in features.vectors]


def norm_group(utt: Utterance, norm: str) -> str:
    return group_of(utt.corpus, utt.speaker, norm)


def needed_paths(utts: Sequence[Utterance], jobs: Sequence[Job], norm: str) -> List[str]:
    """Files whose features the jobs need: their ids, plus every utterance of their normalisation groups."""
    by_id = {u.id: u for u in utts}
    ids = {i for job in jobs for i in job.split.train + job.split.dev + job.split.test}
    paths = {by_id[i].path for i in ids}
    if norm != "global":
        groups = {norm_group(by_id[i], norm) for i in ids}
        paths |= {u.path for u in utts if norm_group(u, norm) in groups}
    return sorted(paths)


def norm_statistics(utts: Sequence[Utterance], features: Extraction, norm: str) -> Optional[Statistics]:
    """Per corpus/speaker mean and scale over all of its utterances with features (None for global)."""
    if norm == "global":
        return None
    usable = [u for u in utts if u.path in features.vectors]
    return group_statistics(features.matrix([u.path for u in usable]), [norm_group(u, norm) for u in usable])


def norm_sizes(utts: Sequence[Utterance], features: Extraction, norm: str) -> Optional[Dict[str, int]]:
    """Per corpus/speaker: how many utterances with features its statistics come from (None for global)."""
    if norm == "global":
        return None
    return group_sizes([norm_group(u, norm) for u in utts if u.path in features.vectors])


def small_group_warnings(ids: Sequence[str], by_id: Dict[str, Utterance], sizes: Optional[Mapping[str, int]],
                         norm: str, role: str) -> List[str]:
    """The result warning for the groups of ``ids`` whose statistics rest on too few utterances."""
    if sizes is None:
        return []
    small = small_groups({g: sizes[g] for g in {norm_group(by_id[i], norm) for i in ids}})
    found = small_group_warning(norm, small, role)
    return [found] if found else []


def design(ids: Sequence[str], by_id: Dict[str, Utterance], features: Extraction, norm: str = "global",
           stats: Optional[Statistics] = None) -> Tuple[np.ndarray, List[str]]:
    """Feature matrix (normalised per corpus/speaker when ``stats`` is given) and labels of ``ids``."""
    X = features.matrix([by_id[i].path for i in ids])
    if stats is not None:
        X = apply_statistics(X, [norm_group(by_id[i], norm) for i in ids], stats)
    return X, [by_id[i].label for i in ids]


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


def job_rows(job: Job, config: RunConfig, by_id: Dict[str, Utterance], features: Extraction,
             stats: Optional[Statistics]) -> Rows:
    """The fold's train/dev/test ids with features, checked usable, and their (normalised) matrices."""
    split = job.split
    ids = {name: with_features(getattr(split, name), by_id, features) for name in ("train", "dev", "test")}
    check_usable(job, config, ids, by_id)
    rows = Rows(ids, {}, {})
    for name, chosen in ids.items():
        rows.X[name], rows.y[name] = design(chosen, by_id, features, config.norm, stats)
    return rows


def add_augmented(rows: Rows, copies: Sequence, augmented: CopyExtraction, by_id: Dict[str, Utterance],
                  config: RunConfig, stats: Optional[Statistics]) -> Rows:
    """Append the split's augmented training copies (normalised with their speaker's/corpus' statistics)."""
    aug_ids, X = copy_rows(copies, augmented)
    if not aug_ids:
        return rows
    if stats is not None:
        X = apply_statistics(X, [norm_group(by_id[i], config.norm) for i in aug_ids], stats)
    rows.X["train"] = np.vstack([rows.X["train"], X])
    rows.y["train"] = list(rows.y["train"]) + [by_id[i].label for i in aug_ids]
    rows.augmented_ids = aug_ids
    return rows


def speaker_of(ids: Sequence[str], by_id: Dict[str, Utterance]) -> List[str]:
    return [f"{by_id[i].corpus}/{by_id[i].speaker}" for i in ids]


def fit_job(job: Job, config: RunConfig, rows: Rows, by_id: Dict[str, Utterance]) -> SVMEmotionClassifier:
    """Choose (C, gamma) and refit on the training rows; failures name the experiment."""
    estimator = SVMEmotionClassifier(grid=config.grid, search=config.search, select=config.select,
                                     cv_folds=config.cv_folds, class_weight=config.class_weight,
                                     n_jobs=config.n_jobs, progress=True)
    try:
        return estimator.fit(rows.X["train"], rows.y["train"], X_dev=rows.X["dev"], y_dev=rows.y["dev"],
                             groups=speaker_of(rows.ids["train"] + rows.augmented_ids, by_id),
                             groups_dev=speaker_of(rows.ids["dev"], by_id))
    except (ModelError, SearchMemoryError) as err:
        raise ModelError(f"{config.system} {config.condition} fold {job.split.fold}: {err}") from err


def selection_score(estimator: SVMEmotionClassifier, rows: Rows, dev_predicted: Sequence[str]) -> float:
    """The result's dev UAR: the chosen point's dev score (dev), else the final model's UAR on the dev ids."""
    if estimator.select == "dev":
        return estimator.best_score_
    return uar(rows.y["dev"], dev_predicted)


def hyperparameters_of(config: RunConfig, estimator: SVMEmotionClassifier) -> dict:
    """What the result records about the chosen point, the grid, the search, selection and normalisation."""
    C, gamma = estimator.best_params_["C"], estimator.best_params_["gamma"]
    found = {
        "C": C, "gamma": gamma, "log2_C": int(round(np.log2(C))), "log2_gamma": int(round(np.log2(gamma))),
        "grid": {"name": config.grid, **{k: list(v) for k, v in GRIDS[config.grid].items()}},
        "class_weight": config.class_weight, "search": config.search, "selection": config.select,
        "normalisation": config.norm, "transductive": is_transductive(config.norm),
        "on_grid_edge": estimator.on_edge(),
    }
    if config.select == "group-cv":
        found["cv_folds"] = config.cv_folds
        found["cv_uar"] = estimator.best_score_
        found["selection_rule"] = (f"max mean UAR over {config.cv_folds} speaker-grouped folds of train+dev; "
                                   "final model refitted on train only")
    else:
        found["selection_rule"] = "max dev UAR over the grid (predefined dev set); final model refitted on train only"
    return found


def grid_table(estimator: SVMEmotionClassifier) -> List[Dict[str, object]]:
    """The score of every grid point (dev UAR, or mean and per-split group-cv UAR)."""
    results, table = estimator.cv_results_, []
    for k, params in enumerate(results["params"]):
        row: Dict[str, object] = {"C": params["C"], "gamma": params["gamma"]}
        if estimator.select == "dev":
            row["dev_uar"] = float(results["mean_test_score"][k])
        else:
            row["cv_uar"] = float(results["mean_test_score"][k])
            row["split_uar"] = [float(results[f"split{s}_test_score"][k]) for s in range(estimator.n_splits_)]
        table.append(row)
    return table


def save_job_model(path: Path, config: RunConfig, job: Job, rows: Rows, estimator: SVMEmotionClassifier,
                   hyperparameters: Mapping) -> Path:
    """The estimator and what is needed to use and trace it (features, labels, normalisation, ids)."""
    split = job.split
    return save_model(path, estimator, {
        "feature_set": config.feature_set, "system": config.system, "labels": list(LABELS),
        "normalisation": config.norm, "fold_file_sha256": split.fold_file_sha256 or fold_file_sha256(),
        "hyperparameters": dict(hyperparameters),
        "condition": split.condition, "fold": split.fold, "train_corpora": list(split.train_corpora),
        "seed": config.seed, "train_ids": rows.ids["train"], "dev_ids": rows.ids["dev"],
        "opensmile": opensmile_version(),
    })


def grid_edge_warnings(estimator: SVMEmotionClassifier, config: RunConfig) -> List[str]:
    """The result's warning when the chosen C or gamma lies on the grid's edge (the optimum may lie beyond it)."""
    edge = estimator.on_edge()
    if not edge:
        return []
    return [f"chosen {' and '.join(edge)} on the edge of the {config.grid} grid "
            f"({', '.join(f'{p}={estimator.best_params_[p]:g}' for p in edge)}): the best value may lie outside it"]


def write_job_results(job: Job, config: RunConfig, rows: Rows, estimator: SVMEmotionClassifier,
                      by_id: Dict[str, Utterance], features: Extraction, timings: Mapping[str, float],
                      sizes: Optional[Mapping[str, int]] = None, augmented: Optional[CopyExtraction] = None
                      ) -> List[Path]:
    """Predict the test rows and write one result per test corpus (``sizes``: utterances per norm group)."""
    split = job.split
    start = time.perf_counter()
    predictions, probabilities = labels_and_probabilities(estimator, rows.X["test"])
    timings = {**timings, "predict": time.perf_counter() - start}
    hyperparameters = hyperparameters_of(config, estimator)
    dev_predicted = [str(y) for y in estimator.predict(rows.X["dev"])]
    dev_uar = selection_score(estimator, rows, dev_predicted)
    # The DNN's guard, same thresholds: both dev UARs above are measured on the dev rows.
    warnings = degenerate_warnings(dev_uar, len(dev_predicted), dev_predicted) + grid_edge_warnings(estimator, config)
    warnings += small_group_warnings(rows.ids["train"] + rows.ids["dev"], by_id, sizes, config.norm, "training")
    warnings += spec_warnings(config.augment)
    for warning in warnings:
        tqdm.write(f"WARNING: {config.system} {config.condition} fold {split.fold}: {warning}; the result is marked")
    model_path = model_file(config, job)
    if config.save_models:
        save_job_model(model_path, config, job, rows, estimator, hyperparameters)
    used = replace(split, train=tuple(rows.ids["train"]), dev=tuple(rows.ids["dev"]), test=tuple(rows.ids["test"]))
    versions = package_versions("opensmile", "scikit-learn", "numpy")
    test, y_test = rows.ids["test"], rows.y["test"]
    written = []
    for corpus in job.test_corpora:
        keep = [k for k, i in enumerate(test) if by_id[i].corpus == corpus]
        ids = [test[k] for k in keep]
        test_warnings = small_group_warnings(ids, by_id, sizes, config.norm, "test")
        for warning in test_warnings:
            tqdm.write(f"WARNING: {config.system} {config.condition} fold {split.fold} {corpus}: {warning}; "
                       f"the result is marked")
        corpus_paths = [by_id[i].path for i in split.train + split.dev
                        + tuple(i for i in split.test if by_id[i].corpus == corpus)]
        result = make_result(
            system=config.system, family="svm", features=config.feature_set, head=None, split=used,
            test_corpus=corpus, seed=config.seed, hyperparameters=hyperparameters, dev_uar=dev_uar,
            ids=ids, labels=[y_test[k] for k in keep], predictions=[predictions[k] for k in keep],
            probabilities=[probabilities[k] for k in keep], speakers=[by_id[i].speaker for i in ids],
            excluded=features.excluded_among(corpus_paths),
            timings=timings, versions=versions, warnings=warnings + test_warnings,
            config={
                "data_dir": str(config.data_dir), "cache_dir": str(config.cache), "grid": config.grid,
                "manifest_sha256": manifest_digest(config.data_dir),
                "n_jobs": config.n_jobs, "corpora": list(pool_of(list(by_id.values()), config.corpora)),
                "search": config.search, "selection": config.select, "normalisation": config.norm,
                "transductive": is_transductive(config.norm),
                "model_file": str(model_path) if config.save_models else None,
                "extraction": {"files": features.extracted + features.cached, "extracted": features.extracted,
                               "cached": features.cached, "excluded": len(features.excluded)},
                "split_sha256": {"train": ids_digest(rows.ids["train"]), "dev": ids_digest(rows.ids["dev"]),
                                 "test": ids_digest(ids)},
                ("dev_uar_grid" if config.select == "dev" else "cv_uar_grid"): grid_table(estimator),
                **({"augment": augment_record(config, rows, augmented)} if config.augment else {}),
                **({"test_degrade": {**config.test_degrade.provenance(), "seed": config.seed}}
                   if config.test_degrade else {}),
            })
        written.append(write_result(result_file(config, corpus, split), result))
        tqdm.write(f"{config.system} {config.condition} fold {split.fold} train {'+'.join(split.train_corpora)}"
                   f" -> {corpus}: C=2^{hyperparameters['log2_C']} gamma=2^{hyperparameters['log2_gamma']}"
                   f" dev UAR {dev_uar:.3f}, test UAR {result['metrics']['uar']:.3f} (n={len(ids)})")
    return written


def degrade_test(rows: Rows, copies: Mapping, degraded: CopyExtraction, by_id: Dict[str, Utterance]) -> Rows:
    """The test rows from the degraded audio (ids whose degraded copy failed drop out, named on stderr)."""
    keep = [i for i in rows.ids["test"] if i in copies and copies[i].key in degraded.vectors]
    rows.ids["test"] = keep
    rows.X["test"] = (np.stack([degraded.vectors[copies[i].key] for i in keep]).astype(np.float32) if keep
                      else np.zeros((0, rows.X["train"].shape[1]), dtype=np.float32))
    rows.y["test"] = [by_id[i].label for i in keep]
    return rows


def augment_record(config: RunConfig, rows: Rows, augmented: Optional[CopyExtraction]) -> dict:
    """The result's provenance of the augmentation: SPEC, identity, copies, seed and what was used."""
    record = {**config.augment.provenance(), "copies": config.augment_copies, "seed": config.seed,
              "train_rows": len(rows.augmented_ids), "augmented_utterances": len(set(rows.augmented_ids))}
    if augmented is not None:
        record["extraction"] = {"extracted": augmented.extracted, "cached": augmented.cached,
                                "failed": len(augmented.failed), "seconds": augmented.seconds}
    return record


def run_job(job: Job, config: RunConfig, by_id: Dict[str, Utterance], features: Extraction,
            stats: Optional[Statistics] = None, sizes: Optional[Mapping[str, int]] = None,
            copies: Sequence = (), augmented: Optional[CopyExtraction] = None,
            degraded: Optional[CopyExtraction] = None, degraded_by_id: Optional[Mapping] = None) -> List[Path]:
    """Choose C/gamma, refit on train (plus its augmented copies), predict the test ids, write one result per
    test corpus."""
    rows = job_rows(job, config, by_id, features, stats)
    if augmented is not None:
        rows = add_augmented(rows, copies, augmented, by_id, config, stats)
    if degraded is not None:
        rows = degrade_test(rows, degraded_by_id or {}, degraded, by_id)
    estimator = fit_job(job, config, rows, by_id)
    if estimator.on_edge():
        tqdm.write(f"warning: {config.system} {config.condition} fold {job.split.fold}: chosen "
                   f"{' and '.join(estimator.on_edge())} on the edge of the {config.grid} grid "
                   f"(recorded as hyperparameters.on_grid_edge)", file=sys.stderr)
    timings = {"extraction": features.seconds, "search": estimator.search_seconds_, "fit": estimator.fit_seconds_}
    if augmented is not None:
        timings["augmented_extraction"] = augmented.seconds
    return write_job_results(job, config, rows, estimator, by_id, features, timings, sizes, augmented)


def pending_jobs(utts: Sequence[Utterance], config: RunConfig, report: RunReport) -> List[Job]:
    """The planned jobs minus those whose results exist and match (``skip_done``); stale ones are named."""
    todo = []
    for job in plan(utts, config):
        paths = [result_file(config, c, job.split) for c in job.test_corpora]
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
    return todo


def run(config: RunConfig, utts: Optional[Sequence[Utterance]] = None) -> RunReport:
    """Plan the jobs, skip finished ones (``skip_done``), extract features once, train and write results."""
    check_config(config)
    utts = list(load_manifest(config.data_dir) if utts is None else utts)
    by_id = {u.id: u for u in utts}
    for spec in (config.augment, config.test_degrade):
        if spec is not None:
            check_material(spec, utts)
    report = RunReport()
    todo = pending_jobs(utts, config, report)
    if not todo:
        return report
    check_search_memory(todo, config)
    report.extraction = extract(needed_paths(utts, todo, config.norm), config.feature_set, cache_dir=config.cache,
                                n_jobs=config.n_jobs)
    tqdm.write(describe(report.extraction))
    if is_transductive(config.norm):
        tqdm.write(f"note: {config.norm} normalisation uses the statistics of every utterance of each {config.norm}, "
                   f"test audio included (transductive; recorded in the results)")
    stats = norm_statistics(utts, report.extraction, config.norm)
    sizes = norm_sizes(utts, report.extraction, config.norm)
    copies: Dict = {}
    if config.augment is not None:
        for warning in spec_warnings(config.augment):
            tqdm.write(warning, file=sys.stderr)
        copies = split_copies(config.augment, config.augment_copies, config.seed, [j.split for j in todo], by_id,
                              list(report.extraction.vectors))
        report.augmented = extract_copies([c for cs in copies.values() for c in cs], config.feature_set,
                                          cache_dir=config.cache, n_jobs=config.n_jobs)
        tqdm.write(f"augmented {config.augment.canonical()} x{config.augment_copies}: "
                   f"{report.augmented.extracted} extracted, {report.augmented.cached} from cache, "
                   f"{len(report.augmented.failed)} failed, {report.augmented.seconds:.1f} s")
    degraded_by_id: Dict = {}
    if config.test_degrade is not None:
        test_ids = sorted({i for job in todo for i in job.split.test})
        degraded_by_id = degraded_copies(config.test_degrade, config.seed, test_ids, by_id,
                                         list(report.extraction.vectors))
        report.degraded = extract_copies(list(degraded_by_id.values()), config.feature_set, cache_dir=config.cache,
                                         n_jobs=config.n_jobs)
        tqdm.write(f"degraded test audio {config.test_degrade.canonical()}: {report.degraded.extracted} extracted, "
                   f"{report.degraded.cached} from cache, {len(report.degraded.failed)} failed")
    for job in tqdm(todo, desc=f"{config.system} {config.condition}", unit="model", disable=len(todo) < 2):
        report.written.extend(run_job(job, config, by_id, report.extraction, stats, sizes,
                                      copies.get(split_key(job.split), ()), report.augmented,
                                      report.degraded, degraded_by_id))
    return report


def check_search_memory(jobs: Sequence[Job], config: RunConfig) -> None:
    """Refuse before extracting anything when the exact kernel search of the largest job cannot fit in memory
    (it holds n_train x n_train matrices); the message names the alternative. Counts before exclusions."""
    if config.search != "kernel" or not jobs:
        return
    largest = max(jobs, key=lambda job: len(job.split.train) + len(job.split.dev))
    n_train, n_val = len(largest.split.train), len(largest.split.dev)
    if config.select == "group-cv":  # cv folds score on parts of train+dev: the largest training part
        n_total = n_train + n_val
        n_val = n_total // config.cv_folds
        n_train = n_total - n_val
    plan_memory(n_train, n_val, FEATURE_SETS[config.feature_set], 1, None)


def parse_folds(text: str) -> Tuple[int, ...]:
    """``"all"`` or one fold number."""
    return FOLDS if text == ALL else (int(text),)
