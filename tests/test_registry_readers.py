"""Registry corpora (CREMA-D, TESS, SAVEE, MSP-Podcast, EMOVO, ESD, ShEMO): speakers, genders, label maps and
counts on synthetic trees in each corpus' real naming, and what each reader leaves out and why."""
from collections import Counter
from pathlib import Path

import pytest

from s3prl_crosscorpus.core.corpora import READERS, REGISTRY, REGISTRY_CORPORA, CorpusError
from s3prl_crosscorpus.core.corpora import cremad, emovo, esd, msppodcast, savee, shemo, tess
from s3prl_crosscorpus.core.corpora.msppodcast import msppodcast_splits
from s3prl_crosscorpus.core.folds import FOLDS
from s3prl_crosscorpus.core.labels import LABELS
from s3prl_crosscorpus.demo.registry_synth import synthesize_registry

PER_CLASS = 2


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict:
    """name -> root of a tiny-audio synthetic tree of each registry corpus."""
    return synthesize_registry(tmp_path_factory.mktemp("registry"), per_class=PER_CLASS, audio="tiny")


@pytest.fixture(scope="module")
def reads(roots) -> dict:
    return {name: READERS[name](root) for name, root in roots.items()}


def genders(read) -> dict:
    return {u.speaker: u.gender for u in read.utterances}


def reasons(read) -> Counter:
    return Counter(item.reason.split(" (")[0] for item in read.left_out)


def test_registry_holds_every_corpus_with_its_facts():
    assert tuple(REGISTRY)[:3] == ("emodb", "ravdess", "iemocap")
    assert REGISTRY_CORPORA == ("cremad", "tess", "savee", "msppodcast", "emovo", "esd", "shemo")
    assert set(READERS) == set(REGISTRY)
    totals = {name: info.total for name, info in REGISTRY.items()}
    assert totals == {"emodb": 339, "ravdess": 672, "iemocap": 5531, "cremad": 4900, "tess": 1600, "savee": 300,
                      "msppodcast": None, "emovo": 336, "esd": 14000, "shemo": 2737}
    for info in REGISTRY.values():
        assert set(info.label_map.values()) == set(LABELS) and info.layout and info.source
        if info.counts is not None:
            assert tuple(info.counts) == LABELS
        if info.genders is not None:
            assert sum(info.genders) == info.speakers
    assert {n: i.language for n, i in REGISTRY.items() if not i.paper} == {
        "cremad": "en", "tess": "en", "savee": "en", "msppodcast": "en", "emovo": "it", "esd": "en", "shemo": "fa"}


def test_corpora_with_fewer_speakers_than_folds_are_test_only():
    assert [n for n, i in REGISTRY.items() if i.test_only(len(FOLDS))] == ["tess", "savee"]
    assert not REGISTRY["msppodcast"].test_only(len(FOLDS))  # speaker count grows per release


@pytest.mark.parametrize("module, source, expected", [
    (cremad, cremad.CREMAD_SOURCE, {"NEU": "neu", "HAP": "hap", "ANG": "ang", "SAD": "sad"}),
    (tess, tess.TESS_SOURCE, {"neutral": "neu", "happy": "hap", "angry": "ang", "sad": "sad"}),
    (savee, savee.SAVEE_SOURCE, {"n": "neu", "h": "hap", "a": "ang", "sa": "sad"}),
    (msppodcast, msppodcast.MSP_SOURCE, {"N": "neu", "H": "hap", "A": "ang", "S": "sad"}),
    (emovo, emovo.EMOVO_SOURCE, {"neu": "neu", "gio": "hap", "rab": "ang", "tri": "sad"}),
    (esd, esd.ESD_SOURCE, {"Neutral": "neu", "Happy": "hap", "Angry": "ang", "Sad": "sad"}),
    (shemo, shemo.SHEMO_SOURCE, {"N": "neu", "H": "hap", "A": "ang", "S": "sad"}),
])
def test_label_maps_keep_exactly_the_four_classes(module, source, expected):
    mapped = {code: module.TO_FOUR_CLASS.get(label) for code, label in source.items()}
    assert {code: label for code, label in mapped.items() if label is not None} == expected


def test_cremad_actors_genders_from_demographics(reads):
    read = reads["cremad"]
    table = genders(read)
    assert sorted(table) == [str(a) for a in range(1001, 1092)]
    assert Counter(table.values()) == {"M": 48, "F": 43}
    assert Counter(u.label for u in read.utterances) == {lab: 91 * PER_CLASS for lab in LABELS}
    assert reasons(read) == {"class not used: disgust": 91} and not read.problems
    assert {u.language for u in read.utterances} == {"en"}
    assert all(u.id == f"cremad_{Path(u.path).stem}" for u in read.utterances)


