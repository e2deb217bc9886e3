"""``s3prl-crosscorpus study-file ACTION FILE``: check a study file, or print what ``recipes/run.sh --study`` uses.

Actions:
  check FILE                  check every key; print the study's corpora, pool, conditions, matrix rows, systems
  settings FILE [-- ARGS...]  run.sh's settings as NUL-separated ``--name`` ``value`` words; ARGS (run.sh's own
                              command line) may not set what the file sets (the file is the record of the run)
  prepare-args FILE           NUL-separated ``prepare`` arguments of corpora other than EmoDB/RAVDESS/IEMOCAP
                              roots (``--NAME ROOT``, ``--csv NAME=FILE``, ``--audformat NAME=DIR``)
A bad file: one ``error: FILE: key: problem`` line, exit 2. See docs/study-file.md.
"""
import argparse
import sys
from typing import List, Optional, Sequence, Tuple

from ..core.labels import CORPORA
from ..core.studyfile import SYNTHETIC, Study, StudyError, load_study

#: Study keys -> the run.sh setting each one sets (for the message when a flag repeats one).
Settings = List[Tuple[str, str, str]]  # (run.sh option, value, study key)


def words(values: Sequence) -> str:
    return " ".join(str(v) for v in values)


def run_settings(study: Study) -> Settings:
    """(option, value, key) of every run.sh setting the study sets."""
    found: Settings = []
    for corpus in study.corpora:
        if corpus.name in CORPORA and corpus.source == "root":
            found.append((f"--{corpus.name}", str(corpus.path), f"corpora.{corpus.name}"))
    registry = [c.name for c in study.corpora if c.source == SYNTHETIC and c.name not in CORPORA]
    if registry:  # synthesised by synth --registry (the paper's three always are)
        found.append(("--synth-registry", ",".join(registry), "corpora"))
    official = [c.name for c in study.corpora if c.official]
    if official:  # prepare --official-partition
        found.append(("--official-partition", ",".join(official), f"corpora.{official[0]}.partition"))
    found += [("--corpora", words(study.pool), "pool"), ("--conditions", words(study.conditions), "conditions"),
              ("--folds", words(study.folds), "folds"),
              ("--systems", words(s for s in ("svm", "dnn") if getattr(study, s) is not None), "systems")]
    if study.rows:
        found.append(("--train-pools", words("+".join(row) for row in study.rows), "transfer.rows"))
    svm = study.svm or {}
    for key, option in (("feature_sets", "--feature-sets"), ("grid", "--svm-grid"), ("norms", "--svm-norms")):
        if key in svm:
            value = svm[key]
            found.append((option, words(value) if isinstance(value, list) else str(value), f"systems.svm.{key}"))
    dnn = study.dnn or {}
    options = {"upstream": "--upstream", "ckpt": "--ckpt", "upstream_name": "--upstream-name", "heads": "--heads",
               "seeds": "--seeds", "steps": "--steps", "config": "--config", "cache": "--cache",
               "matched_corpora": "--matched-corpora", "variants": "--variants"}
    for key, option in options.items():
        if key in dnn:
            value = dnn[key]
            text = words(value) if isinstance(value, list) else ("yes" if value else "no") \
                if isinstance(value, bool) else str(value)
            found.append((option, text, f"systems.dnn.{key}"))
    for key in ("resamples", "seed"):
        if key in study.statistics:
            found.append((f"--stats-{key}", str(study.statistics[key]), f"statistics.{key}"))
    return found


def given_options(argv: Sequence[str]) -> List[str]:
    """The ``--name`` options of a run.sh command line (``--name value`` or ``--name=value``)."""
    found, k = [], 0
    while k < len(argv):
        word = argv[k]
        if word.startswith("--") and "=" in word:
            found.append(word.split("=", 1)[0])
            k += 1
        elif word.startswith("--"):
            found.append(word)
            k += 2
        else:
            k += 1
    return found


def prepare_args(study: Study) -> List[str]:
    """``prepare`` arguments of the corpora run.sh has no root setting for."""
    args: List[str] = []
    for corpus in study.corpora:
        if corpus.source == SYNTHETIC or (corpus.name in CORPORA and corpus.source == "root"):
            continue
        if corpus.source == "root":
            args += [f"--{corpus.name}", str(corpus.path)]
        else:
            args += [f"--{corpus.source}", f"{corpus.name}={corpus.path}"]
    return args


def describe(study: Study) -> str:
    rows = ", ".join("+".join(row) for row in study.rows) or "none"
    systems = [f"svm {study.svm}" if study.svm is not None else "", f"dnn {study.dnn}" if study.dnn is not None else ""]
    return "\n".join([
        f"{study.path}: OK",
        "corpora: " + ", ".join(f"{c.name} ({c.source}{'' if c.path is None else ' ' + str(c.path)}"
                                f"{', official partition' if c.official else ''})" for c in study.corpora),
        f"pool: {' '.join(study.pool)}", f"conditions: {' '.join(study.conditions)}", f"transfer rows: {rows}",
        f"folds: {' '.join(map(str, study.folds))}", "systems: " + "; ".join(s for s in systems if s),
        f"statistics: {study.statistics or 'defaults'}",
    ])


def nul_words(values: Sequence[str]) -> str:
    return "".join(f"{v}\0" for v in values)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s3prl-crosscorpus study-file", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("action", choices=("check", "settings", "prepare-args"),
                        help="check: is the file valid; settings: run.sh's settings from it; "
                             "prepare-args: its corpora's prepare options")
    parser.add_argument("file", help="the study YAML")
    parser.add_argument("args", nargs="*", help="settings: run.sh's command line (after --)")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = parser().parse_args(argv)
    from baseline_svm.model import GRIDS  # the SVM's grid names (core does not import the SVM)

    try:
        study = load_study(args.file, grids=list(GRIDS))
    except StudyError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.action == "check":
        print(describe(study))
        return 0
    if args.action == "prepare-args":
        sys.stdout.write(nul_words(prepare_args(study)))
        return 0
    settings = run_settings(study)
    given = set(given_options(args.args))
    for option, _, key in settings:
        if option in given:
            print(f"error: {args.file}: {key}: the study file sets {option}; change the file or leave {option} "
                  f"out (the bundle records the file as the study that ran)", file=sys.stderr)
            return 2
    sys.stdout.write(nul_words([word for option, value, _ in settings for word in (option, value)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
