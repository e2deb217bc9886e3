"""Stage 0 of run.sh is skipped by a stamp of its inputs (DATA/.prepared): the stamp covers the content of a
``--csv NAME=FILE`` table and of an audformat database's header and tables, not only the arguments, so a table
edited after `prepare` (even keeping its size and mtime) makes stage 0 prepare again."""
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN_SH = ROOT / "recipes" / "run.sh"


def stamp(*args: str) -> str:
    """run.sh's own ``inputs_stamp`` function, called on ``args``."""
    function = re.search(r"^inputs_stamp\(\) \{\n.*?^\}\n", RUN_SH.read_text(), re.S | re.M).group(0)
    done = subprocess.run(["bash", "-c", f'set -euo pipefail\n{function}inputs_stamp "$@"', "stamp", *args],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def edit_keeping_size_and_mtime(path: Path, old: str, new: str) -> None:
    """Replace ``old`` by the equally long ``new`` and restore the mtime: only the content tells the change."""
    assert len(old) == len(new)
    before = path.stat()
    path.write_text(path.read_text().replace(old, new, 1))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size


def test_the_stamp_covers_a_csv_tables_content(tmp_path):
    table = tmp_path / "mine.csv"
    table.write_text("path,label,speaker\na.wav,happy,s1\nb.wav,angry,s2\n")
    first = stamp("--csv", f"mine={table}")
    assert stamp("--csv", f"mine={table}") == first  # nothing changed: prepare is skipped
    edit_keeping_size_and_mtime(table, "a.wav,happy", "a.wav,angry")
    assert stamp("--csv", f"mine={table}") != first


def test_the_stamp_covers_an_audformat_databases_tables_and_files(tmp_path):
    db = tmp_path / "db"
    (db / "audio").mkdir(parents=True)
    (db / "db.yaml").write_text("name: tiny\n")
    (db / "db.files.csv").write_text("file,emotion\naudio/a.wav,happy\n")
    (db / "audio" / "a.wav").write_bytes(b"RIFF")
    first = stamp("--audformat", f"tiny={db}")
    assert stamp("--audformat", f"tiny={db}") == first
    edit_keeping_size_and_mtime(db / "db.files.csv", "happy", "angry")
    second = stamp("--audformat", f"tiny={db}")
    assert second != first
    (db / "audio" / "b.wav").write_bytes(b"RIFF")  # a file added to the database
    assert stamp("--audformat", f"tiny={db}") != second


def test_the_stamp_of_a_root_still_lists_its_files(tmp_path):
    root = tmp_path / "emodb"
    (root / "wav").mkdir(parents=True)
    (root / "wav" / "03a01Fa.wav").write_bytes(b"RIFF")
    first = stamp("--emodb", str(root))
    assert stamp("--emodb", str(root)) == first
    (root / "wav" / "03a01Wa.wav").write_bytes(b"RIFF")
    assert stamp("--emodb", str(root)) != first


@pytest.mark.e2e
def test_stage_0_prepares_again_after_the_csv_is_edited(tmp_path):
    from test_byo_e2e import write_csv_corpus  # the bring-your-own tests' synthetic CSV corpus

    table = write_csv_corpus(tmp_path / "mine")
    text = table.read_text()
    for source, label in (("neutral", "neu"), ("happy", "hap"), ("angry", "ang"), ("sad", "sad")):
        text = text.replace(f",{source},", f",{label},")  # the four classes: no label map needed
    table.write_text(text)
    study = tmp_path / "study.yaml"
    study.write_text(f"corpora:\n  mine: {{csv: {table}}}\nconditions: [matched]\nsystems:\n  svm:\n"
                     "    feature_sets: [eGeMAPSv02]\n")
    out = tmp_path / "out"

    def stage0() -> str:
        done = subprocess.run(["bash", str(RUN_SH), "--study", str(study), "--out", str(out), "--stop-stage", "0"],
                              cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stderr

    assert "kept" not in stage0()
    manifest = (out / "data" / "manifest.jsonl").read_text()
    assert "manifest made from the same input files" in stage0()
    edit_keeping_size_and_mtime(table, "hap_0.wav,hap,", "hap_0.wav,ang,")
    assert "kept" not in stage0()
    assert (out / "data" / "manifest.jsonl").read_text() != manifest  # the edited label reached the manifest
