"""``s3prl-crosscorpus study STAGE``: plan a stage of ``recipes/run.sh`` (skipping finished work) and run its jobs.

Stages: ``svm`` (openSMILE + SVM cells), ``extract`` (the upstream once into the feature cache, in
shards), ``dnn`` (one run per head x condition x test corpus x fold x seed). The job file is kept
as ``LOGS/jobs.tsv``; ``--dry-run`` writes it without running anything.
"""
import argparse
import shutil
import sys
from pathlib import Path
from typing import List, Optional, Tuple

from ..augment.spec import SpecError, check_copies
from ..core.folds import CONDITIONS, FOLDS, FoldError
from ..core.labels import corpus_name_problem
from ..core.manifest import ManifestError
from ..core.names import HEADS, SVM_SYSTEMS, VARIANTS, parse_layers
from ..core.normalise import NORMS
from ..study.launch import write_jobs
from .launch import add_launcher_options, check_nj, run_launch

STAGES = ("svm", "extract", "dnn")


def words(text: str) -> List[str]:
    """``"a b,c"`` -> ["a", "b", "c"] (settings are space- or comma-separated)."""
    return [w for w in text.replace(",", " ").split() if w]


def checked(values: List[str], allowed, what: str) -> List[str]:
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown)}; choose from {', '.join(allowed)}")
    return values


def corpus_names(text: str) -> List[str]:
    """Corpus names (any corpus a manifest may hold; the manifest check comes when the stage is planned)."""
    names = words(text)
    for name in names:
        problem = corpus_name_problem(name)
        if problem:
            raise argparse.ArgumentTypeError(problem)
    return names


def train_pools(text: str) -> List[List[str]]:
    """``"emodb ravdess emodb+ravdess"`` -> [["emodb"], ["ravdess"], ["emodb", "ravdess"]]."""
    return [corpus_names(" ".join(c for c in row.split("+") if c)) for row in words(text)]


def layers_option(text: str) -> Optional[Tuple[int, ...]]:
    """``--layers`` as hidden-state indices (None: every layer); a malformed value is an argparse error."""
    try:
        return parse_layers(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err).replace("modelrc.layers=", "--layers ")) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s3prl-crosscorpus study", description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=STAGES, help="svm: the SVM cells; extract: the upstream into the cache; "
                                                      "dnn: the DNN runs")
    parser.add_argument("--data", type=Path, required=True, help="DATA_DIR of `prepare`")
    parser.add_argument("--results", type=Path, help="result folder (svm, dnn)")
    parser.add_argument("--corpora", type=corpus_names,
                        help="training pool (default: the corpora in the manifest)")
    parser.add_argument("--folds", type=lambda t: [int(k) for k in checked(words(t), list(map(str, FOLDS)), "fold")],
                        default=list(FOLDS), help="folds (default 1 2 3 4 5)")
    parser.add_argument("--conditions", type=lambda t: checked(words(t), CONDITIONS, "condition"),
                        default=["matched", "extended"], help="conditions of both systems (default matched extended)")
    parser.add_argument("--train-pools", type=train_pools, default=[],
                        help="condition transfer: the matrix rows, each a corpus or corpora joined by '+' "
                             "(e.g. 'emodb ravdess emodb+ravdess'; default each pool corpus and the whole pool)")
    parser.add_argument("--feature-sets", type=lambda t: checked(words(t), list(SVM_SYSTEMS), "feature set"),
                        default=list(SVM_SYSTEMS), help="SVM openSMILE feature sets (default: all three)")
    parser.add_argument("--grid", default="libsvm", help="SVM grid (libsvm or coarse)")
    parser.add_argument("--upstream", default="hubert", help="s3prl upstream (-u) of the extract and dnn stages")
    parser.add_argument("--ckpt", default=None, help="upstream checkpoint (-k)")
    parser.add_argument("--upstream-name", default=None, help="upstream's name in system names")
    parser.add_argument("--cache", type=Path, help="feature cache folder (extract; dnn: empty = live upstream)")
    parser.add_argument("--exp", type=Path, default=Path("exp"), help="experiment folders (dnn)")
    parser.add_argument("--heads", type=lambda t: checked(words(t), HEADS, "head"), default=list(HEADS),
                        help=f"DNN heads (default: {' '.join(HEADS)})")
    parser.add_argument("--matched-corpora", type=corpus_names,
                        default=["iemocap"], help="test corpora of matched DNN runs (default iemocap, Table 4)")
    parser.add_argument("--seeds", type=lambda t: [int(s) for s in words(t)], default=[1337],
                        help="DNN seeds; results of seeds after the first go to RESULTS/seed<S>/ (one cell, k seeds)")
    parser.add_argument("--svm-norms", type=lambda t: checked(words(t), NORMS, "normalisation"), default=["global"],
                        help="SVM rows per normalisation (global = the paper's; corpus/speaker are transductive)")
    parser.add_argument("--variants", type=lambda t: checked(words(t), list(VARIANTS), "variant"), default=["plain"],
                        help=f"DNN rows per domain variant ({', '.join(VARIANTS)}); DANN runs in extended/loco "
                             "only, normalisation from the cache only")
    parser.add_argument("--augment", default=None, metavar="SPEC",
                        help="also run every row with augmented training copies (svm: baseline-svm run --augment; "
                             "extract: the copies into the cache; dnn: datarc.augment)")
    parser.add_argument("--augment-copies", type=int, default=1, metavar="K", help="augmented copies per training "
                                                                                    "utterance (default 1)")
    parser.add_argument("--test-degrade", type=lambda t: t.split(), default=[], metavar="'SPEC ...'",
                        help="svm, dnn: also test each trained row on degraded audio, one row per SPEC "
                             "(e.g. 'noise:snr=20 noise:snr=10 noise:snr=0 reverb telephone')")
    parser.add_argument("--layers", type=layers_option, default=None,
                        help="DNN layer selection (modelrc.layers): one layer (6), a range (4-8) or a list (0,4,8) of "
                             "hidden states; system names get _L6, _L4-8, _L0+4+8 (default: every layer, weighted)")
    parser.add_argument("--config", type=Path, help="runner config (dnn)")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the config's)")
    parser.add_argument("--device", default="cpu", help="device of extraction and DNN runs (default cpu)")
    parser.add_argument("--n-jobs", type=int, default=1, help="workers inside each SVM job")
    parser.add_argument("--dry-run", action="store_true", help="write LOGS/jobs.tsv, run nothing")
    add_launcher_options(parser)
    return parser


