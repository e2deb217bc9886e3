"""``synth`` on a full disk: one line naming the file, exit 1, and no partial wav left behind."""
import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from s3prl_crosscorpus.commands import synth as synth_command
from s3prl_crosscorpus.demo import synth


def test_a_full_disk_names_the_file_and_leaves_nothing_partial(tmp_path, monkeypatch, capsys):
    def no_space(fd):  # as the project's other full-disk tests: the error surfaces when data reaches the disk
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    out = tmp_path / "corpora"
    assert synth_command.main(["--out", str(out), "--utterances-per-class", "1"]) == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error" in line.lower()]
    first = out / "emodb" / "wav" / "03a01Na.wav"  # the first file synthesised
    assert errors == [f"error: cannot write {first}: No space left on device"] and "Traceback" not in err
    assert not [p for p in out.rglob("*") if p.is_file()]  # no partial wav, no temporary file


FILE_SIZE_LIMIT = 100_000


def test_a_write_failing_mid_file_leaves_only_whole_files(tmp_path):
    """A real mid-file failure: the kernel refuses bytes past RLIMIT_FSIZE (EFBIG) in a child process."""
    out = tmp_path / "corpora"
    code = (f"import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            f"resource.setrlimit(resource.RLIMIT_FSIZE, ({FILE_SIZE_LIMIT}, {FILE_SIZE_LIMIT})); "
            f"from s3prl_crosscorpus.commands.synth import main; sys.exit(main(['--out', {str(out)!r}]))")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert len(errors) == 1 and errors[0].startswith(f"error: cannot write {out}") and "File too large" in errors[0]
    victim = Path(errors[0].split("cannot write ", 1)[1].rsplit(": ", 1)[0])
    assert victim.suffix == ".wav" and not victim.exists()
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files and not [p for p in files if p.name.endswith(".tmp")]
    for path in files:  # every file left is whole: a readable wav below the limit
        assert path.stat().st_size < FILE_SIZE_LIMIT
        samples, _ = sf.read(path)
        assert len(samples) > 1000 and np.isfinite(samples).all()


def test_wav_bytes_are_those_soundfile_writes_to_a_path(tmp_path):
    audio = np.random.default_rng(0).uniform(-0.9, 0.9, 4800).astype(np.float32)
    for channels, rate in ((1, 16000), (2, 48000)):
        synth.write_wav(tmp_path / "ours.wav", audio, rate, channels)
        data = np.stack([audio, 0.9 * audio], axis=1) if channels == 2 else audio
        sf.write(str(tmp_path / "direct.wav"), data, rate, subtype="PCM_16")
        assert (tmp_path / "ours.wav").read_bytes() == (tmp_path / "direct.wav").read_bytes()
