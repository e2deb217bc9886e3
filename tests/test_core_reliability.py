"""Bad input in the protocol core: duplicates, truncated and broken files, bad manifest rows, the
manifest/meta pair, full disks. Every case must give a message naming the file, never a wrong count."""
import errno
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from s3prl_crosscorpus.commands.main import main
from s3prl_crosscorpus.core import io_utils
from s3prl_crosscorpus.core.corpora import CorpusError, read_iemocap, read_ravdess
from s3prl_crosscorpus.core.folds import FoldError, make_split
from s3prl_crosscorpus.core.io_utils import WriteError, atomic_open, write_json
from s3prl_crosscorpus.core.manifest import ManifestError, load_manifest, prepare


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_iemocap_utterance_listed_twice_is_reported_and_kept_once(synth_roots, tmp_path):
    root = copy_tree(synth_roots["iemocap"], tmp_path / "iemocap")
    label_file = sorted((root / "Session1" / "dialog" / "EmoEvaluation").glob("Ses*.txt"))[0]
    summary = next(line for line in label_file.read_text().splitlines() if line.startswith("[") and "\tneu\t" in line)
    label_file.write_text(label_file.read_text() + summary + "\n")
    read = read_iemocap(root)
    ids = [u.id for u in read.utterances]
    assert len(ids) == len(set(ids)) == len(read_iemocap(synth_roots["iemocap"]).utterances)
    [problem] = [p for p in read.problems if "listed again" in p.reason]
    assert problem.path == str(label_file) and summary.split("\t")[1] in problem.reason


def test_duplicate_ids_are_refused_by_load_and_split(data_dir, tmp_path):
    lines = (data_dir / "manifest.jsonl").read_text().splitlines()
    (tmp_path / "manifest.jsonl").write_text("\n".join(lines + [lines[3]]) + "\n")
    with pytest.raises(ManifestError, match=r"manifest.jsonl:%d: utterance id .* already on line 4" % (len(lines) + 1)):
        load_manifest(tmp_path)
    utts = load_manifest(data_dir)
    with pytest.raises(FoldError, match="more than once"):
        make_split(utts + [utts[3]], "matched", 1, "emodb")


def write_tone(path: Path, rate: int = 48000, seconds: float = 0.5, freq: float = 220.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(rate * seconds)) / rate
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate, subtype="PCM_16")


NAME = "03-01-05-01-01-01-01.wav"  # angry, actor 1


def test_ravdess_same_name_other_content_is_a_problem_naming_both(tmp_path):
    write_tone(tmp_path / "Actor_01" / NAME, freq=220)
    write_tone(tmp_path / "audio_speech_actors_01-24" / "Actor_01" / NAME, freq=330)
    read = read_ravdess(tmp_path)
    assert [Path(u.path).name for u in read.utterances] == [NAME]
    [problem] = read.problems
    assert "different audio" in problem.reason and str(tmp_path / "Actor_01" / NAME) in problem.reason
    assert problem.path == str(tmp_path / "audio_speech_actors_01-24" / "Actor_01" / NAME)


def test_ravdess_identical_copies_are_read_once_without_problem(tmp_path):
    write_tone(tmp_path / "Actor_01" / NAME)
    shutil.copytree(tmp_path / "Actor_01", tmp_path / "copy" / "Actor_01")
    read = read_ravdess(tmp_path)
    assert len(read.utterances) == 1 and not read.problems
    assert [item.reason.split(" (")[0] for item in read.left_out] == ["duplicate"]


def test_ravdess_prefers_a_readable_copy_over_a_broken_one_that_sorts_first(tmp_path):
    (tmp_path / "Actor_01").mkdir()
    (tmp_path / "Actor_01" / NAME).write_bytes(b"RIFF broken")
    good = tmp_path / "speech" / "Actor_01" / NAME
    write_tone(good)
    read = read_ravdess(tmp_path)
    assert [u.path for u in read.utterances] == [str(good.resolve())]
    assert any("broken copy" in p.reason and p.path == str(tmp_path / "Actor_01" / NAME) for p in read.problems)


def test_ravdess_search_is_bounded_to_two_levels(tmp_path):
    write_tone(tmp_path / "a" / "b" / "Actor_01" / NAME)  # too deep: a wrong root must not walk everything
    with pytest.raises(CorpusError, match="direct sub-folders"):
        read_ravdess(tmp_path)
    write_tone(tmp_path / "b" / "Actor_01" / NAME)
    assert len(read_ravdess(tmp_path).utterances) == 1


