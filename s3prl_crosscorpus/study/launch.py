"""Run the independent jobs of a stage, Kaldi/ESPnet ``cmd.sh`` style, and wait for all of them.

``local``: up to ``nj`` jobs at a time on this machine. ``slurm``: one job array through
``sbatch --wait --array=1-N%nj`` (each task runs one line of the job file). Each job writes its own
log; a job's exit status is kept in ``<log_dir>/rc/<index>`` so a failed or killed task is named.
"""
import os
import shlex
import signal
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

from s3prl_crosscorpus.core.progress import Progress as tqdm  # plain lines when not a terminal

from ..core.io_utils import atomic_open

LAUNCHERS = ("local", "slurm")


class LaunchError(RuntimeError):
    """A launcher that cannot start (unknown kind, no sbatch, bad job file)."""


@dataclass(frozen=True)
class Job:
    """One independent unit of a stage: a name (for logs) and a one-line bash command."""

    name: str
    command: str
    outputs: Tuple[str, ...] = ()  # result files the job writes: read back when it finishes (see ``on_done``)


@dataclass
class LaunchReport:
    """What a stage's launch did: the jobs run and the ones that failed, with their logs."""

    jobs: List[Job]
    log_dir: Path
    failed: List[str] = field(default_factory=list)  # "name (exit N): log"

    @property
    def ok(self) -> bool:
        return not self.failed


def read_jobs(path: Path) -> List[Job]:
    """Jobs of a file of ``name<TAB>command`` lines (blank lines and ``#`` comments skipped)."""
    jobs = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        name, tab, command = line.partition("\t")
        if not tab or not command.strip():
            raise LaunchError(f"{path}:{number}: expected 'NAME<TAB>COMMAND', got {line[:80]!r}")
        jobs.append(Job(name.strip(), command))
    return jobs


def write_jobs(path: Path, jobs: Sequence[Job]) -> Path:
    """The job file :func:`read_jobs` reads (atomically)."""
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.writelines(f"{job.name}\t{job.command}\n" for job in jobs)
    return Path(path)


def log_path(log_dir: Path, index: int) -> Path:
    return Path(log_dir) / f"job.{index}.log"


def rc_path(log_dir: Path, index: int) -> Path:
    return Path(log_dir) / "rc" / str(index)


class Children:
    """The running local jobs, each in its own process group, so that an interrupt stops all of them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: List[subprocess.Popen] = []
        self.stopping = False

    def start(self, argv: List[str], **kwargs) -> Optional[subprocess.Popen]:
        """Start a job (None once stopping: no job starts after an interrupt)."""
        with self.lock:
            if self.stopping:
                return None
            proc = subprocess.Popen(argv, start_new_session=True, **kwargs)
            self.running.append(proc)
            return proc

    def finished(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.running.remove(proc)

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM every running job's process group, SIGKILL what is left after ``grace`` seconds."""
        with self.lock:
            self.stopping = True
            procs = list(self.running)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for proc in procs:
                if proc.poll() is None:
                    try:
                        os.killpg(proc.pid, sig)
                    except ProcessLookupError:
                        pass
            for proc in procs:
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    pass


