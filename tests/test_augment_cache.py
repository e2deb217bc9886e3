"""The DNN feature cache with augmented copies: ``extract --augment`` (one resumable cache per copy) and
``train-cached`` with ``datarc.augment`` (one version per utterance per epoch, refused without the copies)."""
import json
from pathlib import Path

import numpy as np
import pytest

from s3prl_crosscorpus.augment.spec import parse_spec
from s3prl_crosscorpus.cache.augmented import CopySpec, copy_roots
from s3prl_crosscorpus.cache.extract import extract
from s3prl_crosscorpus.cache.format import FeatureCache
from s3prl_crosscorpus.commands import main as cli
from s3prl_crosscorpus.core.io_utils import read_json, sha256_file, write_json
from s3prl_crosscorpus.demo.random_hubert import write_random_hubert

SMOKE = Path(__file__).resolve().parent.parent / "downstream_configs" / "smoke.yaml"
SPEC = "speed,noise"


def emodb_only(data_dir: Path, out: Path) -> Path:
    """A DATA_DIR holding only the EmoDB lines of the shared manifest (smaller extraction)."""
    out.mkdir(parents=True, exist_ok=True)
    lines = [l for l in (data_dir / "manifest.jsonl").read_text().splitlines() if '"corpus": "emodb"' in l]
    (out / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    meta = read_json(data_dir / "manifest.meta.json")
    meta["manifest_sha256"] = sha256_file(out / "manifest.jsonl")
    write_json(out / "manifest.meta.json", meta)
    return out


def test_babble_cannot_be_cached(data_dir, tmp_path, capsys):
    code = cli.main(["extract", "-u", "hubert_local", "-k", str(tmp_path / "none.pt"), "--data", str(data_dir),
                     "--out", str(tmp_path / "cache"), "--augment", "speed,babble"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "babble mixes talkers of each split's own training set" in err[0]
    assert not (tmp_path / "cache").exists()


@pytest.mark.e2e
def test_augmented_cache_is_extracted_once_and_trains_an_augmented_system(data_dir, tmp_path):
    data = emodb_only(data_dir, tmp_path / "data")
    ckpt = str(write_random_hubert(tmp_path / "tiny.pt", size="tiny", seed=0))
    cache = tmp_path / "cache"
    base = ["extract", "-u", "hubert_local", "-k", ckpt, "--data", str(data), "--out", str(cache), "--device", "cpu"]
    assert cli.main(base) == 0
    assert cli.main(base + ["--augment", SPEC, "--augment-copies", "2"]) == 0
    spec = parse_spec(SPEC)
    roots = copy_roots(cache, spec, 0, 2)
    plain, copies = FeatureCache(cache), [FeatureCache(r) for r in roots]
    some = sorted(plain.entries)[0]
    assert not np.array_equal(np.asarray(plain.features(some)), np.asarray(copies[0].features(some)))
    assert not np.array_equal(np.asarray(copies[0].features(some)), np.asarray(copies[1].features(some)))
    again = extract(data, roots[1], "hubert_local", ckpt, device="cpu", quiet=True, augment=CopySpec(spec, 1, 0))
    assert not again.written and again.skipped  # extracted once: a re-run finds every shard complete

    settings = ["data_dir=" + str(data), "condition=matched", "test_corpus=emodb", "fold=1", "head=linear",
                "results_dir=" + str(tmp_path / "results")]
    def train(*extra: str) -> int:
        import io
        from contextlib import redirect_stdout
        buffer = io.StringIO()
        with redirect_stdout(buffer):
            cli.main(["overrides", *settings, *extra])
        overrides = buffer.getvalue().strip() + (",,config.runner.total_steps=4,,config.runner.eval_step=2,,"
                                                 "config.runner.save_step=2,,config.runner.log_step=2")
        return cli.main(["train-cached", "--cache", str(cache), "-c", str(SMOKE), "-p",
                         str(tmp_path / f"exp{len(extra)}{extra[-1][-1]}"), "--device", "cpu", "-o", overrides])
    assert train("augment.spec=" + SPEC, "augment.copies=2") == 0
    result = next((tmp_path / "results").rglob("fold1.json"))
    assert result.parts[-4] == "HuBERT-Linear_aug-speed+noise-x2"
    assert json.loads(result.read_text())["config"]["augment"]["copies"] == 2
    assert train("augment.spec=" + SPEC, "augment.copies=3") == 2  # copy 2 was never extracted
