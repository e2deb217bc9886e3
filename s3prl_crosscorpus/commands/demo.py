"""``s3prl-crosscorpus demo``: the whole study on synthetic corpora, end to end, on a laptop CPU.

The experiment reads top to bottom: synthesise -> prepare -> eGeMAPS-SVM -> a DNN head on a tiny
random HuBERT through the feature cache -> leaderboard, plots, bundle, validate. Re-running resumes.
"""
import argparse
import sys
import time
from pathlib import Path
from typing import List, Optional

from ..core.folds import FOLDS
from ..core.io_utils import os_error_text
from ..core.names import HEADS

SYNTHETIC_NOTE = "(synthetic corpora: the paper's numbers show the layout; differences to them mean nothing here)"


def step(title: str) -> None:
    print(f"\n=== {title}", flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s3prl-crosscorpus demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo_out"), help="working folder (default demo_out)")
    parser.add_argument("--utterances-per-class", type=int, default=2, help="per speaker and class (1..4)")
    parser.add_argument("--folds", type=int, nargs="+", default=list(FOLDS), choices=FOLDS,
                        help="folds to run (default 1 2 3 4 5; the bundle needs all five)")
    parser.add_argument("--head", default="linear", choices=HEADS, help="DNN head (default linear)")
    parser.add_argument("--steps", type=int, default=150, help="DNN training steps per fold")
    parser.add_argument("--svm-grid", default="coarse", help="SVM C/gamma grid (coarse or libsvm)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic corpora and of the DNN runs (default 0)")
    parser.add_argument("--skip-dnn", action="store_true", help="run the SVM only")
    parser.add_argument("--registry", default="", metavar="NAME[,NAME...]|all",
                        help="also synthesise these registry corpora in their real layouts (e.g. cremad,tess) and "
                             "run both systems on the wider pool; a corpus with fewer than 5 speakers is tested only")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.registry = registry_names(args.registry)
    except argparse.ArgumentTypeError as err:
        print(f"error: --registry: {err}", file=sys.stderr)
        return 2
    from ..demo.run import DemoPoolError  # light: the steps import their libraries when they run

    try:
        return run(args)
    except DemoPoolError as err:  # --out holds another pool's results (checked before any step runs)
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # an unwritable or full --out folder; the message names the file
        print(f"error: demo stopped: {os_error_text(err)}", file=sys.stderr)
        return 1


def registry_names(text: str) -> List[str]:
    """``--registry``'s registry corpora (none for ""); argparse.ArgumentTypeError naming the unknown one and the
    known ones."""
    from .synth import parse_registry  # here: --help stays fast

    return parse_registry(text) if text.strip() else []


def listed(names: List[str]) -> str:
    """"A, B and C"."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def run(args: argparse.Namespace) -> int:
    """The five demo steps; 0 when the bundle validates."""
    from ..core.manifest import prepare, summary  # here: --help stays fast
    from ..core.labels import CORPORA, display_name
    from ..demo.run import claim_pool, dnn_system, ensure_corpora, matched_corpora, report, run_dnn, run_svm
    from ..core.manifest import manifest_test_only

    start, out = time.perf_counter(), args.out.resolve()
    data, results = out / "data", out / "results"
    pool = [*CORPORA, *args.registry]
    claim_pool(out, args.registry)  # before any step: another pool's results there are refused

    step(f"1/5 synthesising {listed([display_name(c) for c in pool])} in their real layouts")
    roots, reused = ensure_corpora(out, args.utterances_per_class, args.seed, args.registry)
    if reused:
        print(f"reusing {out / 'corpora'}")
    step("2/5 preparing the manifest")
    print(summary(prepare(roots, data)))
    matched = matched_corpora(data, pool)
    step("3/5 eGeMAPS-SVM, matched and extended, folds " + " ".join(map(str, args.folds)))
    for corpus, why in manifest_test_only(data).items():
        print(f"note: {display_name(corpus)} is test-only ({why}): no matched cell, tested whole in every fold")
    run_svm(data, results, args.folds, args.svm_grid, matched)
    if not args.skip_dnn:
        step(f"4/5 {dnn_system(args.head)}: tiny random HuBERT, frozen, cached once; {args.steps} steps per fold")
        run_dnn(data, out, results, args.folds, args.head, args.steps, args.seed, pool, matched)
    step("5/5 leaderboard (UAR %, mean ± std over folds [paper, difference]), plots, bundle")
    done = report(results, out, data)
    print(done.table_markdown)
    print(SYNTHETIC_NOTE)
    if done.skipped:
        print(f"\nplots: {out / 'plots'} ({len(done.plots)} PNG files)")
        print(f"note: {done.skipped}")
    else:
        for problem in done.check.problems:
            print(f"problem: {problem}")
        print(f"\nreport: {done.html} (the study on one page; opens offline)")
        print(f"plots: {out / 'plots'} ({len(done.plots)} PNG files)\nbundle: {done.bundle} -> validate: "
              f"{done.check.describe()}")
    print(f"demo finished in {time.perf_counter() - start:.0f} s; results in {results}")
    return 0 if done.skipped or done.check.ok else 1
