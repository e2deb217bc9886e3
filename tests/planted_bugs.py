"""Re-plant the bugs of GitHub issues 16 and 25 one at a time in a copy of the project and run the tests meant
to catch each; every bug must make at least one test fail ("killed").

    python3 tests/planted_bugs.py                 # every bug, each against its own test files
    python3 tests/planted_bugs.py --only folds-swap --all-tests
    python3 tests/planted_bugs.py --only seeds-matched-by-position dann-reversal-sign

A bug marked ``fast`` must be killed by the fast selection: its tests run with ``-m "not e2e"``.

Not collected by pytest (the name does not start with ``test_``): it runs the suite many times over.
A bug whose text is no longer found in the source is reported as "stale" (the code moved: update
the bug here), never silently skipped. Exit status 1 when a bug survives or is stale.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Bug:
    name: str
    what: str
    edits: Tuple[Tuple[str, str, str], ...]  # (file, text found exactly once, replacement)
    tests: Tuple[str, ...]
    fast: bool = False  # the fast selection (-m "not e2e", mutmut's) must kill it: its tests run with that mark


#: The fast tests of the beyond-paper features (GitHub issue 25).
NORM_PROPERTIES = "tests/test_properties_normalise.py"
SEED_PROPERTIES = "tests/test_properties_seeds.py"


def swapped_fold_file() -> Tuple[str, str, str]:
    """EmoDB speaker 03 (fold 1) and 10 (fold 2) swapped: a valid-looking fold file with the wrong folds."""
    path = "s3prl_crosscorpus/core/folds_v1.json"
    old = '"1": [\n        "03",\n        "08"\n      ],\n      "2": [\n        "10",'
    new = '"1": [\n        "10",\n        "08"\n      ],\n      "2": [\n        "03",'
    return path, old, new


BUGS: Sequence[Bug] = (
    Bug("svm-grid-accuracy-kernel", "the kernel grid search scores points by accuracy, not UAR",
        (("baseline_svm/search.py", "return uar(y_val, predictions), fitted - start",
          "return float(np.mean(np.asarray(y_val) == np.asarray(predictions))), fitted - start"),),
        ("tests/test_selection.py", "tests/test_svm_model.py", "tests/test_svm_selection_audio.py")),
    Bug("svm-grid-accuracy-sklearn", "the scikit-learn grid search scores points by accuracy, not UAR",
        (("baseline_svm/model.py", "UAR_SCORER = make_scorer(uar)",
          "UAR_SCORER = make_scorer(lambda a, b: float(np.mean(np.asarray(a) == np.asarray(b))))"),),
        ("tests/test_selection.py", "tests/test_svm_model.py", "tests/test_svm_selection_audio.py")),
    Bug("dnn-dev-best-accuracy", "the DNN's dev-best checkpoint is chosen on accuracy (WA), not UAR",
        (("s3prl_crosscorpus/superb/expert.py",
          'if split == "dev" and training and summary["all"]["uar"] > self.best["uar"]:\n'
          '            self.best = {"uar": summary["all"]["uar"],',
          'if split == "dev" and training and summary["all"]["wa"] > self.best["uar"]:\n'
          '            self.best = {"uar": summary["all"]["wa"],'),),
        ("tests/test_selection.py", "tests/test_downstream_expert.py")),
    Bug("svm-refit-train-plus-dev", "the chosen SVM point is refitted on train + dev instead of train",
        (("baseline_svm/model.py", "self.calibrator_ = calibrated_svm(X, np.asarray(y),",
          "self.calibrator_ = calibrated_svm(pool_X, pool_y,"),),
        ("tests/test_selection.py", "tests/test_svm_run.py", "tests/test_svm_selection_audio.py")),
    Bug("validate-uar-only", "validate recomputes only UAR (WA, macro-F1, recalls, confusion unchecked)",
        (("s3prl_crosscorpus/submission/validate.py",
          'for m in METRICS\n              if not close(reported[m], ours[m], TOLERANCE)]\n'
          '    if reported["confusion_matrix"] != ours["confusion_matrix"] or reported["n"] != ours["n"]:',
          'for m in ("uar",)\n              if not close(reported[m], ours[m], TOLERANCE)]\n'
          '    if False:'),
         ("s3prl_crosscorpus/submission/validate.py",
          'differ += [f"recall of {lab} differs" for lab in LABELS\n'
          '               if not close(reported["per_class_recall"][lab], ours["per_class_recall"][lab], TOLERANCE)]',
          'differ += []')),
        ("tests/test_bundle.py",)),
    Bug("atomic-in-place", "the atomic writer writes the target in place",
        (("s3prl_crosscorpus/core/io_utils.py",
          'fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")\n'
          '        with os.fdopen(fd, mode, **kwargs) as handle:',
          'with open(path, mode, **kwargs) as handle:'),
         ("s3prl_crosscorpus/core/io_utils.py",
          "os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; give the usual mode\n"
          "        os.replace(tmp, path)", "pass")),
        ("tests/test_core_reliability.py", "tests/test_reliability.py")),
    Bug("predict-dnn-reversed", "DNN predict: probability columns reversed, so the label is the wrong one",
        (("s3prl_crosscorpus/commands/predict.py", "proba[i] = predictor.predict_proba([wave])[0]",
          "proba[i] = predictor.predict_proba([wave])[0][::-1]"),),
        ("tests/test_demo.py",)),
    Bug("predict-svm-reversed", "SVM predict: the least likely label, probability columns reversed",
        (("baseline_svm/model.py", "proba[:, LABELS.index(str(cls))] = raw[:, column]\n    return labels, proba",
          "proba[:, len(LABELS) - 1 - LABELS.index(str(cls))] = raw[:, column]\n"
          "    return [LABELS[int(k)] for k in np.argmin(proba[:, ::-1], axis=1)], proba"),),
        ("tests/test_demo.py", "tests/test_svm_run.py")),
    Bug("resume-forgets-dev-best", "a run resumed with -e forgets the dev UAR of its best step before the interruption",
        (("s3prl_crosscorpus/superb/expert.py", "self.best = dict(state)\n",
          "self.best = dict(state, uar=-1.0)\n"),),
        ("tests/test_resume.py",)),
    Bug("folds-swap", "two EmoDB speakers swapped between folds 1 and 2 in the fold file",
        (swapped_fold_file(),), ("tests/test_folds.py", "tests/test_protocol_truth.py")),
    Bug("dev-draw-unsorted", "the dev draw no longer sorts ids first (manifest order changes the dev set)",
        (("s3prl_crosscorpus/core/folds.py", "utts = sorted(train_partition, key=lambda u: u.id)",
          "utts = list(train_partition)"),),
        ("tests/test_folds.py", "tests/test_protocol_truth.py")),
    # GitHub issue 25: bugs in the beyond-paper features that survived the suite or only e2e-marked modules saw.
    Bug("svm-test-speakers-averaged-norm",
        "SVM --norm speaker: each test speaker normalised with the average of all speakers' statistics, not its own",
        (("baseline_svm/run.py",
          "        rows.X[name], rows.y[name] = design(chosen, by_id, features, config.norm, stats)",
          "        averaged = stats and {g: tuple(np.mean([s[k] for s in stats.values()], axis=0) for k in (0, 1))\n"
          "                              for g in stats}\n"
          "        rows.X[name], rows.y[name] = design(chosen, by_id, features, config.norm,\n"
          "                                            averaged if name == \"test\" and config.norm == \"speaker\" "
          "else stats)"),),
        (NORM_PROPERTIES, "tests/test_svm_normalise.py"), fast=True),
    Bug("seeds-matched-by-position",
        "significance: a cell's later seeds matched to the first seed's utterances by row position, not by id",
        (("s3prl_crosscorpus/results/significance.py",
          'other = sorted((row for result in cell.runs[seed].values() for row in result["predictions"]),\n'
          '                       key=lambda row: row["id"])\n'
          '        if [(row["id"], row["label"]) for row in other] != reference:',
          'other = [row for _, result in sorted(cell.runs[seed].items()) for row in result["predictions"]]\n'
          '        if sorted((row["id"], row["label"]) for row in other) != reference:'),),
        (SEED_PROPERTIES, "tests/test_significance.py", "tests/test_stats.py"), fast=True),
    Bug("dnn-frame-stats-pooled",
        "DNN datarc.normalisation: every group gets the frame statistics pooled over all requested groups",
        (("s3prl_crosscorpus/domain/frames.py",
          "acc = sums.setdefault(group_of(utt.corpus, utt.speaker, norm), [0, 0.0, 0.0])",
          'acc = sums.setdefault("pooled", [0, 0.0, 0.0])'),
         ("s3prl_crosscorpus/domain/frames.py",
          "    stats: FrameStatistics = {}\n",
          '    stats: FrameStatistics = {}\n    sums = {group: sums["pooled"] for group in groups} if sums else sums\n')),
        (NORM_PROPERTIES, "tests/test_domain_probe.py"), fast=True),
    Bug("dann-reversal-sign", "DANN: the gradient-reversal layer passes the gradient unreversed (sign flipped)",
        (("s3prl_crosscorpus/domain/dann.py", "return -ctx.lam * grad, None", "return ctx.lam * grad, None"),),
        ("tests/test_domain_dann.py",), fast=True),
    Bug("result-duplicate-accepted", "results: a result that predicts one utterance twice is accepted",
        (("s3prl_crosscorpus/results/schema.py",
          'duplicate = first_duplicate_prediction(result["predictions"])\n    if duplicate is not None:',
          'duplicate = first_duplicate_prediction(result["predictions"])\n    if False:'),),
        ("tests/test_reliability.py",), fast=True),
)


def copy_project(dest: Path) -> None:
    """The tracked and untracked (not ignored) files of the project, without the git folder."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def plant(copy: Path, bug: Bug) -> List[str]:
    """Apply the bug's edits in ``copy``; the edits whose text is not found exactly once."""
    stale = []
    for name, old, new in bug.edits:
        path = copy / name
        text = path.read_text()
        if text.count(old) != 1:
            stale.append(f"{name}: text found {text.count(old)} times")
            continue
        path.write_text(text.replace(old, new))
    return stale


