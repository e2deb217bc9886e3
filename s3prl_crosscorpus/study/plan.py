"""The jobs of the study's stages, each skipped when its outputs exist (a re-run recomputes nothing).

An output older than the manifest (``prepare`` made it again from other input files) was made from
another manifest: it is not done, and the plan lists it in ``Plan.stale`` (results, a DNN run's
experiment folder that ``-a`` would resume, a cache of another manifest) for the caller to remove.

Stage 1: one SVM job per (feature set, condition) [or per fold when only some folds are asked];
stage 2: one extraction job per cache shard share; stage 3: one DNN run per head x condition x
test corpus x fold x seed, from the cache (or with the upstream computed live).
"""
import shlex
import sys
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from types import MappingProxyType
from typing import List, Mapping, Optional, Sequence, Tuple

from ..augment.spec import check_degrade, parse_spec
from ..core.folds import FOLDS, TRANSFER, condition_label, condition_of, trainable, transfer_rows
from ..core.labels import CORPORA
from ..core.manifest import load_manifest, manifest_path, manifest_test_only
from ..core.names import (DOWNSTREAM, VARIANTS, add_tags, augment_tags, dnn_system_name, expert_overrides,
                          layers_tag, s3prl_overrides, safe_system_name, svm_system_name, variant_tags)
from ..results.schema import result_path
from .launch import Job


def package_command(*args: str) -> str:
    """A shell line running ``s3prl-crosscorpus ARGS`` with this Python (the same installation)."""
    return shlex.join([sys.executable, "-m", "s3prl_crosscorpus", *map(str, args)])


def manifest_corpora(data_dir: Path) -> Tuple[str, ...]:
    """The corpora present in the manifest, in table order: the default training pool."""
    present = {u.corpus for u in load_manifest(Path(data_dir))}
    return tuple(c for c in CORPORA if c in present)


def tested_corpora(condition: str, pool: Sequence[str], matched: Optional[Sequence[str]] = None,
                   test_only: Mapping[str, str] = MappingProxyType({})) -> List[str]:
    """Test corpora of a condition: every pool corpus (``matched`` may restrict matched runs); a test-only
    corpus has no matched model."""
    if condition in ("extended", "loco") and len(trainable(pool, test_only)) < 2:
        return []  # needs a second corpus to train on
    if condition == "matched":
        return [c for c in trainable(pool, test_only) if matched is None or c in matched]
    return list(pool)


def all_exist(paths: Sequence[Path]) -> bool:
    return all(Path(p).exists() for p in paths)


def manifest_time(data: Path) -> float:
    """When the manifest was written (0 when there is none): outputs older than this are stale."""
    try:
        return manifest_path(Path(data)).stat().st_mtime
    except OSError:
        return 0.0


def older_than(paths: Sequence[Path], since: float) -> List[Path]:
    """The existing ``paths`` written before ``since`` (a folder: when any file in it was)."""
    stale = []
    for path in map(Path, paths):
        files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()] if path.is_dir() else []
        if any(f.stat().st_mtime < since for f in files):
            stale.append(path)
    return stale


def renamed_systems(results: Path) -> List[Tuple[Path, Path]]:
    """(old, new) for each system folder of ``results`` (and of its ``seed<S>/`` folders) that an older version
    named in a way that is not shell-safe (``HuBERT-Linear[dann]``): the study's jobs look for the new name."""
    results = Path(results)
    roots = [results] + sorted(p for p in results.glob("seed*") if p.is_dir()) if results.is_dir() else []
    return [(folder, folder.with_name(safe_system_name(folder.name))) for root in roots
            for folder in sorted(root.iterdir()) if folder.is_dir() and safe_system_name(folder.name) != folder.name]


@dataclass
class Plan:
    """A stage's jobs still to run, how many were found done, and outputs made from another manifest."""

    jobs: List[Job]
    done: int = 0
    stale: List[Path] = field(default_factory=list)

    def add(self, job: Job, finished: bool, stale: Sequence[Path] = ()) -> None:
        if finished and not stale:
            self.done += 1
        else:
            self.jobs.append(job)
            self.stale.extend(stale)


def train_rows(condition: str, pool: Sequence[str], train_pools: Sequence[Sequence[str]] = (),
               test_only: Mapping[str, str] = MappingProxyType({})) -> List[Optional[Tuple[str, ...]]]:
    """The training pools of a condition's models: the transfer matrix rows, else one None (the condition's)."""
    return list(transfer_rows(pool, train_pools, test_only)) if condition == TRANSFER else [None]


