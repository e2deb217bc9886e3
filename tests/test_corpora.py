"""Corpus readers on the synthetic trees, the full RAVDESS name grid, and every bad-input case."""
import itertools
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from s3prl_crosscorpus.core.corpora import CorpusError, read_emodb, read_iemocap, read_ravdess
from s3prl_crosscorpus.core.corpora.iemocap import SUMMARY, iemocap_speaker
from s3prl_crosscorpus.core.labels import LABELS

from conftest import PER_CLASS


def test_emodb_reads_four_classes_with_speakers_and_genders(synth_roots):
    read = read_emodb(synth_roots["emodb"])
    assert Counter(u.label for u in read.utterances) == {lab: 10 * PER_CLASS for lab in LABELS}
    genders = {u.speaker: u.gender for u in read.utterances}
    assert genders == {"03": "M", "10": "M", "11": "M", "12": "M", "15": "M",
                       "08": "F", "09": "F", "13": "F", "14": "F", "16": "F"}
    assert {u.sample_rate for u in read.utterances} == {16000}
    assert all(u.language == "de" and u.id == f"emodb_{Path(u.path).stem}" for u in read.utterances)
    # Boredom, fear and disgust are left out by protocol, not as problems.
    assert len(read.left_out) == 10 and not read.problems
    assert {item.reason for item in read.left_out} <= {
        "class not used: boredom", "class not used: fear", "class not used: disgust"}


def test_emodb_letter_mapping():
    pass_map = {"W": "ang", "F": "hap", "T": "sad", "N": "neu"}
    from s3prl_crosscorpus.core.labels import EMODB_SOURCE, four_class
    assert {k: four_class("emodb", EMODB_SOURCE[k]) for k in pass_map} == pass_map
    assert four_class("emodb", EMODB_SOURCE["L"]) is None


def test_ravdess_speech_only_calm_out_duplicates_read_once(synth_roots):
    read = read_ravdess(synth_roots["ravdess"])
    assert Counter(u.label for u in read.utterances) == {lab: 24 * PER_CLASS for lab in LABELS}
    assert {u.sample_rate for u in read.utterances} == {48000}
    assert {u.channels for u in read.utterances} == {1, 2}
    assert {u.gender for u in read.utterances if u.speaker == "Actor_07"} == {"M"}
    assert {u.gender for u in read.utterances if u.speaker == "Actor_08"} == {"F"}
    reasons = Counter(item.reason.split(" (")[0] for item in read.left_out)
    assert reasons["class not used: calm"] == 24
    assert reasons["not audio-only speech"] == 4 and reasons["duplicate"] == 1
    assert len({u.id for u in read.utterances}) == len(read.utterances)
    assert not any("audio_speech_actors" in u.path for u in read.utterances)


def tiny_wav(path: Path, rate: int = 16000, channels: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.zeros((8, channels), dtype=np.float32), rate)


def test_ravdess_full_name_grid_gives_protocol_count(tmp_path):
    """All 1440 speech file names of the real corpus -> 672 four-class utterances (PROTOCOL.md)."""
    for actor in range(1, 25):
        for emotion in range(1, 9):
            for intensity, statement, rep in itertools.product((1, 2), (1, 2), (1, 2)):
                if emotion == 1 and intensity == 2:
                    continue  # neutral has normal intensity only
                name = f"03-01-{emotion:02d}-{intensity:02d}-{statement:02d}-{rep:02d}-{actor:02d}.wav"
                tiny_wav(tmp_path / f"Actor_{actor:02d}" / name, 48000)
    read = read_ravdess(tmp_path)
    assert len(read.utterances) + len(read.left_out) == 1440
    assert Counter(u.label for u in read.utterances) == {"neu": 96, "hap": 192, "ang": 192, "sad": 192}


def test_iemocap_merges_exc_into_hap_and_skips_side_files(synth_roots):
    read = read_iemocap(synth_roots["iemocap"])
    assert Counter(u.label for u in read.utterances) == {lab: 10 * PER_CLASS for lab in LABELS}
    assert {u.source_label for u in read.utterances if u.label == "hap"} == {"hap", "exc"}
    assert Counter(item.reason for item in read.left_out) == {
        "class not used: fru": 10, "class not used: xxx": 10, "class not used: sur": 10}
    assert {u.speaker for u in read.utterances} == {f"Ses0{s}{g}" for s in range(1, 6) for g in "FM"}
    for u in read.utterances:
        assert u.gender == u.speaker[-1] and Path(u.path).parent.name == u.id[len("iemocap_"):].rsplit("_", 1)[0]


