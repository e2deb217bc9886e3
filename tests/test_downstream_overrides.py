"""The safe s3prl ``-o`` builder (``core.names``) and ``s3prl-crosscorpus overrides``, read back by s3prl itself."""
import argparse
import subprocess
import sys

import pytest
from s3prl.utility.helper import override

from s3prl_crosscorpus.commands.overrides import override_string
from s3prl_crosscorpus.core.names import expert_overrides, s3prl_overrides

#: Names that break s3prl's split on ',,' and '=', its eval, or plain ASCII quoting.
HOSTILE = ["it's", "a=b", "x,,y", "with space", "Ä/𝄞/東京", "x',,__import__('os').system('touch PWNED'),,'",
           '"double"', "back\\slash", "new\nline", " lead and trail "]


def read_back(string: str):
    """(args, config) after s3prl's own ``override`` parsed ``string``."""
    args, config = argparse.Namespace(), {}
    override(string, args, config)
    return args, config


@pytest.mark.parametrize("name", HOSTILE)
def test_any_string_comes_back_from_s3prl_unchanged(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    string = s3prl_overrides(expert_overrides({"data_dir": f"/data/{name}", "corpora": [name, "emodb"],
                                               "test_corpus": None, "fold": 3},
                                              results_dir=name, modelrc={"head": "cnn_selfatt"}))
    _, config = read_back(string)
    expert = config["downstream_expert"]
    assert expert["datarc"] == {"data_dir": f"/data/{name}", "corpora": [name, "emodb"], "test_corpus": None,
                                "fold": 3}
    assert expert["results_dir"] == name and expert["modelrc"] == {"head": "cnn_selfatt"}
    assert not (tmp_path / "PWNED").exists()


def test_pasted_values_are_what_the_builder_prevents(tmp_path):
    """Negative control: the same name pasted between quotes, as the recipes did, is split and fails."""
    with pytest.raises(ValueError):
        read_back(f"config.downstream_expert.datarc.data_dir='{HOSTILE[1]}'")


def test_overrides_command_types_the_settings():
    string = override_string(["data_dir=/d/a=b", "condition=extended", "test_corpus=", "corpora=emodb,iemocap",
                              "fold=2", "head=transformer", "system_name=My-Sys"])
    _, config = read_back(string)
    expert = config["downstream_expert"]
    assert expert["datarc"] == {"data_dir": "/d/a=b", "condition": "extended", "test_corpus": None,
                                "corpora": ["emodb", "iemocap"], "fold": 2}
    assert expert["modelrc"] == {"head": "transformer"} and expert["system_name"] == "My-Sys"
    with pytest.raises(ValueError, match="unknown setting 'folds'"):
        override_string(["folds=2"])
    with pytest.raises(ValueError, match="not an integer"):
        override_string(["fold=two"])


def test_overrides_command_line_prints_the_string_and_refuses_bad_keys():
    command = [sys.executable, "-m", "s3prl_crosscorpus", "overrides"]
    good = subprocess.run(command + ["data_dir=x,,y", "fold=1"], capture_output=True, text=True, timeout=60)
    assert good.returncode == 0 and read_back(good.stdout.strip())[1]["downstream_expert"]["datarc"] == {
        "data_dir": "x,,y", "fold": 1}
    bad = subprocess.run(command + ["nonsense=1"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown setting 'nonsense'" in bad.stderr