def expected_results(results: Path, system: str, condition: str, row: Optional[Sequence[str]],
                     corpora: Sequence[str], folds: Sequence[int], pool: Sequence[str]) -> List[Path]:
    """The result files of a condition's models (a transfer row writes each test corpus under its cell's name;
    ``pool``: the trainable pool, which names the cells)."""
    if row is None:
        return [result_path(results, system, condition, c, k) for c in corpora for k in folds]
    return [result_path(results, system, condition_of(row, c, pool), c, k, row) for c in corpora for k in folds]


def svm_plan(data: Path, results: Path, feature_sets: Sequence[str], conditions: Sequence[str],
             folds: Sequence[int], grid: str, pool: Sequence[str], n_jobs: int = 1,
             extra: Sequence[str] = (), norms: Sequence[str] = ("global",),
             train_pools: Sequence[Sequence[str]] = (), augment: Optional[str] = None,
             augment_copies: int = 1, degrade: Sequence[str] = ()) -> Plan:
    """Stage 1: the SVM cells (each writes one result per test corpus and fold); each normalisation in
    ``norms`` beyond ``global`` is an extra row (``eGeMAPS-SVM_corpus-norm``), and an ``augment`` SPEC adds
    the augmented rows (``eGeMAPS-SVM_aug-speed+noise-x2``: matched+aug, extended+aug); each ``degrade`` SPEC
    a row of the plain system tested on degraded audio (``eGeMAPS-SVM_test-noise-snr10``); transfer: one job
    per matrix row (``train_pools``, default each corpus and the whole pool)."""
    plan = Plan([])
    since = manifest_time(data)
    test_only = manifest_test_only(data)
    whole = sorted(folds) == list(FOLDS)
    spec = parse_spec(augment)
    variants = [((), [])] + ([(augment_tags(spec.short(), augment_copies),
                                ["--augment", augment, "--augment-copies", str(augment_copies)])] if spec else [])
    variants += [(augment_tags(degrade=check_degrade(parse_spec(d)).short()), ["--test-degrade", d]) for d in degrade]
    for condition, feature_set, norm, (tags, aug) in product(conditions, feature_sets, norms, variants):
        if "--test-degrade" in aug and norm != "global":
            continue  # degraded tests take the paper's global normalisation only
        system = svm_system_name(feature_set, norm, augment=tags)
        corpora = tested_corpora(condition, pool, test_only=test_only)
        if not corpora:
            continue
        for row, fold in product(train_rows(condition, pool, train_pools, test_only), ["all"] if whole else folds):
            fold_list = FOLDS if fold == "all" else [fold]
            base = ["svm", "run", "--data", data, "--out", results, "--feature-set", feature_set,
                    "--condition", condition, "--test-corpus", "all", "--grid", grid, "--n-jobs", str(n_jobs),
                    "--corpora", ",".join(pool), "--norm", norm, *aug, *extra]
            base += ["--train", ",".join(row)] if row else []
            name = condition_label(condition, row or ())
            expected = expected_results(results, system, condition, row, corpora, fold_list,
                                        trainable(pool, test_only))
            plan.add(Job(f"{system}.{name}.fold{fold}", package_command(*base, "--fold", fold),
                         tuple(map(str, expected))),
                     all_exist(expected), older_than(expected, since))
    return plan


def extract_plan(data: Path, cache: Path, upstream: str, ckpt: Optional[str], shards: int, device: str,
                 augment: Optional[str] = None, augment_copies: int = 1) -> Plan:
    """Stage 2: the upstream over the manifest once, in ``shards`` disjoint shares (nothing when complete);
    with ``augment``, then its K augmented copies (``extract --augment``), each complete one skipped."""
    from ..cache.extract import shard_looks_done
    from ..cache.format import ShardPlan

    from ..cache.format import HEADER, ids_sha256, read_header

    ids = [u.id for u in load_manifest(Path(data))]
    shard_plan = ShardPlan.from_ids(ids)
    plan = Plan([])
    recorded = read_header(Path(cache)).get("manifest_ids_sha256") if (Path(cache) / HEADER).exists() else None
    if recorded is not None and recorded != ids_sha256(i for share in shard_plan.shards for i in share):
        plan.stale.append(Path(cache))  # extracted from another manifest: made again
        complete = False
    else:
        complete = all(shard_looks_done(Path(cache), k) for k in range(len(shard_plan)))
    shards = max(1, shards)
    for rank in range(shards):
        args = ["extract", "-u", upstream, "--data", data, "--out", cache, "--device", device,
                "--rank", str(rank), "--world-size", str(shards)]
        if ckpt:
            args += ["-k", ckpt]
        plan.add(Job(f"extract.{rank}of{shards}", package_command(*args)), complete)
    spec = parse_spec(augment)
    if spec is not None:
        from ..cache.augmented import check_cacheable, copy_roots

        roots = copy_roots(Path(cache), check_cacheable(spec), 0, augment_copies)
        done = all((r / HEADER).exists() and all(shard_looks_done(r, k) for k in range(len(shard_plan)))
                   for r in roots)
        for rank in range(shards):
            args = ["extract", "-u", upstream, "--data", data, "--out", cache, "--device", device, "--rank",
                    str(rank), "--world-size", str(shards), "--augment", augment, "--augment-copies",
                    str(augment_copies)] + (["-k", ckpt] if ckpt else [])
            plan.add(Job(f"extract-aug.{rank}of{shards}", package_command(*args)), done)
    return plan