def run_one(job: Job, index: int, log_dir: Path, children: Optional[Children] = None) -> Optional[int]:
    """Run one job locally, output to its log; its exit status (None: not started, the launch was stopped)."""
    children = children or Children()
    with open(log_path(log_dir, index), "w", encoding="utf-8") as log:
        log.write(f"# {job.name}\n# {job.command}\n")
        log.flush()
        proc = children.start(["bash", "-c", job.command], stdout=log, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
        if proc is None:
            return None
        try:
            code = proc.wait()
        finally:
            children.finished(proc)
    if not children.stopping:  # a job killed by an interrupt leaves no exit status: it is redone
        rc_path(log_dir, index).write_text(f"{code}\n")
    return code


#: Called with each job and its exit status as it finishes (the command prints what it wrote).
OnDone = Callable[[Job, Optional[int]], None]


def run_local(jobs: Sequence[Job], log_dir: Path, nj: int, desc: str, on_done: Optional[OnDone] = None) -> None:
    """Up to ``nj`` jobs at a time; on an interrupt, the running jobs are stopped and none starts."""
    children = Children()
    pool = ThreadPoolExecutor(max_workers=max(1, nj))
    try:
        futures = {pool.submit(run_one, job, k, log_dir, children): job for k, job in enumerate(jobs, 1)}
        for future in tqdm(as_completed(futures), total=len(futures), desc=desc, unit="job"):
            if on_done is not None:
                on_done(futures[future], future.result())
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        children.stop()
        raise
    pool.shutdown(wait=True)


#: Body of the array script: task i runs line i of the job file, then records its exit status.
ARRAY_SCRIPT = """#!/usr/bin/env bash
# One task of a job array made by s3prl_crosscorpus.study.launch: runs line $SLURM_ARRAY_TASK_ID of the job file.
i=${{SLURM_ARRAY_TASK_ID:?not run as a slurm array task}}
line=$(sed -n "${{i}}p" {jobs})
echo "# ${{line%%$'\\t'*}}"
bash -c "${{line#*$'\\t'}}"
code=$?
echo "$code" > {rc_dir}/$i
exit $code
"""


def run_slurm(jobs: Sequence[Job], log_dir: Path, nj: int, name: str, sbatch: str, extra: Sequence[str]) -> None:
    """One ``sbatch --wait`` job array over the job file; returns when every task has ended."""
    job_file = write_jobs(log_dir / "jobs.tsv", jobs)
    script = log_dir / "array.sh"
    script.write_text(ARRAY_SCRIPT.format(jobs=shlex.quote(str(job_file.resolve())),
                                          rc_dir=shlex.quote(str((log_dir / "rc").resolve()))))
    script.chmod(0o755)
    argv = [sbatch, "--wait", f"--array=1-{len(jobs)}%{nj}", f"--job-name={name}",
            f"--output={(log_dir / 'job.%a.log').resolve()}", *extra, str(script.resolve())]
    try:
        subprocess.run(argv, check=False, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise LaunchError(f"CMD=slurm needs {sbatch!r} on PATH (or run with CMD=local)") from None


def launch(jobs: Sequence[Job], log_dir: Path, cmd: str = "local", nj: int = 1, name: str = "study",
           sbatch: str = "sbatch", sbatch_args: Sequence[str] = (), on_done: Optional[OnDone] = None) -> LaunchReport:
    """Run ``jobs`` with launcher ``cmd`` and wait; failed jobs (non-zero or no exit status) are reported;
    ``on_done(job, exit status)`` after each job (slurm: after the array)."""
    if cmd not in LAUNCHERS:
        raise LaunchError(f"unknown launcher {cmd!r}; choose one of {', '.join(LAUNCHERS)}")
    if isinstance(nj, bool) or not isinstance(nj, int) or nj < 1:
        raise LaunchError(f"--nj must be a whole number >= 1, got {nj!r}")
    log_dir = Path(log_dir)
    (log_dir / "rc").mkdir(parents=True, exist_ok=True)
    for k in range(1, len(jobs) + 1):
        rc_path(log_dir, k).unlink(missing_ok=True)
    report = LaunchReport(list(jobs), log_dir)
    if not jobs:
        return report
    if cmd == "local":
        run_local(jobs, log_dir, nj, name, on_done)
    else:
        run_slurm(jobs, log_dir, nj, name, sbatch, sbatch_args)
        for k, job in enumerate(jobs, 1):
            if on_done is not None:
                on_done(job, read_code(rc_path(log_dir, k)))
    for k, job in enumerate(jobs, 1):
        code = read_code(rc_path(log_dir, k))
        if code != 0:
            status = "no exit status: killed or never started" if code is None else f"exit {code}"
            report.failed.append(f"{job.name} ({status}): {log_path(log_dir, k)}")
    return report


def read_code(path: Path) -> Optional[int]:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def default_jobs() -> int:
    """Cores available to this process."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
