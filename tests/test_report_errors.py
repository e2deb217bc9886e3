"""`report`'s bad input: one `error:` line naming the file that is wrong (the probe, a result, the manifest), never
another file and never `None:` when no --probe was given."""
import json
import shutil

import pytest

from helpers.resultgen import write_results
from s3prl_crosscorpus.commands import report as report_command
from s3prl_crosscorpus.core.manifest import META
from s3prl_crosscorpus.core.io_utils import read_json, write_json


@pytest.fixture(scope="module")
def results(tmp_path_factory, utterances):
    out = tmp_path_factory.mktemp("report_error_results")
    write_results(out, utterances, systems=("ComParE-SVM",), corpora=("emodb",))
    return out


def report_error(argv, tmp_path, capsys) -> str:
    """The one stderr line of a refused report (exit 2, no page written)."""
    html = tmp_path / "r.html"
    assert report_command.main([*map(str, argv), "--out", str(html), "--resamples", "20"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "None:" not in err, err
    assert not html.exists()
    return err


@pytest.mark.parametrize("content, why", [
    ("not json", "not valid JSON"),
    ("[1, 2]", "no 'rows' list"),
    ('{"table": []}', "no 'rows' list"),
    ('{"rows": [{"source": "layer 3", "norm": "none", "std": 0.1, "chance": 0.25}]}', "rows/0 has no 'uar'"),
    ('{"rows": [{"source": "layer 3", "norm": "none", "uar": "high", "std": 0.1, "chance": 0.25}]}',
     "rows/0 has no 'uar'"),
])
def test_a_probe_that_is_not_a_probe_is_named(results, tmp_path, capsys, content, why):
    probe = tmp_path / "probe.json"
    probe.write_text(content, encoding="utf-8")
    err = report_error([results, "--probe", probe], tmp_path, capsys)
    assert err.startswith(f"error: {probe}: ") and why in err


def test_a_missing_probe_is_named_not_ignored(results, tmp_path, capsys):
    probe = tmp_path / "absent" / "probe.json"
    err = report_error([results, "--probe", probe], tmp_path, capsys)
    assert err.startswith(f"error: {probe}: cannot read the probe file")


def copy_data(data_dir, tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    for name in ("manifest.jsonl", META):
        shutil.copy(data_dir / name, out / name)
    return out


def test_a_manifest_that_is_not_utf8_is_named_with_its_line(results, data_dir, tmp_path, capsys):
    data = copy_data(data_dir, tmp_path)
    meta = read_json(data / META)
    meta.pop("manifest_sha256", None)  # as a manifest written before the hash was recorded
    write_json(data / META, meta)
    manifest = data / "manifest.jsonl"
    lines = manifest.read_bytes().splitlines(keepends=True)
    manifest.write_bytes(b"".join(lines) + json.dumps({"id": "x"}).encode().replace(b"x", b"\xf6") + b"\n")
    err = report_error([results, "--data", data], tmp_path, capsys)
    assert err.startswith(f"error: {manifest}:{len(lines) + 1}: not UTF-8 text")


def test_a_manifest_meta_that_is_not_an_object_is_named(results, data_dir, tmp_path, capsys):
    data = copy_data(data_dir, tmp_path)
    (data / META).write_text("[1]", encoding="utf-8")
    err = report_error([results, "--data", data], tmp_path, capsys)
    assert err.startswith(f"error: {data / META}: not a JSON object")


def test_a_bad_result_is_named_and_the_absent_probe_is_not(results, tmp_path, capsys):
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    bad = copy / "ComParE-SVM" / "matched" / "emodb" / "fold1.json"
    bad.write_text("{", encoding="utf-8")
    err = report_error([copy], tmp_path, capsys)
    assert err.startswith(f"error: {bad}: not valid JSON")
