"""``baseline-svm run ...`` (also ``s3prl-crosscorpus svm run ...``): the openSMILE + RBF-SVM baseline."""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

from s3prl_crosscorpus import __version__
from s3prl_crosscorpus.augment.spec import SpecError, check_degrade, describe_parameters, parse_spec
from s3prl_crosscorpus.core.folds import CONDITIONS, DEFAULT_SEED, FOLDS
from s3prl_crosscorpus.core.labels import CORPORA, corpus_name_problem
from s3prl_crosscorpus.core.normalise import NORMS

from .choices import ALL, DEFAULT_CV_FOLDS, GRIDS, SEARCHES, SELECTIONS
from .features import FEATURE_SETS

# scikit-learn, openSMILE and the result schema are imported in run_command: --help stays fast.


def corpus_list(text: str) -> tuple:
    """``emodb,ravdess`` -> ("emodb", "ravdess"), refusing unknown names."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if corpus_name_problem(n)]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown corpus {unknown or text!r}; the paper's are {', '.join(CORPORA)}, "
                                         "any other must be in the manifest")
    return names


def corpus_name(text: str) -> str:
    """A test corpus: the paper's three, 'all', or any corpus name the manifest may hold (checked on load)."""
    if text != ALL and corpus_name_problem(text):
        raise argparse.ArgumentTypeError(corpus_name_problem(text))
    return text