def test_tess_two_female_speakers_surprise_out_duplicate_read_once(reads):
    read = reads["tess"]
    assert genders(read) == {"OAF": "F", "YAF": "F"}
    assert Counter(u.label for u in read.utterances) == {lab: 2 * PER_CLASS for lab in LABELS}
    assert reasons(read) == {"class not used: pleasant surprise": 2, "duplicate": 1} and not read.problems
    assert not any("speech set data" in u.path for u in read.utterances)


def test_savee_four_male_speakers_twice_as_much_neutral(reads):
    read = reads["savee"]
    assert genders(read) == {"DC": "M", "JE": "M", "JK": "M", "KL": "M"}
    assert Counter(u.label for u in read.utterances) == {"neu": 8 * PER_CLASS, "hap": 4 * PER_CLASS,
                                                         "ang": 4 * PER_CLASS, "sad": 4 * PER_CLASS}
    assert reasons(read) == {"class not used: surprise": 4}
    assert {u.id for u in read.utterances} >= {"savee_DC_a01", "savee_KL_sa02", "savee_JE_n04"}


def test_savee_flat_copy_reads_the_same_files(tmp_path, roots):
    flat = tmp_path / "ALL"
    flat.mkdir()
    for path in (roots["savee"] / "AudioData").glob("*/*.wav"):
        (flat / f"{path.parent.name}_{path.name}").write_bytes(path.read_bytes())
    read = READERS["savee"](tmp_path)
    assert sorted(u.id for u in read.utterances) == sorted(u.id for u in READERS["savee"](roots["savee"]).utterances)


def test_msppodcast_unknown_speakers_and_genders_are_left_out_not_problems(reads, roots):
    read = reads["msppodcast"]
    assert len(genders(read)) == 12 and "Unknown" not in genders(read)
    assert Counter(genders(read).values()) == {"M": 6, "F": 6}
    assert Counter(u.label for u in read.utterances) == {lab: 12 * PER_CLASS for lab in LABELS}
    assert reasons(read) == {"speaker unknown": 4, "gender unknown": 4, "class not used: other": 14}
    assert not read.problems
    assert REGISTRY["msppodcast"].partitions is msppodcast_splits
    assert [n for n, i in REGISTRY.items() if i.partitions is not None] == ["msppodcast"]
    splits = msppodcast_splits(roots["msppodcast"])
    assert set(splits.values()) == {"Train", "Development", "Test1", "Test2"}
    assert all(u.id in splits for u in read.utterances)


def test_emovo_six_italian_speakers_joy_is_happiness(reads):
    read = reads["emovo"]
    assert genders(read) == {"f1": "F", "f2": "F", "f3": "F", "m1": "M", "m2": "M", "m3": "M"}
    assert {u.source_label for u in read.utterances if u.label == "hap"} == {"joy"}
    assert {u.language for u in read.utterances} == {"it"}
    assert reasons(read) == {"class not used: disgust": 6}


def test_esd_english_speakers_only_surprise_left_out(reads):
    read = reads["esd"]
    assert genders(read) == {"0011": "M", "0012": "M", "0013": "M", "0014": "M", "0015": "F", "0016": "F",
                             "0017": "F", "0018": "F", "0019": "F", "0020": "M"}
    assert Counter(u.label for u in read.utterances) == {lab: 10 * PER_CLASS for lab in LABELS}
    assert reasons(read) == {"class not used: surprise": 10, "Mandarin speaker folder": 1} and not read.problems


def test_shemo_87_speakers_gender_from_the_name(reads):
    read = reads["shemo"]
    table = genders(read)
    assert len(table) == 87 and Counter(table.values()) == {"F": 31, "M": 56}
    assert all(speaker[0] == gender for speaker, gender in table.items())
    assert {u.language for u in read.utterances} == {"fa"}
    assert reasons(read) == {"class not used: surprise": 87}


@pytest.mark.parametrize("name, per_class", [("emovo", 14), ("savee", 15)])
def test_whole_name_grid_gives_the_published_counts(tmp_path, name, per_class):
    root = synthesize_registry(tmp_path, [name], per_class=per_class, audio="tiny")[name]
    read = READERS[name](root)
    assert dict(Counter(u.label for u in read.utterances)) == dict(REGISTRY[name].counts)
    assert len(genders(read)) == REGISTRY[name].speakers


@pytest.mark.parametrize("name", REGISTRY_CORPORA)
def test_a_root_in_another_layout_names_what_was_expected(tmp_path, roots, name):
    wrong = tmp_path / "wrong"
    (wrong / "wav").mkdir(parents=True)
    (wrong / "wav" / "03a01Fa.wav").write_bytes((roots["emovo"] / "f1" / "neu-f1-b1.wav").read_bytes())
    with pytest.raises(CorpusError) as err:
        READERS[name](wrong)
    message = str(err.value)
    assert "\n" not in message and str(wrong) in message and REGISTRY[name].layout in message