def test_truncated_wav_is_a_problem(tmp_path):
    path = tmp_path / "Actor_01" / NAME
    write_tone(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # header still announces every frame
    read = read_ravdess(tmp_path)
    assert not read.utterances
    assert "truncated wav" in read.problems[0].reason and read.problems[0].path == str(path)


def test_prepare_refuses_a_corpus_without_usable_files_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "Actor_01").mkdir()
    (tmp_path / "Actor_01" / NAME).write_bytes(b"not audio")
    assert main(["prepare", "--ravdess", str(tmp_path), "--out", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert "no usable utterance" in err and NAME in err
    assert not (tmp_path / "data" / "manifest.jsonl").exists()


def test_prepare_reports_content_duplicates_and_keeps_both(synth_roots, tmp_path, capsys):
    root = copy_tree(synth_roots["emodb"], tmp_path / "emodb")
    wavs = sorted((root / "wav").glob("*.wav"))
    original = next(p for p in wavs if p.name[5] == "W")
    copy = root / "wav" / f"{original.name[:2]}b99W{original.name[6:]}"
    shutil.copy(original, copy)
    assert main(["prepare", "--emodb", str(root), "--out", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert "DUPLICATE AUDIO" in out and original.stem in out and copy.stem in out
    meta = json.loads((tmp_path / "data" / "manifest.meta.json").read_text())
    assert sorted(meta["content_duplicates"][0]) == sorted([f"emodb_{original.stem}", f"emodb_{copy.stem}"])
    assert len(load_manifest(tmp_path / "data")) == 81


@pytest.mark.parametrize("edit, message", [
    (lambda row: row.update(label="fear"), "unknown label 'fear'"),
    (lambda row: row.update(corpus="timit"), "unknown corpus 'timit'"),
    (lambda row: row.pop("speaker"), "missing field"),
    (lambda row: row.update(num_frames=0), "num_frames must be a positive integer"),
    (lambda row: row.update(path="/nowhere/x.wav"), "does not exist"),
])
def test_bad_manifest_row_is_named_with_file_and_line(data_dir, tmp_path, edit, message):
    rows = [json.loads(line) for line in (data_dir / "manifest.jsonl").read_text().splitlines()]
    edit(rows[6])
    (tmp_path / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ManifestError, match=f"manifest.jsonl:7: .*{message}"):
        load_manifest(tmp_path)


def test_broken_json_line_and_missing_manifest_give_messages_not_tracebacks(data_dir, tmp_path, capsys):
    assert main(["folds", "--data", str(tmp_path)]) == 2
    assert "manifest not found" in capsys.readouterr().err
    lines = (data_dir / "manifest.jsonl").read_text().splitlines()
    (tmp_path / "manifest.jsonl").write_text("\n".join(lines[:2] + ['{"id": '] + lines[2:]) + "\n")
    assert main(["folds", "--data", str(tmp_path)]) == 2
    assert "manifest.jsonl:3: not a JSON line" in capsys.readouterr().err


def test_manifest_and_meta_from_different_runs_are_refused(synth_roots, tmp_path):
    prepare({"emodb": synth_roots["emodb"]}, tmp_path / "a", progress=False)
    prepare({"emodb": synth_roots["emodb"], "iemocap": synth_roots["iemocap"]}, tmp_path / "b", progress=False)
    shutil.copy(tmp_path / "b" / "manifest.jsonl", tmp_path / "a" / "manifest.jsonl")  # as if meta failed to follow
    with pytest.raises(ManifestError, match="different `prepare` runs"):
        load_manifest(tmp_path / "a")


def test_atomic_write_keeps_the_old_file_until_success(tmp_path):
    target = tmp_path / "result.json"
    write_json(target, {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_open(target, "w") as handle:
            handle.write('{"v": 2')
            assert json.loads(target.read_text()) == {"v": 1}  # nothing written in place
            raise RuntimeError("killed mid-write")
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temporary left behind
    write_json(target, {"v": 3})
    assert json.loads(target.read_text()) == {"v": 3}
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~io_utils.current_umask())


def test_full_disk_names_the_file_and_prepare_exits_cleanly(synth_roots, tmp_path, monkeypatch, capsys):
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(io_utils.os, "fsync", no_space)
    with pytest.raises(WriteError, match=f"cannot write {tmp_path / 'x.json'}: No space left"):
        write_json(tmp_path / "x.json", {})
    assert main(["prepare", "--emodb", str(synth_roots["emodb"]), "--out", str(tmp_path / "data")]) == 2
    assert "No space left" in capsys.readouterr().err
    assert not (tmp_path / "data" / "manifest.jsonl").exists()