@dataclass(frozen=True)
class DnnSettings:
    """What every DNN run of stage 3 shares."""

    data: Path
    results: Path
    exp: Path
    upstream: str
    config: Path
    pool: Tuple[str, ...]
    ckpt: Optional[str] = None
    cache: Optional[Path] = None  # None: the upstream runs live (s3prl's run-downstream)
    upstream_name: Optional[str] = None  # name in system names (default from the upstream)
    steps: Optional[int] = None  # None: the config's runner.total_steps
    device: str = "cpu"
    augment: Optional[str] = None  # SPEC of the extra augmented rows (datarc.augment, seed 0 as extract's)
    augment_copies: int = 1
    degrade: Tuple[str, ...] = ()  # test-degradation SPECs: each trained run is also evaluated on degraded audio
    layers: Optional[Tuple[int, ...]] = None  # modelrc.layers (None: every hidden state, the paper's)


def dnn_system(settings: DnnSettings, head: str, variant: str = "plain", augmented: bool = False) -> str:
    """Table row of a run, domain variants and a layer selection tagged (``HuBERT-Linear_corpus-norm_dann_L4-8``),
    augmented rows too (``HuBERT-Linear_aug-speed+noise-x2``), as the expert names the results it writes."""
    norm, dann = VARIANTS[variant]
    spec = parse_spec(settings.augment) if augmented else None
    tags = (variant_tags(norm, dann) + layers_tag(settings.layers)
            + (augment_tags(spec.short(), settings.augment_copies) if spec else ()))
    return dnn_system_name(settings.upstream_name or settings.upstream, head, tags=tags,
                           ckpt=None if settings.upstream_name else settings.ckpt)


def seed_results(settings: DnnSettings, seed: int, seeds: Sequence[int]) -> Path:
    """Result folder of one seed: the first seed's results at the top, every other in ``seed<S>/``, so that
    the leaderboard and the statistics see one cell with several seeds (mean and spread across seeds)."""
    return settings.results if seed == seeds[0] else settings.results / f"seed{seed}"


def variant_applies(variant: str, condition: str, live: bool) -> bool:
    """DANN needs two training corpora (extended, loco); corpus/speaker normalisation needs the cache."""
    norm, dann = VARIANTS[variant]
    return not (dann and condition == "matched") and not (norm != "global" and live)


