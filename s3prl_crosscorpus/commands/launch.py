"""``s3prl-crosscorpus launch JOBS.tsv``: run a file of independent jobs locally (N at a time) or as a slurm array."""
import argparse
import re
import shlex
import sys
from pathlib import Path
from typing import List, Optional

from tqdm import tqdm

from ..results.finished import job_lines
from ..study.launch import LAUNCHERS, Job, LaunchError, LaunchReport, default_jobs, launch, read_jobs


def add_launcher_options(parser: argparse.ArgumentParser) -> None:
    """``--cmd``, ``--nj``, ``--logs``, ``--sbatch-args``: shared with ``study``."""
    parser.add_argument("--cmd", choices=LAUNCHERS, default="local",
                        help="local (default): up to --nj jobs at a time here; slurm: one `sbatch --wait --array` "
                             "job array (at most --nj tasks at a time)")
    parser.add_argument("--nj", default="1", help="parallel jobs, a whole number >= 1 (default 1)")
    parser.add_argument("--logs", type=Path, required=True, help="folder for job.<i>.log and exit statuses")
    parser.add_argument("--sbatch-args", default="", help="more sbatch options, e.g. \"--partition=gpu --gres=gpu:1\"")


def check_nj(args: argparse.Namespace) -> Optional[str]:
    """Turn ``args.nj`` into an int >= 1; the error line when it is not one (no job runs then)."""
    text = str(args.nj).strip()
    if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
        return f"error: --nj must be a whole number >= 1, got {args.nj!r}"
    args.nj = int(text)
    return None


def print_report(report: LaunchReport) -> int:
    """One line per failed job with its log; the exit status of the whole launch."""
    for failure in report.failed:
        print(f"failed: {failure}", file=sys.stderr)
    if report.failed:
        print(f"{len(report.failed)} of {len(report.jobs)} jobs failed; logs in {report.log_dir}", file=sys.stderr)
        return 1
    return 0


def print_finished(job: Job, code: Optional[int]) -> None:
    """Each finished cell's UAR (and warnings) above the progress bar, to stderr."""
    for line in job_lines(job.name, code, job.outputs):
        tqdm.write(line, file=sys.stderr)


def run_launch(jobs, args: argparse.Namespace, name: str) -> int:
    try:
        report = launch(jobs, args.logs, args.cmd, args.nj, name=name, sbatch_args=shlex.split(args.sbatch_args),
                        on_done=print_finished)
    except LaunchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return print_report(report)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="s3prl-crosscorpus launch", description=__doc__.splitlines()[0])
    parser.add_argument("jobs", type=Path, help="file of NAME<TAB>COMMAND lines")
    add_launcher_options(parser)
    args = parser.parse_args(argv)
    problem = check_nj(args)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    try:
        jobs = read_jobs(args.jobs)
    except (OSError, LaunchError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"{len(jobs)} jobs, {args.cmd} launcher, {args.nj} at a time (cores here: {default_jobs()})")
    return run_launch(jobs, args, args.jobs.stem)


if __name__ == "__main__":
    sys.exit(main())
