"""prepare round trip, summary, idempotency and the manifest's fold-file check, through the CLI."""
import json
import shutil

import pytest

from s3prl_crosscorpus.commands.main import main
from s3prl_crosscorpus.core.corpora import read_emodb
from s3prl_crosscorpus.core.folds import fold_file_sha256
from s3prl_crosscorpus.core.manifest import ManifestError, load_manifest

FIELDS = ["id", "corpus", "path", "speaker", "gender", "language", "label", "source_label",
          "sample_rate", "channels", "num_frames"]


def run_prepare(roots, out):
    return main(["prepare"] + [a for c, p in roots.items() for a in (f"--{c}", str(p))] + ["--out", str(out)])


def test_prepare_round_trip_and_summary(synth_roots, tmp_path, capsys):
    assert run_prepare(synth_roots, tmp_path) == 0
    printed = capsys.readouterr().out
    assert "emodb       80 utterances  neu 20 hap 20 ang 20 sad 20  | 10 speakers" in printed
    assert "class not used: calm x24" in printed and "duplicate x1" in printed
    lines = [json.loads(line) for line in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    assert all(list(row) == FIELDS for row in lines)
    assert len(lines) == 80 + 192 + 80
    meta = json.loads((tmp_path / "manifest.meta.json").read_text())
    assert meta["fold_file_sha256"] == fold_file_sha256()
    assert [u.to_dict() for u in load_manifest(tmp_path)] == lines
    # Same code path as the readers: the manifest holds exactly what they return.
    assert [u.to_dict() for u in read_emodb(synth_roots["emodb"]).utterances] == lines[:80]


def test_prepare_is_idempotent(synth_roots, tmp_path):
    run_prepare(synth_roots, tmp_path / "a")
    run_prepare(synth_roots, tmp_path / "a")
    run_prepare(synth_roots, tmp_path / "b")
    assert (tmp_path / "a" / "manifest.jsonl").read_bytes() == (tmp_path / "b" / "manifest.jsonl").read_bytes()


def test_broken_file_is_listed_and_the_rest_written(synth_roots, tmp_path, capsys):
    emodb = tmp_path / "emodb"
    shutil.copytree(synth_roots["emodb"], emodb)
    broken = sorted((emodb / "wav").glob("*.wav"))[0]
    broken.write_bytes(b"not audio")
    assert run_prepare({"emodb": emodb}, tmp_path / "data") == 0
    printed = capsys.readouterr().out
    assert f"PROBLEM {broken}: unreadable wav" in printed
    assert len(load_manifest(tmp_path / "data")) == 79


def test_missing_root_exits_with_named_error(tmp_path, capsys):
    assert main(["prepare", "--emodb", str(tmp_path / "nowhere"), "--out", str(tmp_path)]) == 2
    assert str(tmp_path / "nowhere") in capsys.readouterr().err
    assert not (tmp_path / "manifest.jsonl").exists()


def test_manifest_from_another_fold_file_is_refused(data_dir, tmp_path):
    shutil.copy(data_dir / "manifest.jsonl", tmp_path)
    meta = json.loads((data_dir / "manifest.meta.json").read_text())
    meta["fold_file_sha256"] = "0" * 64
    (tmp_path / "manifest.meta.json").write_text(json.dumps(meta))
    with pytest.raises(ManifestError, match="fold file"):
        load_manifest(tmp_path)


def test_missing_manifest_is_named(tmp_path):
    with pytest.raises(ManifestError, match="manifest not found"):
        load_manifest(tmp_path)


def test_folds_command_prints_per_corpus_and_fold(data_dir, capsys):
    assert main(["folds", "--data", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert out.count("== ") == 3 and "Ses01F(F) Ses01M(M)" in out