def run_tests(copy: Path, tests: Sequence[str], fast: bool = False) -> Tuple[int, str]:
    """pytest's exit status on ``tests`` in the copy (only the fast selection when ``fast``), and its last line."""
    env = dict(os.environ, PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1")
    marks = ["-m", "not e2e"] if fast else []
    done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *marks, *tests],
                          cwd=copy, env=env, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return done.returncode, lines[-1] if lines else done.stderr.strip()[-300:]


def check(bug: Bug, all_tests: bool) -> dict:
    """Plant ``bug`` in a fresh copy and report whether its tests fail."""
    with tempfile.TemporaryDirectory(prefix=f"planted-{bug.name}-") as tmp:
        copy = Path(tmp)
        copy_project(copy)
        stale = plant(copy, bug)
        if stale:
            return {"bug": bug.name, "outcome": "stale", "detail": "; ".join(stale)}
        rc, last = run_tests(copy, ["tests"] if all_tests else list(bug.tests), bug.fast)
    outcome = "killed" if rc == 1 else "survived" if rc == 0 else f"error (pytest exit {rc})"
    return {"bug": bug.name, "outcome": outcome, "detail": last}


def main(argv: Sequence[str] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", default=None, help="bug names (default: all)")
    parser.add_argument("--all-tests", action="store_true", help="run the whole suite against each bug")
    parser.add_argument("--list", action="store_true", help="list the bugs and exit")
    args = parser.parse_args(argv)
    bugs = [b for b in BUGS if args.only is None or b.name in args.only]
    if args.list or not bugs:
        for b in BUGS:
            print(f"{b.name:32s} {'fast ' if b.fast else ''}{b.what}")
        return 0 if args.list else 2
    reports = []
    for bug in bugs:
        report = check(bug, args.all_tests)
        reports.append(report)
        print(f"{report['outcome']:9s} {bug.name:32s} {report['detail']}", flush=True)
    print(json.dumps({r["outcome"].split()[0]: sum(x["outcome"] == r["outcome"] for x in reports)
                      for r in reports}))
    return 0 if all(r["outcome"] == "killed" for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
