"""Friction 8: a corpus copy unlike the published one (EmoDB at 22.05 kHz, cut to 1.5 s) is reported by `prepare`
and its paper comparison is marked in the leaderboard and the report."""
import numpy as np
import pytest
import soundfile as sf

from helpers.resultgen import write_results
from s3prl_crosscorpus.commands import leaderboard
from s3prl_crosscorpus.commands import prepare as prepare_command
from s3prl_crosscorpus.core.corpora.common import Utterance
from s3prl_crosscorpus.core.corpora.documented import DOCUMENTED, audio_differences
from s3prl_crosscorpus.core.io_utils import read_json
from s3prl_crosscorpus.core.manifest import META, load_manifest
from s3prl_crosscorpus.demo.synth import synthesize


def utt(rate: int, seconds: float) -> Utterance:
    return Utterance(id="emodb_x", corpus="emodb", path="x.wav", speaker="03", gender="M", language="de",
                     label="neu", source_label="neutral", sample_rate=rate, channels=1,
                     num_frames=int(round(rate * seconds)))


def test_documented_values_flag_other_rates_and_cut_copies_only():
    alike = [utt(16000, s) for s in np.linspace(1.3, 8.5, 30)]
    assert audio_differences("emodb", alike) == []
    resampled = audio_differences("emodb", [utt(22050, s) for s in np.linspace(1.3, 8.5, 30)])
    assert resampled == ["30 of 30 files at 22050 Hz, documented 16000 Hz (resampled to 16 kHz silently otherwise)"]
    cut = audio_differences("emodb", [utt(16000, min(s, 2.0)) for s in np.linspace(1.3, 8.5, 30)])
    assert len(cut) == 1 and cut[0].startswith("27 of 30 files end at 2.00 s (cut?)")
    assert DOCUMENTED["ravdess"].sample_rate == 48000  # PROTOCOL.md's table


@pytest.mark.e2e
def test_prepare_reports_and_the_leaderboard_marks_an_unlike_copy(tmp_path, capsys):
    roots = synthesize(tmp_path / "corpora", per_class=4, seed=0, corpora=("emodb",))
    for path in sorted((tmp_path / "corpora" / "emodb").rglob("*.wav")):
        audio, rate = sf.read(path)
        resampled = np.interp(np.arange(int(len(audio) * 22050 / rate)) * rate / 22050, np.arange(len(audio)), audio)
        sf.write(path, np.resize(resampled, int(1.5 * 22050)), 22050)  # every file 1.5 s at 22.05 kHz
    assert prepare_command.main(["--emodb", str(roots["emodb"]), "--out", str(tmp_path / "data")]) == 0
    printed = capsys.readouterr().out
    assert "UNLIKE THE PUBLISHED CORPUS: " in printed and "at 22050 Hz, documented 16000 Hz" in printed
    found = read_json(tmp_path / "data" / META)["documented_differences"]["emodb"]
    assert len(found) == 2 and "end at 1.50 s (cut?)" in found[1]
    write_results(tmp_path / "results", load_manifest(tmp_path / "data"), systems=("ComParE-SVM",),
                  conditions=("matched",), corpora=("emodb",))
    assert leaderboard.main([str(tmp_path / "results"), "--data", str(tmp_path / "data")]) == 0
    marked = capsys.readouterr().out
    row = next(line for line in marked.splitlines() if line.startswith("| ComParE-SVM"))
    assert " ≠]" in row.split("|")[2]
    assert "≠ EmoDB: this copy differs from the published corpus (" in marked
    assert leaderboard.main([str(tmp_path / "results")]) == 0  # without --data nothing is known
    assert "≠" not in capsys.readouterr().out
