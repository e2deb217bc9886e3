"""Fold safety of augmentation: only training utterances get copies, and no copy draws dev or test material."""
import pytest

from s3prl_crosscorpus.augment.plan import AugmentError, babble_pool, draw_plan, speaker_key, training_copies
from s3prl_crosscorpus.augment.spec import parse_spec
from s3prl_crosscorpus.core.folds import CONDITIONS, FOLDS, TRANSFER, make_split, transfer_rows
from s3prl_crosscorpus.core.labels import CORPORA

SPEC = "speed,babble:speakers=6,noise"
COPIES = 2


def splits_of(utterances, condition):
    if condition == "extended":
        return [make_split(utterances, condition, fold, None, CORPORA) for fold in FOLDS]
    if condition == TRANSFER:
        return [make_split(utterances, condition, fold, None, CORPORA, train=row)
                for fold in FOLDS for row in transfer_rows(CORPORA)]
    return [make_split(utterances, condition, fold, corpus, CORPORA) for fold in FOLDS for corpus in CORPORA]


@pytest.mark.parametrize("condition", CONDITIONS)
def test_no_dev_or_test_audio_or_speaker_reaches_a_training_copy(utterances, condition):
    by_id = {u.id: u for u in utterances}
    digests = {u.path: f"{abs(hash(u.id)):064x}"[-64:] for u in utterances}
    spec = parse_spec(SPEC)
    for split in splits_of(utterances, condition):
        held_out = set(split.dev) | set(split.test)
        held_out_paths = {by_id[i].path for i in held_out}
        # The dev set is an utterance-level draw from the training speakers (PROTOCOL.md): dev audio is never
        # used, and test speakers (disjoint from training by the fold file) never talk in a babble.
        test_speakers = {speaker_key(by_id[i]) for i in split.test}
        train_paths = {by_id[i].path for i in split.train}
        copies = training_copies(spec, COPIES, 0, split, by_id, digests)
        assert len(copies) == COPIES * len(split.train)
        assert {c.utt_id for c in copies} == set(split.train)
        babble_files = set()
        for copy in copies:
            steps = [s for s in copy.plan if s["name"] == "babble"]
            files = [f for s in steps for f in s["files"]]
            assert files, "every copy babbles"
            own = speaker_key(by_id[copy.utt_id])
            assert all(speaker_key(by_id[path_id]) != own for path_id in (path_ids(f, by_id) for f in files))
            babble_files.update(files)
        assert babble_files <= train_paths
        assert not babble_files & held_out_paths
        used_speakers = {speaker_key(by_id[path_ids(f, by_id)]) for f in babble_files}
        assert not used_speakers & test_speakers, f"{condition} fold {split.fold}: a test talker in babble"


def path_ids(path, by_id):
    return next(u.id for u in by_id.values() if u.path == path)


def test_the_babble_pool_is_the_training_set_only(utterances):
    by_id = {u.id: u for u in utterances}
    split = make_split(utterances, "matched", 1, "emodb", CORPORA)
    pool = babble_pool(split, by_id)
    assert {path for path, _ in pool} == {by_id[i].path for i in split.train}


def test_babble_without_another_training_speaker_is_refused():
    spec = parse_spec("babble")
    with pytest.raises(AugmentError, match="no other speaker"):
        draw_plan(spec, "ab" * 32, 0, 0, "emodb/03", (("a.wav", "emodb/03"),))


def test_a_noise_folder_inside_the_corpora_is_refused_before_any_work(data_dir, utterances, tmp_path, capsys):
    from baseline_svm import cli
    from s3prl_crosscorpus.augment.plan import check_material
    from s3prl_crosscorpus.augment.spec import SpecError

    speaker_folder = str(__import__("pathlib").Path(utterances[0].path).parent)
    spec = parse_spec(f"noise:dir={speaker_folder}")
    with pytest.raises(SpecError, match="is an utterance of the corpora"):
        check_material(spec, utterances)
    code = cli.main(["run", "--data", str(data_dir), "--feature-set", "eGeMAPSv02", "--condition", "matched",
                     "--test-corpus", "emodb", "--fold", "1", "--out", str(tmp_path / "r"), "--cache",
                     str(tmp_path / "c"), "--augment", f"reverb:dir={speaker_folder}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "is an utterance of the corpora" in err[0]
    assert not (tmp_path / "c").exists()
