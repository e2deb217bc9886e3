"""The steps of the demo: the whole study on synthetic corpora, end to end, on a laptop CPU in minutes.

synthesise -> prepare -> eGeMAPS-SVM and a DNN head (tiny random HuBERT, read once into a
feature cache) on five folds, matched and extended -> leaderboard, plots, bundle, validate.
Every step resumes: re-running the command skips what is already done. ``commands/demo.py``
runs the steps in order and prints what they return.
"""
from dataclasses import dataclass
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from s3prl_crosscorpus.core.progress import Progress as tqdm  # plain lines when not a terminal

from ..core.labels import CORPORA


def dnn_system(head: str) -> str:
    """Leaderboard row of the demo's DNN: named for what it is, not for the paper's HuBERT."""
    from ..core.names import dnn_system_name

    return dnn_system_name("TinyRandomHuBERT", head)


class DemoPoolError(ValueError):
    """The --out folder holds the results of another corpus pool (its message names the folder and both pools)."""


def claim_pool(out: Path, registry: Sequence[str]) -> None:
    """Record ``out``'s registry corpora (``out/.demo-registry``); DemoPoolError when its results are another
    pool's (one leaderboard, one pool: results of two pools mix fold files). Results without the record: none."""
    record, results = out / ".demo-registry", out / "results"
    if results.exists():
        before = record.read_text().split() if record.exists() else []
        if sorted(before) != sorted(registry):
            raise DemoPoolError(f"{out} holds the results of the demo with registry corpora {before or 'none'}, "
                                f"not {list(registry) or 'none'}; use another --out, or remove {results}")
    out.mkdir(parents=True, exist_ok=True)
    record.write_text(" ".join(registry))


def ensure_corpora(out: Path, per_class: int, seed: int,
                   registry: Sequence[str] = ()) -> Tuple[Dict[str, Path], bool]:
    """(corpus roots, reused): synthesise the corpora once; a finished tree (stamp file) is reused.

    ``registry``: registry corpora also written, each in its real layout (read back by its real reader).
    """
    from .registry_synth import synthesize_registry
    from .synth import synthesize

    root, stamp = out / "corpora", out / "corpora" / ".complete"
    roots = {c: root / c for c in (*CORPORA, *registry)}
    key = f"{per_class} {seed}" + (f" {','.join(registry)}" if registry else "")
    if stamp.exists() and stamp.read_text() == key:
        return roots, True
    stamp.unlink(missing_ok=True)  # an interrupted re-synthesis must not pass for the old, finished tree
    synthesize(root, per_class, seed)
    synthesize_registry(root, registry, per_class, seed)
    stamp.write_text(key)
    return roots, False


def matched_corpora(data: Path, pool: Sequence[str]) -> Tuple[str, ...]:
    """The pool corpora with a matched cell: all but the test-only ones prepare recorded (too few speakers)."""
    from ..core.folds import trainable
    from ..core.manifest import manifest_test_only

    return trainable(pool, manifest_test_only(data))


def experiments(folds: Sequence[int], matched: Sequence[str] = CORPORA) -> List[Tuple[str, Optional[str], int]]:
    """(condition, test corpus or None = every corpus, fold) of the demo grid; ``matched``: corpora with a
    matched cell."""
    plan = [("matched", corpus, fold) for corpus in matched for fold in folds]
    return plan + [("extended", None, fold) for fold in folds]


def run_svm(data: Path, results: Path, folds: Sequence[int], grid: str, matched: Sequence[str] = CORPORA) -> None:
    """Matched runs of the ``matched`` corpora, then one extended model per fold tested on every pool corpus."""
    from baseline_svm.run import RunConfig, run

    for condition, test_corpus in [("matched", c) for c in matched] + [("extended", "all")]:
        run(RunConfig(data_dir=data, out=results, feature_set="eGeMAPSv02", condition=condition,
                      test_corpus=test_corpus, folds=tuple(folds), grid=grid, skip_done=True))


def dnn_done(results: Path, system: str, condition: str, test_corpus: Optional[str], fold: int,
             pool: Sequence[str] = CORPORA) -> bool:
    from ..results.schema import result_path

    corpora = [test_corpus] if test_corpus else list(pool)
    return all(result_path(results, system, condition, c, fold).exists() for c in corpora)