def int_at_least(minimum: int):
    """An argparse type: an integer >= ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    return parse


positive_int = int_at_least(1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="baseline-svm",
                                     description="openSMILE functionals + RBF SVM on the shared folds.")
    parser.add_argument("-V", "--version", action="version", version=f"baseline-svm {__version__}",
                        help="print the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = commands.add_parser("run", help="train and evaluate one (feature set, condition, test corpus, fold)",
                            description="Extract features (cached), choose C and gamma on dev UAR, refit on "
                                        "train, evaluate on the fold's test set, write one result per fold.")
    p.add_argument("--data", type=Path, required=True, metavar="DATA_DIR", help="folder holding manifest.jsonl")
    p.add_argument("--feature-set", required=True, choices=list(FEATURE_SETS), help="openSMILE functionals")
    p.add_argument("--condition", required=True, choices=list(CONDITIONS),
                   help="matched: train on the test corpus; extended: on every pool corpus; loco: on the others")
    p.add_argument("--test-corpus", required=True, type=corpus_name, metavar="CORPUS",
                   help="emodb, ravdess, iemocap, any other corpus of the manifest, or "
                        "'all': every pool corpus (extended trains one model per fold for all of them)")
    p.add_argument("--fold", required=True, choices=[str(k) for k in FOLDS] + [ALL],
                   help="one fold, or 'all' (folds with a valid result are skipped)")
    p.add_argument("--out", type=Path, required=True, metavar="RESULTS_DIR",
                   help="results go to RESULTS_DIR/<system>/<condition>/<corpus>/fold<k>.json")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the shared dev draw (default %(default)s)")
    p.add_argument("--corpora", type=corpus_list, default=None, metavar="C1,C2",
                   help="corpus pool (default: every corpus in the manifest)")
    p.add_argument("--train", type=corpus_list, action="append", default=None, metavar="C1,C2",
                   help="condition transfer: one row of the transfer matrix, the corpora to train on (repeat for "
                        "more rows; default each pool corpus alone and the whole pool)")
    p.add_argument("--grid", choices=list(GRIDS), default="libsvm",
                   help="C/gamma grid: libsvm = 2^-5..2^15 x 2^-15..2^3 in steps of 2^2 (default); "
                        "coarse = steps of 2^4")
    p.add_argument("--class-weight", choices=["none", "balanced"], default="none",
                   help="SVC class weights (default none, as in the paper's baseline)")
    p.add_argument("--search", choices=list(SEARCHES), default="kernel",
                   help="kernel (default): squared distances once per split, one kernel per gamma, one "
                        "precomputed-kernel SVC per C; sklearn: GridSearchCV over the pipeline (the reference, "
                        "much slower). Both give the same table and choice")
    p.add_argument("--select", choices=list(SELECTIONS), default="dev",
                   help="dev (default, the paper's): UAR on the fold's dev set; group-cv: mean UAR over "
                        "speaker-grouped folds of train+dev (system name gets _group-cv)")
    p.add_argument("--cv-folds", type=int_at_least(2), default=DEFAULT_CV_FOLDS,
                   help="folds of --select group-cv (default %(default)s)")
    p.add_argument("--norm", choices=list(NORMS), default="global",
                   help="global (default, the paper's): z-normalisation fitted on the training rows; corpus / "
                        "speaker: first z-normalise each corpus / speaker with all of its utterances (labels "
                        "unused; transductive for test audio), system name gets _corpus-norm / _speaker-norm")
    p.add_argument("--n-jobs", type=positive_int, default=None,
                   help="parallel workers of extraction and search (default: all cores)")
    p.add_argument("--cache", type=Path, default=None, metavar="DIR",
                   help="feature cache (default DATA_DIR/cache/opensmile)")
    p.add_argument("--no-save-model", action="store_true", help="do not write fold<k>.model.skops files")
    p.add_argument("--augment", default=None, metavar="SPEC",
                   help="augment the training utterances (never dev or test): name[:key=value...][,name...] "
                        "applied in order to every copy; system name gets _aug-...-xK. Names and defaults: "
                        + "; ".join(describe_parameters()))
    p.add_argument("--test-degrade", default=None, metavar="SPEC",
                   help="evaluate on degraded test audio (noise, reverb, telephone; e.g. noise:snr=10): the system "
                        "name gets _test-..., its own cells, never mixed with clean ones")
    p.add_argument("--augment-copies", type=positive_int, default=1, metavar="K",
                   help="augmented copies per training utterance, added to the plain ones (default %(default)s)")
    r = commands.add_parser("resave-model", help="re-write an old pickled fold<k>.model.joblib you trust as skops",
                            description="Load an old (pickle/joblib) model file, which can run code when loaded: "
                                        "only for a file you made. Write it as a skops file that loads without "
                                        "running code (default: the same name with .skops).")
    r.add_argument("model", type=Path, metavar="OLD.joblib", help="the pickled model file (made by you)")
    r.add_argument("out", type=Path, nargs="?", metavar="NEW.skops", help="where to write (default: OLD.skops)")
    return parser


#: The one line of an interrupted run (the same as s3prl_crosscorpus.commands.main.INTERRUPTED).
INTERRUPTED = "interrupted; finished work is kept; re-run the same command to resume"


def main(argv: Optional[List[str]] = None) -> int:
    """``baseline-svm``: Ctrl-C prints one line and exits 130 (finished results and features are kept)."""
    try:
        return run_command(argv)
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return 130


def run_command(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from s3prl_crosscorpus.core.corpora import CorpusError
    from s3prl_crosscorpus.core.folds import FoldError
    from s3prl_crosscorpus.core.io_utils import WriteError
    from s3prl_crosscorpus.core.manifest import ManifestError
    from s3prl_crosscorpus.results.schema import ResultError

    from .features import FeatureError
    from .model import ModelError, resave_model
    from .run import RunConfig, parse_folds, run
    from .search import SearchMemoryError

    if args.command == "resave-model":
        try:
            print(f"wrote {resave_model(args.model, args.out)}")
        except (ModelError, WriteError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        return 0
    try:
        spec = parse_spec(args.augment)
    except SpecError as err:  # before any work
        print(f"error: --augment: {err}", file=sys.stderr)
        return 2
    try:
        degrade = parse_spec(args.test_degrade)
        if degrade is not None:
            check_degrade(degrade)
            if args.norm != "global":
                raise SpecError("needs --norm global (per-group statistics would come from clean audio)")
    except SpecError as err:
        print(f"error: --test-degrade: {err}", file=sys.stderr)
        return 2
    config = RunConfig(
        data_dir=args.data, out=args.out, feature_set=args.feature_set, condition=args.condition,
        test_corpus=args.test_corpus, folds=parse_folds(args.fold), seed=args.seed, corpora=args.corpora,
        grid=args.grid, n_jobs=args.n_jobs, cache_dir=args.cache,
        class_weight=None if args.class_weight == "none" else args.class_weight,
        save_models=not args.no_save_model, skip_done=args.fold == ALL,
        search=args.search, select=args.select, cv_folds=args.cv_folds, norm=args.norm,
        train_pools=tuple(args.train or ()),
        augment=spec, augment_copies=args.augment_copies, test_degrade=degrade,
    )
    if args.train and args.condition != "transfer":
        print(f"error: --train chooses the training corpora of condition transfer, not {args.condition}",
              file=sys.stderr)
        return 2
    try:
        report = run(config)
    except SpecError as err:  # a noise/RIR folder inside the corpora: before any extraction
        print(f"error: --augment/--test-degrade: {err}", file=sys.stderr)
        return 2
    except (ManifestError, FoldError, FeatureError, CorpusError, ResultError, ModelError, SearchMemoryError,
            WriteError) as err:  # WriteError: a result or model that cannot be written (full disk...), named
        print(f"error: {err}", file=sys.stderr)
        return 2
    excluded = report.extraction.excluded if report.extraction else []
    print(f"wrote {len(report.written)} result(s), skipped {len(report.skipped)} existing, "
          f"excluded {len(excluded)} file(s) under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
