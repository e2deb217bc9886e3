"""Synthetic corpora: real layouts, and prosody that depends on emotion."""
from collections import defaultdict

import numpy as np
import soundfile as sf

from s3prl_crosscorpus.core.audio import load_audio
from s3prl_crosscorpus.demo.synth import Voice, rng_for, synth_utterance


def test_layout_matches_the_real_corpora(synth_roots):
    assert len(list((synth_roots["emodb"] / "wav").glob("*.wav"))) == 90
    info = sf.info(str(next((synth_roots["ravdess"] / "Actor_01").glob("03-01-*.wav"))))
    assert info.samplerate == 48000
    evaluation = synth_roots["iemocap"] / "Session3" / "dialog" / "EmoEvaluation"
    assert {p.name for p in evaluation.iterdir() if p.is_dir()} == {"Categorical", "Attribute", "Self-evaluation"}
    assert any(p.name.startswith("._") for p in evaluation.iterdir())
    text = (evaluation / "Ses03F_impro01.txt").read_text()
    assert text.startswith("% [START_TIME - END_TIME]") and "C-E2:\t" in text and "A-E3:\tval" in text


def test_prosody_depends_on_emotion(utterances):
    """Anger is louder than neutral, neutral louder than sadness, for each corpus on average."""
    rms = defaultdict(list)
    for u in utterances:
        if u.speaker in ("03", "Actor_02", "Ses02M"):
            audio = load_audio(u.path)
            rms[(u.corpus, u.label)].append(np.sqrt(np.mean(audio ** 2)))
    for corpus in ("emodb", "ravdess", "iemocap"):
        mean = {lab: np.mean(rms[(corpus, lab)]) for lab in ("ang", "neu", "sad")}
        assert mean["ang"] > mean["neu"] > mean["sad"]


def test_synthesis_is_deterministic_and_tempo_depends_on_emotion():
    voice = Voice(f0=120.0, gain=1.0)
    a = synth_utterance("ang", voice, 16000, rng_for(0, "x"))
    assert np.array_equal(a, synth_utterance("ang", voice, 16000, rng_for(0, "x")))
    lengths = {e: np.mean([len(synth_utterance(e, voice, 16000, rng_for(k, e))) for k in range(8)])
               for e in ("ang", "sad")}
    assert lengths["sad"] > 1.5 * lengths["ang"]
