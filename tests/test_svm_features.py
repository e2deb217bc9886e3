"""openSMILE feature extraction: dimensions, downmix, disk cache, bad files."""
import shutil

import numpy as np
import pytest
import soundfile as sf

from baseline_svm.features import FEATURE_SETS, FeatureError, cache_folder, extract
from helpers.svm import write_broken_files


@pytest.fixture(scope="module")
def some_files(utterances):
    """Two files per corpus, including one stereo 48 kHz RAVDESS file."""
    picked = []
    for corpus in ("emodb", "ravdess", "iemocap"):
        picked += [u for u in utterances if u.corpus == corpus][:2]
    stereo = [u for u in utterances if u.channels == 2]
    assert stereo, "the synthetic RAVDESS copy should hold stereo files"
    return [u.path for u in picked] + [stereo[0].path]


@pytest.mark.parametrize("feature_set", list(FEATURE_SETS))
def test_dimensions_per_feature_set(feature_set, some_files):
    got = extract(some_files[-2:], feature_set, n_jobs=1, progress=False)
    assert not got.excluded
    assert got.matrix(some_files[-2:]).shape == (2, FEATURE_SETS[feature_set])


def test_unknown_feature_set_is_refused(some_files):
    with pytest.raises(FeatureError, match="unknown feature set 'IS09'.*GeMAPSv01b"):
        extract(some_files, "IS09")


def test_stereo_is_downmixed(tmp_path, some_files):
    mono, rate = sf.read(some_files[0], dtype="float32")
    sf.write(str(tmp_path / "mono.wav"), mono, rate, subtype="FLOAT")
    sf.write(str(tmp_path / "stereo.wav"), np.stack([mono * 1.5, mono * 0.5], axis=1), rate, subtype="FLOAT")
    got = extract([tmp_path / "mono.wav", tmp_path / "stereo.wav"], "eGeMAPSv02", n_jobs=1, progress=False)
    a, b = got.matrix([str(tmp_path / "mono.wav"), str(tmp_path / "stereo.wav")])
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_second_run_hits_the_cache(tmp_path, some_files):
    cache = tmp_path / "cache"
    first = extract(some_files, "GeMAPSv01b", cache_dir=cache, n_jobs=2, progress=False)
    assert (first.extracted, first.cached) == (len(some_files), 0)
    second = extract(some_files, "GeMAPSv01b", cache_dir=cache, n_jobs=2, progress=False)
    assert (second.extracted, second.cached) == (0, len(some_files))
    np.testing.assert_array_equal(first.matrix(some_files), second.matrix(some_files))
    # The key is the file's content: a renamed copy is a hit, another feature set is a miss.
    copy = tmp_path / "renamed.wav"
    shutil.copy(some_files[0], copy)
    assert extract([copy], "GeMAPSv01b", cache_dir=cache, progress=False).cached == 1
    assert extract([copy], "eGeMAPSv02", cache_dir=cache, progress=False).extracted == 1


def test_corrupt_cache_entry_is_recomputed(tmp_path, some_files):
    cache = tmp_path / "cache"
    first = extract(some_files[:3], "GeMAPSv01b", cache_dir=cache, n_jobs=1, progress=False)
    entries = sorted(cache_folder(cache, "GeMAPSv01b").rglob("*.npy"))
    assert len(entries) == 3
    entries[0].write_bytes(entries[0].read_bytes()[:40])  # truncated write
    again = extract(some_files[:3], "GeMAPSv01b", cache_dir=cache, n_jobs=1, progress=False)
    assert (again.extracted, again.cached) == (1, 2)
    np.testing.assert_array_equal(first.matrix(some_files[:3]), again.matrix(some_files[:3]))


def test_bad_files_are_excluded_and_named(tmp_path, some_files, capsys):
    bad = write_broken_files(tmp_path / "bad")
    paths = some_files[:2] + [str(p) for p in bad.values()]
    cache = tmp_path / "cache"
    got = extract(paths, "eGeMAPSv02", cache_dir=cache, n_jobs=2, progress=False)
    assert sorted(got.vectors) == sorted(some_files[:2])
    reasons = {e["path"]: e["reason"] for e in got.excluded}
    assert sorted(reasons) == sorted(str(p) for p in bad.values())
    assert "non-finite" in reasons[str(bad["nan"])]
    assert "cannot read" in reasons[str(bad["garbage"])]
    assert "cannot read file" in reasons[str(bad["missing"])]
    err = capsys.readouterr().err
    for path in bad.values():
        assert f"excluded {path}:" in err
    # Failures are cached by content: a re-run extracts nothing and still names the files.
    again = extract(paths, "eGeMAPSv02", cache_dir=cache, n_jobs=2, progress=False)
    assert again.extracted == 1  # only the missing file, which has no content to key on
    assert {e["path"]: e["reason"] for e in again.excluded} == reasons
    assert f"excluded {bad['nan']}:" in capsys.readouterr().err
