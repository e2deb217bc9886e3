"""Shell-safe system names (issue 24, friction 7): built in core/names.py; older names are read and mapped."""
import json
import shlex
import zipfile

import pytest

from helpers.resultgen import write_results
from s3prl_crosscorpus.core.io_utils import read_json, write_json
from s3prl_crosscorpus.core.names import (HEADS, SVM_SYSTEMS, VARIANTS, dnn_system_name, layers_tag,
                                          safe_system_name, svm_system_name, variant_tags)
from s3prl_crosscorpus.results import cells as cells_module
from s3prl_crosscorpus.results.cells import LeaderboardError, load_cells
from s3prl_crosscorpus.submission import format as format_module
from s3prl_crosscorpus.submission.bundle import build_bundle
from s3prl_crosscorpus.submission.validate import validate_bundle

#: Names older versions wrote -> the shell-safe names they are read as (docs/seeds-and-names.md has this table).
OLD_TO_NEW = {
    "eGeMAPS-SVM[speaker-norm]": "eGeMAPS-SVM_speaker-norm",
    "eGeMAPS-SVM [speaker-norm]": "eGeMAPS-SVM_speaker-norm",
    "GeMAPS-SVM[corpus-norm,group-cv]": "GeMAPS-SVM_corpus-norm_group-cv",
    "ComParE-SVM[group-cv]": "ComParE-SVM_group-cv",
    "HuBERT-Linear[corpus-norm,dann]": "HuBERT-Linear_corpus-norm_dann",
    "HuBERT-Linear[dann]": "HuBERT-Linear_dann",
    "HuBERT-Linear[L4-8]": "HuBERT-Linear_L4-8",
    "HuBERT-Linear[L0+4+8]": "HuBERT-Linear_L0+4+8",
    "My Model-Linear": "My_Model-Linear",
}


def shell_safe(name: str) -> bool:
    return shlex.quote(name) == name and not name.startswith(".") and "/" not in name


@pytest.mark.parametrize("old,new", sorted(OLD_TO_NEW.items()))
def test_old_names_map_to_shell_safe_ones(old, new):
    assert safe_system_name(old) == new and shell_safe(new)
    assert safe_system_name(new) == new  # a shell-safe name is kept as it is


@pytest.mark.parametrize("name", ["..", "[]", "日本語"])
def test_names_without_a_safe_character_still_get_a_safe_name(name):
    assert shell_safe(safe_system_name(name)) and safe_system_name(name) not in ("", ".", "..")


def test_every_name_the_builders_make_is_shell_safe():
    names = [svm_system_name(fs, norm, select) for fs in [*SVM_SYSTEMS, "my config"]
             for norm in ("global", "corpus", "speaker") for select in ("dev", "group-cv")]
    names += [dnn_system_name(up, head, tags=variant_tags(*VARIANTS[v]) + layers_tag(layers))
              for up in ("hubert", "wavlm_base_plus", "My Upstream") for head in HEADS for v in VARIANTS
              for layers in (None, [6], [4, 5, 6, 7, 8], [0, 4, 8])]
    names += [dnn_system_name("hubert", "linear", override="HuBERT [tuned]")]
    assert all(shell_safe(n) for n in names), [n for n in names if not shell_safe(n)]
    assert svm_system_name("eGeMAPSv02", "speaker") == "eGeMAPS-SVM_speaker-norm"
    assert dnn_system_name("hubert", "linear", tags=("corpus-norm", "dann", "L4-8")) == \
        "HuBERT-Linear_corpus-norm_dann_L4-8"


def rename(results_dir, old: str) -> None:
    """Make ``results_dir`` look written by an older version: ``old`` as the HuBERT-Linear system and folder."""
    for path in list(results_dir.rglob("fold*.json")):
        result = read_json(path)
        if result["system"] == "HuBERT-Linear":
            result["system"] = old
            target = results_dir / old / path.relative_to(results_dir / "HuBERT-Linear")
            target.parent.mkdir(parents=True, exist_ok=True)
            write_json(target, result)
            path.unlink()


@pytest.fixture(scope="module")
def old_results(tmp_path_factory, utterances):
    out = tmp_path_factory.mktemp("old-names")
    write_results(out, utterances, systems=("HuBERT-Linear",), corpora=("iemocap",))
    rename(out, "HuBERT-Linear[corpus-norm,dann]")
    return out