def dnn_overrides(settings: DnnSettings, head: str, condition: str, test_corpus: Optional[str], fold: int,
                  system: str, results: Optional[Path] = None, variant: str = "plain",
                  train: Optional[Sequence[str]] = None, augmented: bool = False) -> str:
    """The run's s3prl ``-o`` string (quoted safely by the shared builder); ``train``: a transfer run's corpora."""
    norm, dann = VARIANTS[variant]
    datarc = dict(data_dir=str(settings.data), condition=condition, test_corpus=test_corpus,
                  corpora=list(settings.pool), fold=fold)
    if train:
        datarc["train_corpora"] = list(train)
    if augmented:
        datarc.update({"augment.spec": settings.augment, "augment.copies": settings.augment_copies})
    modelrc: dict = {"head": head}
    if norm != "global":
        datarc["normalisation"] = norm
    if dann:
        modelrc["dann.enabled"] = True
    if settings.layers:
        modelrc["layers"] = list(settings.layers)
    keys = expert_overrides(datarc, results_dir=str(results or settings.results), system_name=system, modelrc=modelrc)
    if settings.steps:
        quarter = max(settings.steps // 4, 1)
        keys.update({"config.runner.total_steps": settings.steps, "config.runner.eval_step": quarter,
                     "config.runner.log_step": quarter, "config.runner.save_step": settings.steps})
    return s3prl_overrides(keys)


def dnn_command(settings: DnnSettings, expdir: Path, seed: int, overrides: str) -> str:
    """train (+ evaluate dev-best on test) of one run; ``-a`` resumes an interrupted run in ``expdir``."""
    common = ["-c", settings.config, "-p", expdir, "-a", "--device", settings.device, "--seed", str(seed),
              "-o", overrides]
    if settings.cache is not None:
        return package_command("train-cached", "--cache", settings.cache, *common)
    upstream = ["-u", settings.upstream] + (["-k", settings.ckpt] if settings.ckpt else [])
    train = package_command("run-downstream", "-m", "train", *upstream, "-d", DOWNSTREAM, *common)
    test = package_command("run-downstream", "-m", "evaluate", "-e", Path(expdir) / "dev-best.ckpt",
                           "-t", "test", "--device", settings.device)
    return f"{train} && {test}"


def degrade_command(settings: DnnSettings, expdir: Path, spec: str) -> str:
    """Evaluate a run's dev-best checkpoint on degraded test audio (live upstream; its own ``_test-...`` row)."""
    overrides = s3prl_overrides(expert_overrides({"test_degrade": spec}))
    return package_command("run-downstream", "-m", "evaluate", "-e", Path(expdir) / "dev-best.ckpt", "-t", "test",
                           "--device", settings.device, "-o", overrides)


def degraded_systems(system: str, degrade: Sequence[str]) -> List[Tuple[str, str]]:
    """(SPEC, system row) of each degradation of ``system``."""
    return [(d, add_tags(system, augment_tags(degrade=check_degrade(parse_spec(d)).short()))) for d in degrade]


def dnn_plan(settings: DnnSettings, heads: Sequence[str], conditions: Sequence[str], folds: Sequence[int],
             seeds: Sequence[int], matched: Optional[Sequence[str]] = None,
             variants: Sequence[str] = ("plain",), train_pools: Sequence[Sequence[str]] = ()) -> Plan:
    """Stage 3: one run per head x variant x condition x test corpus x fold x seed (extended: one run for
    every corpus). Variants a condition cannot have (DANN in matched; normalisation on the live path) are
    left out of that condition."""
    plan = Plan([])
    since = manifest_time(settings.data)
    test_only = manifest_test_only(settings.data)
    names_pool = trainable(settings.pool, test_only)  # names the transfer cells
    tag = settings.upstream_name or settings.upstream
    spec = parse_spec(settings.augment)
    if spec is not None and settings.cache is not None:
        from ..cache.augmented import check_cacheable

        check_cacheable(spec)
    for head, variant, condition, augmented in product(heads, variants, conditions, [False] + [True] * bool(spec)):
        if not variant_applies(variant, condition, settings.cache is None):
            continue
        system = dnn_system(settings, head, variant, augmented)
        folder = f"{tag}-{head}" + ("" if variant == "plain" else f"-{variant}") + "".join(
            f"-{t}" for t in layers_tag(settings.layers)) + ("-aug" if augmented else "")  # another experiment
        corpora = tested_corpora(condition, settings.pool, matched, test_only)
        runs = [(None, corpora, row) for row in train_rows(condition, settings.pool, train_pools, test_only)] \
            if condition in ("extended", TRANSFER) else [(c, [c], None) for c in corpora]
        runs = [r for r in runs if r[1] and not (VARIANTS[variant][1] and r[2] is not None and len(r[2]) < 2)]
        for (test_corpus, tested, row), fold, seed in product(runs, folds, seeds):
            results = seed_results(settings, seed, seeds)
            label = f"{condition_label(condition, row or ())}-{test_corpus or 'all'}"
            expdir = settings.exp / folder / label / f"fold{fold}" / f"seed{seed}"
            expected = expected_results(results, system, condition, row, tested, [fold], names_pool)
            overrides = dnn_overrides(settings, head, condition, test_corpus, fold, system, results, variant, row,
                                      augmented=augmented)
            name = f"{folder}.{label}.fold{fold}.seed{seed}"
            stale = older_than(expected, since)
            if stale or not all_exist(expected):
                stale += older_than([expdir], since)  # -a would resume a run of another manifest
            command = dnn_command(settings, expdir, seed, overrides)
            degraded = [(d, expected_results(results, degraded_system, condition, row, tested, [fold], names_pool))
                        for d, degraded_system in degraded_systems(system, settings.degrade)]
            todo = [(d, paths) for d, paths in degraded if not all_exist(paths) or older_than(paths, since)]
            if todo and all_exist(expected) and not stale:  # trained: only the degraded evaluations are left
                plan.add(Job(name + ".degrade", " && ".join(degrade_command(settings, expdir, d) for d, _ in todo),
                             tuple(str(p) for _, paths in todo for p in paths)), False)
                continue
            command = " && ".join([command] + [degrade_command(settings, expdir, d) for d, _ in degraded])
            outputs = tuple(map(str, expected)) + tuple(str(p) for _, paths in degraded for p in paths)
            plan.add(Job(name, command, outputs), all_exist(expected) and not todo, stale)
    return plan