def run_dnn(data: Path, out: Path, results: Path, folds: Sequence[int], head: str, steps: int, seed: int,
            pool: Sequence[str] = CORPORA, matched: Sequence[str] = CORPORA) -> None:
    """Tiny random HuBERT -> one extraction pass -> s3prl's runner trains each fold from the cache.

    ``pool``: the manifest's corpora (each extended run tests them all); ``matched``: those with a matched cell.
    """
    from ..cache.extract import extract
    from ..commands.extract import log_to_stderr
    from ..commands.main import main as cli
    from ..core.names import expert_overrides, s3prl_overrides
    from ..superb.runner import config_path
    from .random_hubert import write_random_hubert

    ckpt = out / "upstream" / "tiny_random_hubert.pt"
    if not ckpt.exists():
        write_random_hubert(ckpt, size="tiny", seed=seed)
    cache = out / "cache" / "tiny_random_hubert"
    with log_to_stderr():
        extract(data, cache, "hubert_local", str(ckpt))
    system = dnn_system(head)
    grid = experiments(folds, matched)
    todo = [e for e in grid if not dnn_done(results, system, *e, pool=pool)]
    tqdm.write(f"{len(grid) - len(todo)} fold runs already done; s3prl's log of each run: "
          f"{out / 'exp'}/<condition>-<corpus>/fold<k>/train.log")
    for condition, test_corpus, fold in tqdm(todo, desc=f"{system} runs", unit="run"):
        expdir = out / "exp" / f"{condition}-{test_corpus or 'all'}" / f"fold{fold}"
        overrides = s3prl_overrides({
            **expert_overrides(dict(data_dir=str(data), condition=condition, test_corpus=test_corpus, fold=fold),
                               results_dir=str(results), system_name=system, modelrc={"head": head}),
            "config.runner.total_steps": steps, "config.runner.eval_step": max(steps // 4, 1),
            "config.runner.save_step": steps, "config.runner.log_step": max(steps // 4, 1),
        })
        expdir.mkdir(parents=True, exist_ok=True)
        with open(expdir / "train.log", "w") as log, redirect_stdout(log), redirect_stderr(log):
            code = cli(["train-cached", "--cache", str(cache), "--no-audio-check", "-c", str(config_path("smoke")),
                        "-p", str(expdir), "-o", overrides, "--seed", str(seed)])
        if code:
            raise SystemExit(f"demo: DNN training failed for {condition} {test_corpus or 'all'} fold {fold}; "
                             f"see {expdir / 'train.log'}")


@dataclass
class DemoReport:
    """What the last demo step produced: the leaderboard, the plots and the bundle's check."""

    table_markdown: str
    plots: List[Path]
    bundle: Optional[Path]  # None when skipped: a submission needs every fold (``skipped`` says why)
    check: "object"  # submission.validate's report: .ok, .problems, .describe(); None when skipped
    skipped: Optional[str] = None
    html: Optional[Path] = None  # the study on one page (report.html)


def report(results: Path, out: Path, data: Path) -> DemoReport:
    """Leaderboard, plots under ``out/plots``, ``out/report.html``, bundle ``out/bundle.zip`` and its validation."""
    from ..report.context import build_context
    from ..report.render import render_html, write_html
    from ..results.leaderboard import load_cells, render_markdown, summary
    from ..results.plots import plot_all
    from ..results.speakers import manifest_speakers
    from ..submission.bundle import build_bundle
    from ..submission.validate import validate_bundle

    cells, sha = load_cells(results)
    table = summary(cells, sha)
    plots = plot_all(cells, table, out / "plots")
    incomplete = [c for c in cells if not c.complete]
    if incomplete:  # e.g. --folds 1: a bundle needs all five folds of every cell
        done = sorted({k for c in incomplete for k in c.fold_metrics})
        return DemoReport(render_markdown(table), list(plots), None, None,
                          f"bundle skipped: a submission needs folds 1-5 of every cell, these results have fold(s) "
                          f"{', '.join(map(str, done))}")
    bundle = out / "bundle.zip"
    # The DNN's result files record no speaker per prediction, and only the paper's corpora name it in their ids:
    # the manifest names every test utterance's speaker for the bundle's statistics (as `submit --data`).
    build_bundle(results, bundle, plots=True, speakers=manifest_speakers(data))
    html = write_html(out / "report.html", render_html(build_context(results, data)))
    return DemoReport(render_markdown(table), list(plots), bundle, validate_bundle(bundle, data_dir=data),
                      html=html)