def test_iemocap_summary_line_and_speaker_rules():
    line = "[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]"
    match = SUMMARY.match(line)
    assert match and match["utt"] == "Ses01F_impro01_F000" and match["code"] == "neu"
    assert iemocap_speaker("Ses01F_impro01_M003") == ("Ses01M", "M")
    assert iemocap_speaker("Ses03M_script01_1_F012") == ("Ses03F", "F")
    assert not SUMMARY.match("C-E2:\tNeutral;\t()")


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("reader", [read_emodb, read_ravdess, read_iemocap])
def test_missing_root_is_named(reader, tmp_path):
    with pytest.raises(CorpusError, match=str(tmp_path / "nope")):
        reader(tmp_path / "nope")


@pytest.mark.parametrize("reader", [read_emodb, read_ravdess, read_iemocap])
def test_root_that_is_a_file_is_refused(reader, tmp_path):
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(CorpusError, match="not a folder"):
        reader(tmp_path / "file.txt")


@pytest.mark.parametrize("reader,expected", [(read_emodb, "no wav files"), (read_ravdess, "Actor_NN"),
                                             (read_iemocap, "EmoEvaluation")])
def test_root_without_expected_files(reader, expected, tmp_path):
    with pytest.raises(CorpusError, match=expected):
        reader(tmp_path)


def test_wrong_root_is_refused(synth_roots):
    """Pointing --emodb at the RAVDESS tree finds none of EmoDB's files."""
    with pytest.raises(CorpusError, match="EmoDB"):
        read_emodb(synth_roots["ravdess"])


def test_unreadable_empty_and_misnamed_wavs_are_reported_and_skipped(tmp_path):
    tiny_wav(tmp_path / "wav" / "03a01Fa.wav")
    (tmp_path / "wav" / "03a01Wa.wav").write_bytes(b"RIFF garbage, not a wav")
    sf.write(str(tmp_path / "wav" / "08a01Na.wav"), np.zeros(0, dtype=np.float32), 16000)
    tiny_wav(tmp_path / "wav" / "notes.wav")
    read = read_emodb(tmp_path)
    assert [u.id for u in read.utterances] == ["emodb_03a01Fa"]
    problems = {Path(p.path).name: p.reason for p in read.problems}
    assert problems["03a01Wa.wav"].startswith("unreadable wav")
    assert problems["08a01Na.wav"] == "empty wav (0 samples)"
    assert "convention" in problems["notes.wav"]


def iemocap_tree(root: Path, lines: str, make_wavs=("Ses01F_impro01_F000",)) -> Path:
    evaluation = root / "Session1" / "dialog" / "EmoEvaluation"
    evaluation.mkdir(parents=True)
    (evaluation / "Ses01F_impro01.txt").write_text("% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n" + lines)
    for utt in make_wavs:
        tiny_wav(root / "Session1" / "sentences" / "wav" / "Ses01F_impro01" / f"{utt}.wav")
    return evaluation / "Ses01F_impro01.txt"


def test_iemocap_unparseable_line_is_named_with_file_and_line(tmp_path):
    label_file = iemocap_tree(tmp_path, "[6.29 - 8.23]\tSes01F_impro01_F000\tneu\t[2.5, 2.5, 2.5]\n"
                                        "C-E2:\tNeutral;\t()\n\n[9.1 - oops\tSes01F_impro01_M001\n")
    read = read_iemocap(tmp_path)
    assert [u.id for u in read.utterances] == ["iemocap_Ses01F_impro01_F000"]
    (problem,) = read.problems
    assert problem.path == str(label_file) and "line 6 does not parse" in problem.reason


def test_iemocap_entry_without_wav_is_named(tmp_path):
    iemocap_tree(tmp_path, "[6.29 - 8.23]\tSes01F_impro01_F000\tneu\t[2.5, 2.5, 2.5]\n\n"
                           "[9.10 - 9.90]\tSes01F_impro01_M001\tang\t[2.5, 2.5, 2.5]\n")
    (problem,) = read_iemocap(tmp_path).problems
    assert problem.path.endswith("Ses01F_impro01/Ses01F_impro01_M001.wav")
    assert "missing wav" in problem.reason and "Ses01F_impro01.txt" in problem.reason
