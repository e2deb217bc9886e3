"""``s3prl-crosscorpus SUBCOMMAND ...``: each sub-command is the ``main(argv)`` of one module.

Modules are imported only when their sub-command runs, so ``--help`` stays fast.
"""
import importlib
import sys
from typing import Dict, List, Optional, Tuple

#: sub-command -> (module, one-line help). ``main(argv) -> int`` in each module.
SUBCOMMANDS: Dict[str, Tuple[str, str]] = {
    "demo": ("s3prl_crosscorpus.commands.demo", "synthetic end-to-end run of both systems (the README's main job)"),
    "synth": ("s3prl_crosscorpus.commands.synth", "write small synthetic corpora in the real layouts"),
    "prepare": ("s3prl_crosscorpus.commands.prepare", "read corpus roots into DATA_DIR/manifest.jsonl"),
    "folds": ("s3prl_crosscorpus.commands.folds", "print the shared folds over a manifest"),
    "svm": ("baseline_svm.cli", "openSMILE functionals + RBF-SVM baseline (same as `baseline-svm`)"),
    "run-downstream": ("s3prl_crosscorpus.commands.run_downstream", "s3prl's run_downstream.py with this downstream"),
    "extract": ("s3prl_crosscorpus.commands.extract", "run a frozen upstream once and cache all hidden layers"),
    "train-cached": ("s3prl_crosscorpus.commands.train_cached", "train/evaluate heads from an extracted cache"),
    "overrides": ("s3prl_crosscorpus.commands.overrides", "print a safe s3prl -o string (for shell recipes)"),
    "leaderboard": ("s3prl_crosscorpus.commands.leaderboard", "paper-style table from result files"),
    "plot": ("s3prl_crosscorpus.commands.plot", "confusion matrices and matched-vs-extended charts"),
    "report": ("s3prl_crosscorpus.commands.report", "the whole study as one self-contained HTML page"),
    "submit": ("s3prl_crosscorpus.commands.submit", "pack results into a submission bundle"),
    "validate": ("s3prl_crosscorpus.commands.validate", "check a submission bundle"),
    "compare": ("s3prl_crosscorpus.commands.compare", "does B beat A? paired speaker-level test on the same utterances"),
    "probe": ("s3prl_crosscorpus.commands.probe", "how much corpus identity the features carry (corpus probe)"),
    "predict": ("s3prl_crosscorpus.commands.predict", "emotion of new audio files from a trained model"),
    "study": ("s3prl_crosscorpus.commands.study", "plan and run one stage of recipes/run.sh (svm, extract, dnn)"),
    "study-file": ("s3prl_crosscorpus.commands.study_file", "check a study YAML; print the settings run.sh --study uses"),
    "augment": ("s3prl_crosscorpus.commands.augment", "check an augmentation SPEC (--augment) and print its meaning"),
    "launch": ("s3prl_crosscorpus.commands.launch", "run a file of jobs locally (N at a time) or as a slurm array"),
}


#: The one line of an interrupted command (Ctrl-C); baseline_svm/cli.py prints the same.
INTERRUPTED = "interrupted; finished work is kept; re-run the same command to resume"
#: Exit status of an interrupted command (128 + SIGINT, the shell's convention).
INTERRUPTED_EXIT = 130


#: Exit status of bad input (a file, a setting): after one ``error: ...`` line.
BAD_INPUT_EXIT = 2


def refuse(problem: object) -> int:
    """Print bad input as one ``error: ...`` line on stderr; the exit status to return (2)."""
    print(f"error: {problem}", file=sys.stderr)
    return BAD_INPUT_EXIT


def usage() -> str:
    width = max(map(len, SUBCOMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {text}" for name, (_, text) in SUBCOMMANDS.items())
    return (f"usage: s3prl-crosscorpus SUBCOMMAND [ARGS...]   (or --version)\n\nsub-commands:\n{rows}\n\n"
            "SUBCOMMAND --help: its options")


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] in ("-V", "--version"):
        from .. import __version__

        print(f"s3prl-crosscorpus {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"unknown sub-command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(SUBCOMMANDS[name][0])
        return int(module.main(rest) or 0)
    except KeyboardInterrupt:  # every sub-command: one line, no traceback (work is written atomically)
        print(INTERRUPTED, file=sys.stderr)
        return INTERRUPTED_EXIT


if __name__ == "__main__":
    sys.exit(main())
