"""``s3prl-crosscorpus probe DATA_DIR``: how much corpus identity, and how much emotion, the features carry
(linear corpus and emotion probes per openSMILE set and per cached upstream layer)."""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

from baseline_svm.features import FEATURE_SETS, FeatureError
from ..core.normalise import NORMS

from ..cache.format import CacheError
from ..core.folds import FOLDS, FoldError, manifest_folds
from ..core.labels import corpus_order
from ..core.manifest import ManifestError, load_manifest
from ..domain.probe import TARGETS, gather_sources, plot_probe, run_probe, table_markdown, write_table


def int_list(text: str) -> List[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text!r}") from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="s3prl-crosscorpus probe",
        description="Train a linear classifier (logistic regression on standardised features) to predict the "
                    "CORPUS of each utterance, on the shared folds (train off fold k's test speakers, test on "
                    "them, pooled corpora), and report corpus-prediction UAR per openSMILE set and per cached "
                    "upstream layer, with each normalisation. High UAR = strong domain mismatch; chance = "
                    "1/corpora. The same probe on the same folds also predicts the EMOTION (speaker-independent "
                    "UAR over the 4 classes; chance 25%%), so a layer's emotion and corpus content appear side by "
                    "side. corpus/speaker normalisation uses unlabeled test audio (transductive).")
    p.add_argument("data_dir", type=Path, help="DATA_DIR of `s3prl-crosscorpus prepare`")
    p.add_argument("--out", type=Path, required=True, help="folder for probe.json, probe.md and probe.png")
    p.add_argument("--opensmile", nargs="*", default=[], choices=list(FEATURE_SETS), metavar="SET",
                   help=f"openSMILE feature sets to probe ({', '.join(FEATURE_SETS)}); cached as for the SVM")
    p.add_argument("--cache", type=Path, help="feature cache of `s3prl-crosscorpus extract`: probe each layer "
                                               "(frames mean-pooled per utterance)")
    p.add_argument("--layers", type=int_list, help="cache layers to probe, e.g. 0,4,8,12 (default: all)")
    p.add_argument("--norm", nargs="+", choices=list(NORMS), default=list(NORMS), help="normalisations (default: all)")
    p.add_argument("--targets", nargs="+", choices=list(TARGETS), default=list(TARGETS),
                   help="what the probes predict (default: corpus emotion)")
    p.add_argument("--folds", type=int_list, default=list(FOLDS), help="folds, e.g. 1,2 (default: 1..5)")
    p.add_argument("--corpora", type=lambda t: [c for c in t.split(",") if c],
                   help="corpus pool (default: every corpus of the manifest but the test-only ones)")
    p.add_argument("--opensmile-cache", type=Path, help="openSMILE cache (default: DATA_DIR/cache/opensmile)")
    p.add_argument("--jobs", type=int, help="openSMILE processes (default: all cores)")
    p.add_argument("--seed", type=int, default=0, help="seed of the probe's solver")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    if not args.opensmile and args.cache is None:
        print("error: give --opensmile SET... and/or --cache CACHE: nothing to probe", file=sys.stderr)
        return 2
    try:
        utts = load_manifest(args.data_dir)
        # a test-only corpus is never trained on, so a corpus probe could never predict it (the emotion probe
        # would only test it): the probe leaves it out, and says so
        test_only = manifest_folds(utts).test_only
        for corpus in corpus_order(c for c in test_only if args.corpora is None or c in args.corpora):
            print(f"note: {corpus} is test-only ({test_only[corpus]}): left out of the probe", file=sys.stderr)
        utts = [u for u in utts if u.corpus not in test_only and (args.corpora is None or u.corpus in args.corpora)]
        if len({u.corpus for u in utts}) < 2:
            print(f"error: {args.data_dir}: the probe needs two or more trainable corpora"
                  f"{f' of {args.corpora}' if args.corpora else ''} in the manifest", file=sys.stderr)
            return 2
        sources, excluded = gather_sources(utts, args.opensmile, args.cache, args.layers,
                                           args.opensmile_cache or args.data_dir / "cache" / "opensmile", args.jobs)
        rows = run_probe(sources, args.norm, args.folds, args.seed, targets=args.targets)
    except (ManifestError, FoldError, CacheError, FeatureError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    meta = {"data_dir": str(args.data_dir), "cache": str(args.cache) if args.cache else None,
            "folds": args.folds, "corpora": sorted({u.corpus for u in utts}),
            "fold_file_sha256": manifest_folds(utts).sha256,
            "probe": "LogisticRegression(C=1) on standardised features", "targets": args.targets,
            "excluded": excluded}
    json_path, md_path = write_table(rows, args.out, meta)
    png = plot_probe(rows, args.out / "probe.png")
    sys.stdout.write(table_markdown(rows))
    if any(r.transductive for r in rows):
        print("note: corpus/speaker normalisation uses the statistics of every utterance of each group, test "
              "audio included (transductive)", file=sys.stderr)
    print(f"wrote {json_path}, {md_path}, {png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
