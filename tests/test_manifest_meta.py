"""A manifest without its meta file is read, but not silently: the skipped checks are named once."""
import logging

import pytest

from s3prl_crosscorpus.core import manifest as mf
from s3prl_crosscorpus.core.io_utils import write_jsonl


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch):
    monkeypatch.setattr(mf, "_MISSING_META_WARNED", set(), raising=False)


def test_a_missing_meta_file_is_warned_about_once_naming_it(tmp_path, utterances, caplog):
    data = tmp_path / "data"
    write_jsonl(data / "manifest.jsonl", [u.to_dict() for u in utterances[:3]])
    with caplog.at_level(logging.WARNING, logger=mf.__name__):
        assert len(mf.load_manifest(data)) == 3
        assert len(mf.load_manifest(data)) == 3  # e.g. the expert and frame statistics of one run
    warnings = [r.getMessage() for r in caplog.records if r.name == mf.__name__]
    assert warnings == [f"warning: {data / mf.META} is missing: the fold-file and manifest checks were skipped "
                        "(a manifest written by `prepare` has one; re-run `prepare` to check them)"]


def test_a_prepared_manifest_is_read_without_warning(data_dir, caplog):
    assert (data_dir / mf.META).exists()
    with caplog.at_level(logging.WARNING, logger=mf.__name__):
        mf.load_manifest(data_dir)
    assert not [r for r in caplog.records if r.name == mf.__name__]