def plan_stage(args: argparse.Namespace):
    """The stage's plan: its jobs, how many are done, and stale outputs."""
    from ..study.plan import DnnSettings, dnn_plan, extract_plan, manifest_corpora, svm_plan  # slow imports

    pool = tuple(args.corpora) if args.corpora else manifest_corpora(args.data)
    if args.stage == "svm":
        return svm_plan(args.data, args.results, args.feature_sets, args.conditions, args.folds, args.grid, pool,
                        args.n_jobs, norms=args.svm_norms, train_pools=args.train_pools, augment=args.augment,
                        augment_copies=args.augment_copies, degrade=args.test_degrade)
    if args.stage == "extract":
        return extract_plan(args.data, args.cache, args.upstream, args.ckpt, args.nj, args.device,
                            args.augment, args.augment_copies)
    settings = DnnSettings(data=args.data.resolve(), results=args.results.resolve(), exp=args.exp.resolve(),
                           upstream=args.upstream, config=args.config.resolve(), pool=pool, ckpt=args.ckpt,
                           cache=args.cache.resolve() if args.cache else None, upstream_name=args.upstream_name,
                           steps=args.steps, device=args.device, augment=args.augment,
                           augment_copies=args.augment_copies, degrade=tuple(args.test_degrade), layers=args.layers)
    return dnn_plan(settings, args.heads, args.conditions, args.folds, args.seeds, args.matched_corpora,
                    args.variants, args.train_pools)


def remove(paths: List[Path]) -> None:
    """Delete stale outputs (files, or folders such as an experiment folder or a cache)."""
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def rename_old_systems(results: Path, dry_run: bool) -> None:
    """Give result folders of older versions their shell-safe system names, so that finished work is found."""
    from ..study.plan import renamed_systems  # slow imports
    for old, new in renamed_systems(results):
        if new.exists():
            print(f"warning: {old} and {new} hold the same system (older and shell-safe name); keep one",
                  file=sys.stderr)
        else:
            if not dry_run:
                old.rename(new)
            print(f"{'would rename' if dry_run else 'renamed'} {old} to {new.name} (shell-safe system name)",
                  file=sys.stderr)


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.stage in ("svm", "dnn") and args.results is None:
        parser.error(f"stage {args.stage} needs --results")
    if args.stage == "extract" and args.cache is None:
        parser.error("stage extract needs --cache")
    if args.stage == "dnn" and args.config is None:
        parser.error("stage dnn needs --config")
    problem = check_nj(args)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    if args.stage in ("svm", "dnn"):
        rename_old_systems(args.results, args.dry_run)
    try:
        check_copies(args.augment_copies)
        plan = plan_stage(args)
    except (ManifestError, FoldError, SpecError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if plan.stale:
        print(f"{args.stage}: {len(plan.stale)} output(s) made from another manifest than {args.data} "
              f"(older than it, or a cache of other ids): {'would be ' if args.dry_run else ''}removed and redone",
              file=sys.stderr)
        if not args.dry_run:
            remove(plan.stale)
    args.logs.mkdir(parents=True, exist_ok=True)
    write_jobs(args.logs / "jobs.tsv", plan.jobs)
    print(f"{args.stage}: {plan.done} job(s) already done, {len(plan.jobs)} to run "
          f"({args.cmd}, {args.nj} at a time); job list {args.logs / 'jobs.tsv'}", flush=True)
    if args.dry_run or not plan.jobs:
        return 0
    return run_launch(plan.jobs, args, f"study-{args.stage}")


if __name__ == "__main__":
    sys.exit(main())
