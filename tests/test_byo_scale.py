"""Scale: the exact kernel search refuses a too-large corpus before extracting anything; the benchmark's corpus."""
import soundfile as sf

import baseline_svm.search as search
from baseline_svm.run import RunConfig, run
from baseline_svm.search import SearchMemoryError
from s3prl_crosscorpus.benchmarks.byo import run as bench_run, tiny_wav
from s3prl_crosscorpus.core.corpora import Utterance
from s3prl_crosscorpus.core.labels import LABELS

import pytest


def big_manifest(rows, speakers):
    """A CSV-like corpus of ``rows`` utterances whose audio does not exist (extraction would fail at once)."""
    return [Utterance(id=f"big_u{i}", corpus="big", path=f"/nonexistent/u{i}.wav", speaker=f"s{i % speakers}",
                      gender="FM"[(i % speakers) % 2], language="und", label=LABELS[(i // speakers) % 4],
                      source_label="x", sample_rate=16000, channels=1, num_frames=16000) for i in range(rows)]


def test_kernel_search_refuses_before_extraction_naming_the_alternative(tmp_path, monkeypatch):
    monkeypatch.setattr(search, "available_memory", lambda: 8 * 2 ** 30)
    config = RunConfig(data_dir=tmp_path, out=tmp_path / "r", feature_set="eGeMAPSv02", condition="matched",
                       test_corpus="big", folds=(1,), cache_dir=tmp_path / "c")
    with pytest.raises(SearchMemoryError, match=r"needs .* GiB for 21600 training .*--search sklearn"):
        run(config, utts=big_manifest(30_000, 300))
    assert not (tmp_path / "c").exists()  # nothing was extracted


def test_benchmark_wavs_are_distinct_header_readable_files(tmp_path):
    for i in (0, 1, 149_999):
        (tmp_path / f"{i}.wav").write_bytes(tiny_wav(i))
        info = sf.info(str(tmp_path / f"{i}.wav"))
        assert (info.frames, info.samplerate) == (16, 16000)
    assert tiny_wav(1) != tiny_wav(2)


def test_benchmark_prepares_and_folds_a_csv_corpus(tmp_path):
    report = bench_run(600, 12, tmp_path)
    assert (report["rows"], report["speakers"], report["test_only"]) == (600, 12, {})
    assert [name for name, _, _ in report["stages"]][-1] == "`folds` description"
