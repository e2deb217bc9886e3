"""The augmentation SPEC: parsing, defaults, refusals, canonical/system-name forms, and the effects' behaviour."""
import numpy as np
import pytest
import soundfile as sf

from s3prl_crosscorpus.augment import effects
from s3prl_crosscorpus.augment.plan import apply_plan, copy_seed, draw_plan
from s3prl_crosscorpus.augment.spec import PITCH_WARNING, SpecError, parse_spec, spec_warnings
from s3prl_crosscorpus.core.names import augment_tags, svm_system_name, without_augment


def test_defaults_are_filled_in_and_written_back_canonically():
    spec = parse_spec("speed,noise")
    assert spec.names == ("speed", "noise")
    assert spec.items[0].get("factors") == (0.9, 1.0, 1.1)
    assert spec.canonical() == "speed:factors=0.9/1/1.1,noise:snr=5..20:color=any"
    assert spec.short() == "speed+noise"
    assert parse_spec("noise:snr=0..10,speed").short() == "noise-snr0..10+speed"
    assert parse_spec(None) is None and parse_spec("none") is None


def test_parameters_change_the_identity_and_the_system_name():
    default, other = parse_spec("noise"), parse_spec("noise:snr=0..10")
    assert default.identity() != other.identity()
    name = svm_system_name("eGeMAPSv02", augment=augment_tags(other.short(), 2))
    assert name == "eGeMAPS-SVM_aug-noise-snr0..10-x2"
    assert without_augment(name) == "eGeMAPS-SVM"
    assert without_augment("eGeMAPS-SVM[speaker-norm,aug-speed-x1]") == "eGeMAPS-SVM[speaker-norm]"
    assert without_augment("eGeMAPS-SVM_speaker-norm_aug-speed-x1") == "eGeMAPS-SVM_speaker-norm"  # shell-safe form
    assert not any(c in name for c in "/ '\"")


@pytest.mark.parametrize("text, fragment", [
    ("nope", "unknown augmentation 'nope'"),
    ("noise:loud=3", "unknown parameter 'loud' of augmentation noise"),
    ("noise:snr=20..5", "is not a range (low 20 > high 5)"),
    ("noise:snr=5..", "is not a range LOW..HIGH"),
    ("noise:snr=abc", "'abc' is not a number"),
    ("noise:snr", "needs a value"),
    ("speed,,noise", "empty augmentation"),
    ("noise,noise", "given twice"),
    ("telephone:low=4000:high=300", "0 < low < high < 8000"),
    ("babble:speakers=0", "at least 1"),
    ("speed:factors=0/1", "factors must be > 0"),
])
def test_bad_specs_are_refused_naming_the_problem(text, fragment):
    with pytest.raises(SpecError, match=None) as err:
        parse_spec(text)
    assert fragment in str(err.value)


def test_noise_and_rir_folders_are_checked(tmp_path):
    with pytest.raises(SpecError, match="is not a folder"):
        parse_spec(f"noise:dir={tmp_path / 'missing'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpecError, match="holds no audio files"):
        parse_spec(f"noise:dir={tmp_path / 'empty'}")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.wav").write_bytes(b"not audio")
    with pytest.raises(SpecError, match="a.wav cannot be read as audio"):
        parse_spec(f"reverb:dir={broken}")
    good = tmp_path / "good"
    good.mkdir()
    sf.write(good / "n.wav", np.ones(1600, dtype=np.float32) * 0.1, 16000)
    spec = parse_spec(f"noise:dir={good}")
    assert len(spec.items[0].files) == 1 and "dir" in spec.short()
    with pytest.raises(SpecError, match="rt60 and rooms describe simulated rooms"):
        parse_spec(f"reverb:dir={good}:rt60=0.3")


def test_pitch_is_warned_about():
    assert spec_warnings(parse_spec("pitch")) == [PITCH_WARNING]
    assert spec_warnings(parse_spec("speed,noise")) == []


def test_the_seed_fixes_every_draw_per_file_and_copy():
    spec = parse_spec("speed,noise,reverb,pitch")
    digest = "ab" * 32
    assert draw_plan(spec, digest, 0, 7) == draw_plan(spec, digest, 0, 7)
    assert draw_plan(spec, digest, 0, 7) != draw_plan(spec, digest, 1, 7)
    assert draw_plan(spec, digest, 0, 7) != draw_plan(spec, digest, 0, 8)
    assert draw_plan(spec, digest, 0, 7) != draw_plan(spec, "cd" * 32, 0, 7)
    assert len({copy_seed(0, digest, k) for k in range(50)}) == 50
    signal = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    plan = draw_plan(spec, digest, 0, 7)
    assert np.array_equal(apply_plan(signal, plan), apply_plan(signal, plan))


def test_speed_resamples_like_kaldi():
    signal = np.sin(np.arange(16000) * 2 * np.pi * 200 / 16000).astype(np.float32)
    assert abs(len(effects.speed(signal, 1.1)) - 16000 / 1.1) <= 1
    assert abs(len(effects.speed(signal, 0.9)) - 16000 / 0.9) <= 1
    faster = effects.speed(signal, 1.1)
    peak = np.argmax(np.abs(np.fft.rfft(faster))) * 16000 / len(faster)
    assert abs(peak - 220) < 3  # tempo and pitch both change, as sox speed does


@pytest.mark.parametrize("snr", [0.0, 10.0, 20.0])
def test_noise_is_mixed_at_the_drawn_snr(snr):
    rng = np.random.default_rng(1)
    signal = rng.standard_normal(16000).astype(np.float32)
    noise = effects.colored_noise(16000, "pink", 3)
    mixed = effects.mix_at_snr(signal, noise, snr)
    measured = 10 * np.log10(effects.power(signal) / effects.power(mixed - signal))
    assert abs(measured - snr) < 0.01


def test_telephone_removes_what_a_telephone_cannot_carry():
    t = np.arange(16000) / 16000
    low_tone, high_tone, speech_band = (np.sin(2 * np.pi * f * t).astype(np.float32) for f in (80, 6000, 1000))
    for tone in (low_tone, high_tone):
        assert effects.power(effects.telephone(tone, 300, 3400)) < 0.05 * effects.power(tone)
    assert effects.power(effects.telephone(speech_band, 300, 3400)) > 0.5 * effects.power(speech_band)


def test_reverberation_keeps_length_and_power_and_smears():
    rooms = effects.simulated_rooms(0, (0.5, 0.5), 2)
    assert len(rooms) == 2 and rooms == effects.simulated_rooms(0, (0.5, 0.5), 2)
    click = np.zeros(8000, dtype=np.float32)
    click[100] = 1.0
    wet = effects.reverberate(click, rooms[0])
    assert wet.shape == click.shape
    assert abs(effects.power(wet) - effects.power(click)) < 1e-6
    assert np.count_nonzero(np.abs(wet) > 1e-4) > 100


def test_the_augment_command_prints_the_meaning_or_one_error_line(capsys):
    from s3prl_crosscorpus.commands import main as cli

    assert cli.main(["augment", "speed,noise:snr=0..10", "--copies", "2"]) == 0
    out = capsys.readouterr().out
    assert "canonical: speed:factors=0.9/1/1.1,noise:snr=0..10:color=any" in out
    assert "system-name tag: aug-speed+noise-snr0..10-x2" in out
    assert cli.main(["augment", "speed,babble", "--cacheable"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: babble mixes talkers")
    assert cli.main(["augment", "pitch"]) == 0
    assert capsys.readouterr().err.strip() == PITCH_WARNING
