"""16 kHz mono loading from any rate and channel count, with named errors."""
import numpy as np
import pytest
import soundfile as sf

from s3prl_crosscorpus.core.audio import AudioError, load_audio


def tone(rate: int, seconds: float = 0.5, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
def test_resamples_to_16k_keeping_duration_and_pitch(tmp_path, rate):
    sf.write(str(tmp_path / "a.wav"), tone(rate), rate)
    audio = load_audio(tmp_path / "a.wav")
    assert audio.dtype == np.float32 and abs(len(audio) - 8000) <= 1
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) * 16000 / len(audio) - 440) < 5


def test_stereo_is_downmixed(tmp_path):
    left = tone(48000)
    sf.write(str(tmp_path / "s.wav"), np.stack([left, -left], axis=1), 48000)
    assert np.max(np.abs(load_audio(tmp_path / "s.wav"))) < 1e-3  # opposite channels cancel
    sf.write(str(tmp_path / "s.wav"), np.stack([left, left], axis=1), 48000)
    assert np.max(np.abs(load_audio(tmp_path / "s.wav"))) > 0.4


def test_bad_files_name_the_file(tmp_path):
    (tmp_path / "junk.wav").write_bytes(b"junk")
    with pytest.raises(AudioError, match="junk.wav: cannot read audio"):
        load_audio(tmp_path / "junk.wav")
    sf.write(str(tmp_path / "empty.wav"), np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="empty.wav: audio file holds no samples"):
        load_audio(tmp_path / "empty.wav")
    sf.write(str(tmp_path / "nan.wav"), np.full(100, np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="nan.wav: audio holds non-finite"):
        load_audio(tmp_path / "nan.wav")