def test_cremad_bad_demographics_and_names(tmp_path, roots):
    root = tmp_path / "cremad"
    (root / "AudioWAV").mkdir(parents=True)
    wav = (roots["cremad"] / "AudioWAV" / "1001_TIE_NEU_XX.wav").read_bytes()
    for name in ("1001_TIE_NEU_XX.wav", "1092_TIE_ANG_XX.wav", "1001_XYZ_ANG_XX.wav", "1001_TIE_ANG_ZZ.wav"):
        (root / "AudioWAV" / name).write_bytes(wav)
    (root / "VideoDemographics.csv").write_text("ActorID,Age,Race\n1001,30,x\n")
    with pytest.raises(CorpusError, match=r"VideoDemographics.csv:1: missing column\(s\) Sex"):
        READERS["cremad"](root)
    (root / "VideoDemographics.csv").write_text("ActorID,Age,Sex\n1001,30,Male\n1002,31,male\n")
    with pytest.raises(CorpusError, match=r"VideoDemographics.csv:3: .*'male'"):
        READERS["cremad"](root)
    (root / "VideoDemographics.csv").write_text("ActorID,Age,Sex\n1001,30,Male\n")
    read = READERS["cremad"](root)
    assert [u.id for u in read.utterances] == ["cremad_1001_TIE_NEU_XX"]
    problems = {Path(p.path).name: p.reason for p in read.problems}
    assert problems["1092_TIE_ANG_XX.wav"] == "actor 1092 is not in VideoDemographics.csv"
    assert "ActorID_SEN_EMO_LV" in problems["1001_XYZ_ANG_XX.wav"] and "1001_TIE_ANG_ZZ.wav" in problems


def test_msppodcast_bad_rows_name_the_line(tmp_path, roots):
    root = tmp_path / "msp"
    (root / "Labels").mkdir(parents=True)
    (root / "Audios").mkdir()
    wav = next((roots["msppodcast"] / "Audios").glob("*.wav")).read_bytes()
    (root / "Audios" / "a.wav").write_bytes(wav)
    (root / "Labels" / "labels_consensus.csv").write_text("FileName,EmoClass,SpkrID,Gender\na.wav,N,1,Male\n")
    with pytest.raises(CorpusError, match=r"labels_consensus.csv:1: missing column\(s\) Split_Set"):
        READERS["msppodcast"](root)
    (root / "Labels" / "labels_consensus.csv").write_text(
        "FileName,EmoClass,SpkrID,Gender,Split_Set\na.wav,N,1,Male,Train\nb.wav,A,1,Male,Train\n"
        "c.wav,Q,1,Male,Train\n")
    read = READERS["msppodcast"](root)
    assert [u.id for u in read.utterances] == ["msppodcast_a"]
    reasons_ = [p.reason for p in read.problems]
    assert reasons_[0].startswith("missing wav for b.wav listed in") and reasons_[0].endswith(":3")
    assert reasons_[1].startswith("line 4: expected FileName *.wav, an EmoClass code")


def test_msppodcast_older_label_file_spelling_and_nested_audio(tmp_path, roots):
    """Older releases spell Labels/labels_concensus.csv; some copies keep the wavs in a sub-folder of Audios/."""
    root = tmp_path / "msp"
    (root / "Labels").mkdir(parents=True)
    (root / "Labels" / "labels_concensus.csv").write_bytes(
        (roots["msppodcast"] / "Labels" / "labels_consensus.csv").read_bytes())
    for path in (roots["msppodcast"] / "Audios").glob("*.wav"):
        (root / "Audios" / "Audio").mkdir(parents=True, exist_ok=True)
        (root / "Audios" / "Audio" / path.name).write_bytes(path.read_bytes())
    read = READERS["msppodcast"](root)
    original = READERS["msppodcast"](roots["msppodcast"])
    assert [u.id for u in read.utterances] == [u.id for u in original.utterances] and not read.problems
    assert all("/Audios/Audio/" in u.path for u in read.utterances)


def test_the_docs_table_states_the_registry_facts():
    """docs/corpus-registry.md restates each registry corpus' speakers, genders and counts: they must agree."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "corpus-registry.md").read_text()
    rows = {line.split("|")[1].strip().strip("`"): line.split("|") for line in doc.splitlines()
            if line.startswith("| `")}
    for name in REGISTRY_CORPORA:
        info, cells = REGISTRY[name], rows[name]
        assert cells[3].strip() == info.language, name
        if info.speakers is not None:
            assert cells[5].strip().startswith(f"{info.speakers} ({info.genders[0]}/{info.genders[1]})"), name
        if info.counts is not None:
            expected = " / ".join(str(info.counts[label]) for label in LABELS) + f" ({info.total})"
            assert cells[6].strip() == expected, name
