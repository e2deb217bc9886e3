"""The study's augmented rows: pooling against augmentation in the leaderboard's paired tests and in ``compare``."""
from s3prl_crosscorpus.commands import compare, leaderboard
from s3prl_crosscorpus.results.cells import load_cells
from s3prl_crosscorpus.results.significance import automatic_pairs

from helpers.resultgen import write_results

AUG = "ComParE-SVM[aug-speed+noise-x2]"


def test_leaderboard_pairs_pooling_against_augmentation(tmp_path, utterances, capsys):
    write_results(tmp_path, utterances, systems=("ComParE-SVM", AUG), corpora=("emodb",))
    cells, _ = load_cells(tmp_path)
    pairs = {(a.system, a.condition, b.system, b.condition) for a, b in automatic_pairs(cells)}
    assert (AUG, "matched", "ComParE-SVM", "extended") in pairs  # extended − matched+aug
    assert ("ComParE-SVM", "extended", AUG, "extended") in pairs  # extended+aug − extended
    assert ("ComParE-SVM", "matched", "ComParE-SVM", "extended") in pairs
    assert leaderboard.main([str(tmp_path), "--stats", "--resamples", "200"]) == 0
    out = capsys.readouterr().out
    assert f"| {AUG} matched" in out and f"| {AUG} extended" in out
    assert compare.main([str(tmp_path), f"{AUG}/matched", "ComParE-SVM/extended", "--resamples", "200"]) == 0
    assert "ComParE-SVM extended" in capsys.readouterr().out