def test_results_with_old_names_load_under_the_new_names(old_results, tmp_path, utterances):
    cells, _ = load_cells(old_results)
    assert {c.system for c in cells} == {"HuBERT-Linear_corpus-norm_dann"}
    write_results(tmp_path, utterances, systems=("HuBERT-Linear_corpus-norm_dann",), corpora=("iemocap",))
    write_results(tmp_path / "old", utterances, systems=("HuBERT-Linear",), corpora=("iemocap",), folds=[1])
    rename(tmp_path / "old", "HuBERT-Linear[corpus-norm,dann]")
    with pytest.raises(LeaderboardError, match="are both HuBERT-Linear_corpus-norm_dann matched iemocap fold 1"):
        load_cells(tmp_path)


def test_a_bundle_of_old_results_is_named_the_new_way(old_results, tmp_path):
    build_bundle(old_results, tmp_path / "b.zip", plots=False)
    with zipfile.ZipFile(tmp_path / "b.zip") as zf:
        names = zf.namelist()
        meta = json.loads(zf.read("bundle.json"))
    assert "HuBERT-Linear_corpus-norm_dann/matched/iemocap/fold1.json" in names
    assert not any("[" in n for n in names) and meta["summary"]["rows"] == ["HuBERT-Linear_corpus-norm_dann"]
    assert validate_bundle(tmp_path / "b.zip").ok, validate_bundle(tmp_path / "b.zip").problems


def test_a_bundle_written_by_an_older_version_still_validates(old_results, tmp_path, monkeypatch):
    """Older versions named folders, summary, runs and the statistics' random streams with the old names."""
    with monkeypatch.context() as patch:
        patch.setattr(cells_module, "safe_system_name", lambda name: name)
        patch.setattr(format_module, "safe_system_name", lambda name: name)
        build_bundle(old_results, tmp_path / "old.zip", plots=False)
    with zipfile.ZipFile(tmp_path / "old.zip") as zf:
        assert "HuBERT-Linear[corpus-norm,dann]/matched/iemocap/fold1.json" in zf.namelist()
    found = validate_bundle(tmp_path / "old.zip")
    assert found.ok, found.problems
    assert {key[0][0] for key in found.bundle.fold_members} == {"HuBERT-Linear_corpus-norm_dann"}


def test_the_study_renames_result_folders_of_older_versions_and_finds_their_work(tmp_path, data_dir, capsys):
    from s3prl_crosscorpus.commands import study

    results = tmp_path / "results"
    for root in (results, results / "seed7"):
        old = root / "eGeMAPS-SVM[corpus-norm]" / "matched" / "emodb"
        old.mkdir(parents=True)
        (old / "fold1.json").write_text("{}")
    args = ["svm", "--data", str(data_dir), "--results", str(results), "--feature-sets", "eGeMAPSv02",
            "--conditions", "matched", "--corpora", "emodb", "--folds", "1", "--svm-norms", "corpus",
            "--logs", str(tmp_path / "logs"), "--dry-run"]
    assert study.main(args) == 0
    assert "would rename" in capsys.readouterr().err and (results / "eGeMAPS-SVM[corpus-norm]").is_dir()
    assert study.main(args[:-1]) == 0
    said = capsys.readouterr()
    assert f"renamed {results / 'eGeMAPS-SVM[corpus-norm]'} to eGeMAPS-SVM_corpus-norm" in said.err
    assert "1 job(s) already done, 0 to run" in said.out
    assert (results / "seed7" / "eGeMAPS-SVM_corpus-norm" / "matched" / "emodb" / "fold1.json").is_file()
    assert not any("[" in p.name for p in results.rglob("*"))


def test_compare_takes_a_system_by_its_older_name(old_results, capsys):
    from s3prl_crosscorpus.commands import compare

    assert compare.main([str(old_results), "HuBERT-Linear[corpus-norm,dann]/matched",
                         "HuBERT-Linear_corpus-norm_dann/extended", "--resamples", "100", "--format", "json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert [c["a"]["system"] for c in found["comparisons"]] == ["HuBERT-Linear_corpus-norm_dann"]
