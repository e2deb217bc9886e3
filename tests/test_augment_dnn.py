"""``datarc.augment`` of the s3prl downstream: checked keys, per-epoch copies of training audio only, the same
copies as the SVM's, and a live run-downstream system named and recorded as augmented."""
import json
from pathlib import Path

import numpy as np
import pytest

from s3prl_crosscorpus.augment.plan import apply_plan, training_copies
from s3prl_crosscorpus.commands import main as cli
from s3prl_crosscorpus.core.audio import load_audio
from s3prl_crosscorpus.core.folds import make_split
from s3prl_crosscorpus.core.io_utils import sha256_file
from s3prl_crosscorpus.core.labels import CORPORA
from s3prl_crosscorpus.core.names import override_value
from s3prl_crosscorpus.superb.augmented import AugmentedEmotionDataset, augment_settings, versions_seen
from s3prl_crosscorpus.superb.dataset import ConfigError

SMOKE = Path(__file__).resolve().parent.parent / "downstream_configs" / "smoke.yaml"


@pytest.mark.parametrize("value, fragment", [
    ({"spec": "speed", "copise": 2}, "unknown key(s) copise"),
    ({"spec": "speed,warp"}, "unknown augmentation 'warp'"),
    ({"spec": "noise:snr=9..1"}, "not a range"),
    ({"spec": "speed", "copies": 0}, "copies must be >= 1"),
    ({"spec": ""}, "spec is empty"),
    (3, "must be a SPEC string or a mapping"),
])
def test_bad_datarc_augment_is_refused(value, fragment):
    with pytest.raises(ConfigError) as err:
        augment_settings(value)
    assert fragment in str(err.value)


def test_datarc_augment_reads_a_spec_or_a_mapping():
    assert augment_settings(None) is None
    settings = augment_settings({"spec": "speed,noise", "copies": 2, "seed": 5})
    assert (settings.copies, settings.seed, settings.tags) == (2, 5, ("aug-speed+noise-x2",))
    assert augment_settings("speed", default_seed=3).seed == 3


def test_each_epoch_draws_one_version_and_copies_equal_the_svm_copies(utterances):
    by_id = {u.id: u for u in utterances}
    split = make_split(utterances, "matched", 1, "emodb", CORPORA)
    settings = augment_settings({"spec": "speed,babble,noise", "copies": 2})
    train = [by_id[i] for i in split.train]
    dataset = AugmentedEmotionDataset(train, settings, split, by_id)
    seen = np.stack([versions_seen(split.train, settings, epoch) for epoch in range(6)])
    assert set(np.unique(seen)) == {-1, 0, 1}  # plain, copy 0, copy 1
    assert not all((seen[0] == row).all() for row in seen[1:])  # the draw changes with the epoch
    digests = {u.path: sha256_file(u.path) for u in train}
    svm_copies = {(c.utt_id, c.copy): c.plan for c in training_copies(settings.spec, 2, 0, split, by_id, digests)}
    for epoch in range(2):
        dataset.set_epoch(epoch)
        for index in range(4):
            wave, _, utt_id, _ = dataset[index]
            version = versions_seen([utt_id], settings, epoch)[0]
            plain = load_audio(by_id[utt_id].path)
            expected = plain if version < 0 else apply_plan(plain, svm_copies[utt_id, version])
            assert np.array_equal(wave, expected)


def overrides(data_dir: Path, results: Path, **augment) -> str:
    fields = {"config.downstream_expert.datarc.data_dir": override_value(str(data_dir)),
              "config.downstream_expert.datarc.condition": "'matched'",
              "config.downstream_expert.datarc.test_corpus": "'emodb'",
              "config.downstream_expert.datarc.fold": 1, "config.downstream_expert.modelrc.head": "'linear'",
              "config.downstream_expert.results_dir": override_value(str(results)),
              "config.runner.total_steps": 4, "config.runner.eval_step": 2, "config.runner.log_step": 2,
              "config.runner.save_step": 2, "config.runner.max_keep": 1}
    fields.update({f"config.downstream_expert.datarc.augment.{k}": override_value(v) for k, v in augment.items()})
    return ",,".join(f"{k}={v}" for k, v in fields.items())


def test_run_downstream_refuses_an_unknown_augment_key_before_training(data_dir, tmp_path, capsys):
    code = cli.main(["run-downstream", "-m", "train", "-u", "hubert", "-d", "crosscorpus_emotion", "-c", str(SMOKE),
                     "-p", str(tmp_path / "exp"), "--device", "cpu",
                     "-o", overrides(data_dir, tmp_path / "results", spec="speed", level=3)])
    assert code == 2
    assert "unknown key(s) level" in capsys.readouterr().err
    assert not list(tmp_path.glob("exp/*.ckpt"))


@pytest.mark.e2e
def test_live_run_downstream_trains_an_augmented_system(data_dir, tmp_path):
    results = tmp_path / "results"
    expdir = tmp_path / "exp"
    base = ["run-downstream", "-u", "fbank_no_cmvn", "-d", "crosscorpus_emotion", "--device", "cpu"]
    assert cli.main(base[:1] + ["-m", "train"] + base[1:] + ["-c", str(SMOKE), "-p", str(expdir), "-o",
                                                             overrides(data_dir, results, spec="speed,noise",
                                                                       copies=2)]) == 0
    assert cli.main(["run-downstream", "-m", "evaluate", "-e", str(expdir / "dev-best.ckpt"), "-t", "test",
                     "--device", "cpu"]) == 0
    files = list(results.rglob("fold1.json"))
    assert [f.parent.parent.parent.name for f in files] == ["FBANK-noCMVN-Linear_aug-speed+noise-x2"]
    record = json.loads(files[0].read_text())["config"]["augment"]
    assert record["copies"] == 2 and record["canonical"].startswith("speed:")


def test_a_model_trained_with_a_noise_folder_predicts_without_it(tmp_path):
    spec = {"spec": f"noise:dir={tmp_path / 'gone'}"}
    with pytest.raises(ConfigError, match="is not a folder"):
        augment_settings(spec)  # training and evaluation need the folder (its listing names the system)
    assert augment_settings(spec, check_files=False).spec.items[0].files == ()  # -m inference / predict
