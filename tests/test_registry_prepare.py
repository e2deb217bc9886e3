"""`prepare --NAME ROOT` for the registry corpora, the manifest taking their names, a full-size CREMA-D tree,
and `synth --registry`."""
import argparse
import json
from collections import Counter

import numpy as np
import pytest

from s3prl_crosscorpus.commands.main import main
from s3prl_crosscorpus.commands.synth import parse_registry
from s3prl_crosscorpus.core.audio import load_audio
from s3prl_crosscorpus.core.corpora import READERS, REGISTRY, REGISTRY_CORPORA
from s3prl_crosscorpus.core.manifest import KNOWN_CORPORA, load_manifest, row_problem
from s3prl_crosscorpus.demo.registry_synth import synthesize_registry


def prepare_cli(roots: dict, out) -> int:
    return main(["prepare"] + [a for c, p in roots.items() for a in (f"--{c}", str(p))] + ["--out", str(out)])


def test_prepare_reads_every_registry_corpus_into_a_manifest_that_loads(tmp_path, capsys):
    roots = synthesize_registry(tmp_path / "corpora", per_class=1, audio="tiny")
    assert prepare_cli(roots, tmp_path / "data") == 0
    printed = capsys.readouterr().out
    for name in REGISTRY_CORPORA:
        assert any(line.startswith(name + " ") for line in printed.splitlines()), name
    utts = load_manifest(tmp_path / "data")
    speakers = {name: len({u.speaker for u in utts if u.corpus == name}) for name in REGISTRY_CORPORA}
    assert speakers == {"cremad": 91, "tess": 2, "savee": 4, "msppodcast": 12, "emovo": 6, "esd": 10, "shemo": 87}
    meta = json.loads((tmp_path / "data" / "manifest.meta.json").read_text())
    assert meta["counts"]["esd"] == 40 and meta["counts"]["savee"] == 20
    assert {reason["reason"].split(" (")[0] for reason in meta["left_out"]["msppodcast"]} == {
        "speaker unknown", "gender unknown", "class not used: other"}


def test_manifest_knows_the_registry_names_and_still_refuses_others():
    assert KNOWN_CORPORA == ("emodb", "ravdess", "iemocap") + REGISTRY_CORPORA
    row = {"id": "x_1", "corpus": "cremad", "path": "/a.wav", "speaker": "1001", "gender": "M", "language": "en",
           "label": "neu", "source_label": "neutral", "sample_rate": 16000, "channels": 1, "num_frames": 8}
    assert row_problem(row) is None
    problem = row_problem(dict(row, corpus="crema"))
    assert problem.startswith("unknown corpus 'crema' (known: emodb, ravdess, iemocap, cremad, tess")


@pytest.mark.parametrize("name", REGISTRY_CORPORA)
def test_prepare_on_a_wrong_root_says_in_one_line_what_was_expected(tmp_path, capsys, name):
    (tmp_path / "wrong" / "Actor_01").mkdir(parents=True)
    assert prepare_cli({name: tmp_path / "wrong"}, tmp_path / "data") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and REGISTRY[name].layout in err
    assert not (tmp_path / "data" / "manifest.jsonl").exists()


@pytest.mark.e2e
def test_full_size_cremad_tree_gives_91_actors_and_the_published_counts(tmp_path, capsys):
    root = synthesize_registry(tmp_path, ["cremad"], audio="tiny", full_cremad=True)["cremad"]
    assert len(list((root / "AudioWAV").glob("*.wav"))) == 7442  # the published clip count
    assert prepare_cli({"cremad": root}, tmp_path / "data") == 0
    assert "cremad    4900 utterances  neu 1087 hap 1271 ang 1271 sad 1271  | 91 speakers" in capsys.readouterr().out
    utts = load_manifest(tmp_path / "data")
    genders = {u.speaker: u.gender for u in utts}
    assert len(genders) == REGISTRY["cremad"].speakers
    assert (Counter(genders.values())["M"], Counter(genders.values())["F"]) == REGISTRY["cremad"].genders
    assert Counter(u.label for u in utts) == dict(REGISTRY["cremad"].counts)


def test_synth_registry_option_names_unknown_corpora():
    assert parse_registry("all") == list(REGISTRY_CORPORA)
    assert parse_registry("tess, savee") == ["tess", "savee"]
    with pytest.raises(argparse.ArgumentTypeError, match="unknown registry corpus crema; choose from cremad"):
        parse_registry("crema,tess")


def test_voiced_registry_corpus_carries_the_emotion_prosody(tmp_path):
    """The demo's registry trees hold the same emotional speech as the paper corpora: anger louder than sadness."""
    root = synthesize_registry(tmp_path, ["savee"], per_class=1, audio="voiced")["savee"]
    read = READERS["savee"](root)
    assert {u.sample_rate for u in read.utterances} == {44100} and not read.problems
    rms = {lab: np.mean([np.sqrt(np.mean(load_audio(u.path) ** 2)) for u in read.utterances if u.label == lab])
           for lab in ("ang", "sad")}
    assert rms["ang"] > 2 * rms["sad"]


@pytest.mark.e2e
def test_synth_command_writes_registry_corpora_that_prepare_reads(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path), "--utterances-per-class", "1", "--registry", "tess,emovo"]) == 0
    printed = capsys.readouterr().out
    assert f"--tess {tmp_path / 'tess'}" in printed and f"--emovo {tmp_path / 'emovo'}" in printed
    assert prepare_cli({"tess": tmp_path / "tess", "emovo": tmp_path / "emovo"}, tmp_path / "data") == 0
    utts = load_manifest(tmp_path / "data")
    assert Counter(u.corpus for u in utts) == {"tess": 8, "emovo": 24}
