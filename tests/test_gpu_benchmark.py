"""``python -m s3prl_crosscorpus.benchmarks.gpu`` on the CPU (tiny model): every part runs, the JSON holds
every figure, and the Table 4 projection is the sum of its parts (issue 23)."""
import json

import pytest

from s3prl_crosscorpus.benchmarks import gpu
from s3prl_crosscorpus.benchmarks.cache import real_audio_seconds, real_mean_seconds


def test_table4_projection_adds_extraction_and_every_head():
    extraction = {"fp32": {"rtf": 0.01}}
    heads = {"linear": {"seconds_per_step": 0.01}, "cnn_selfatt": {"seconds_per_step": 0.02},
             "transformer": {"seconds_per_step": 0.04}}
    projection = gpu.project_table4(extraction, heads, synth_mean=real_mean_seconds() / 2)
    # 10 runs per head (2 conditions x 5 folds) x 30000 steps, step costs doubled for real lengths
    assert projection["linear_hours"] == pytest.approx(0.01 * 2 * 10 * 30000 / 3600)
    assert projection["transformer_hours"] == pytest.approx(4 * projection["linear_hours"])
    assert projection["extraction_hours"] == pytest.approx(0.01 * real_audio_seconds() / 3600)
    assert projection["total_hours"] == pytest.approx(projection["extraction_hours"] + 7 * projection["linear_hours"])


@pytest.mark.e2e
def test_gpu_check_runs_on_the_cpu_with_a_tiny_model(data_dir, tmp_path, capsys):
    out = tmp_path / "gpu.json"
    assert gpu.main(["--data", str(data_dir), "--json", str(out), "--workdir", str(tmp_path / "work"),
                     "--device", "cpu"]) == 0
    report = json.loads(out.read_text())
    assert (report["device"], report["model_size"], report["config"]) == ("cpu", "tiny", "smoke")
    ex = report["extraction"]
    assert ex["utterances"] == sum(1 for line in (data_dir / "manifest.jsonl").read_text().splitlines()
                                   if '"iemocap"' in line)
    assert ex["fp32"]["rtf"] > 0 and ex["fp16"]["rtf"] > 0
    # fp16 really ran (features differ) and stays close (fp16 has ~3 significant digits)
    assert 0 < ex["fp16_max_rel_diff"] < 0.05
    assert set(report["heads"]) == {"linear", "cnn_selfatt", "transformer"}
    assert all(h["steps_per_second"] > 0 and h["steps_timed"] >= 3 for h in report["heads"].values())
    assert [(d["processes"], d["ok"], d["world_size"]) for d in report["ddp"]] == [(1, True, 1), (2, True, 2)]
    projection = report["table4_projection"]
    assert projection["total_hours"] == pytest.approx(projection["extraction_hours"] + sum(
        projection[f"{h}_hours"] for h in ("linear", "cnn_selfatt", "transformer")))
    printed = capsys.readouterr().out
    assert "fp16 vs fp32: max |diff|" in printed and "2 process(es)" in printed
    assert "tiny model: the projection is not HuBERT base's" in printed
