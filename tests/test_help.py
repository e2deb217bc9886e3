"""Command-line help (issue 24, friction 4): `--help` of the dispatcher, of every sub-command and of
`baseline-svm` imports no heavy library (so it prints in well under a second), every option has a help
text, and `--version` prints the package version."""
import argparse
import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from s3prl_crosscorpus import __version__
from s3prl_crosscorpus.commands.main import SUBCOMMANDS

ROOT = Path(__file__).resolve().parents[1]
#: Libraries that take a second or more to import on a 2-core machine; `--help` must not load them.
HEAVY = ("torch", "torchaudio", "s3prl", "transformers", "sklearn", "scipy", "matplotlib", "opensmile", "pandas")

#: Imports `--help` of the given argv in a fresh interpreter and prints the heavy modules it loaded.
PROBE = """
import json, sys
from {module} import main
try:
    main({argv!r})
except SystemExit:
    pass
heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))
print(json.dumps(heavy), file=sys.stderr)
"""

#: Sub-commands whose own options are s3prl's run_downstream's (its help is s3prl's parser, rebuilt).
S3PRL_PARSERS = ("run-downstream",)


def heavy_imports(module: str, argv: list) -> list:
    """Heavy libraries imported by ``module.main(argv)`` in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", PROBE.format(module=module, argv=argv, heavy=HEAVY)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert "usage:" in done.stdout, done.stdout + done.stderr
    return json.loads(done.stderr.strip().splitlines()[-1])


@contextlib.contextmanager
def caught_parsers(method: str):
    """The parsers whose ``method`` (parse_args, parse_known_args) is called inside the block; the call exits."""
    caught = []
    original = getattr(argparse.ArgumentParser, method)

    def catch(self, args=None, namespace=None):
        caught.append(self)
        raise SystemExit(0)

    setattr(argparse.ArgumentParser, method, catch)
    try:
        with pytest.raises(SystemExit):
            yield caught
    finally:
        setattr(argparse.ArgumentParser, method, original)


def parser_of(name: str) -> argparse.ArgumentParser:
    """The argparse parser a sub-command builds (caught when it parses `--help`)."""
    module = __import__(SUBCOMMANDS[name][0], fromlist=["main"])
    with caught_parsers("parse_known_args") as caught, contextlib.redirect_stdout(io.StringIO()):
        module.main(["--help"])
    return caught[0]


def options_without_help(parser: argparse.ArgumentParser, prefix: str = "") -> list:
    """'command option' of every argument (sub-parsers included) without a help text."""
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                missing += options_without_help(sub, f"{prefix}{name} ")
        elif not action.help and action.help is not argparse.SUPPRESS:
            missing.append(prefix + "/".join(action.option_strings or [action.dest]))
    return missing


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_help_of_every_subcommand_imports_no_heavy_library(name):
    assert heavy_imports("s3prl_crosscorpus.commands.main", [name, "--help"]) == []


def test_help_of_the_dispatcher_and_of_baseline_svm_imports_no_heavy_library():
    assert heavy_imports("s3prl_crosscorpus.commands.main", ["--help"]) == []
    assert heavy_imports("baseline_svm.cli", ["--help"]) == []
    assert heavy_imports("baseline_svm.cli", ["run", "--help"]) == []


@pytest.mark.parametrize("name", sorted(set(SUBCOMMANDS) - set(S3PRL_PARSERS)))
def test_every_option_has_a_help_text(name):
    assert options_without_help(parser_of(name)) == []


def test_every_option_of_run_downstream_has_a_help_text():
    from s3prl_crosscorpus.commands.run_downstream import s3prl_parser, s3prl_source

    assert options_without_help(s3prl_parser(s3prl_source())) == []


@pytest.mark.e2e
def test_run_downstream_help_has_exactly_s3prls_options():
    from s3prl_crosscorpus.commands.run_downstream import s3prl_parser, s3prl_source
    from s3prl_crosscorpus.superb import compat  # noqa: F401 (s3prl imports on today's torch)

    import s3prl.run_downstream as s3prl_main

    with caught_parsers("parse_args") as caught:
        s3prl_main.get_downstream_args()

    def options(parser):
        return [(a.option_strings, a.dest, a.default, a.choices, a.type, a.required) for a in parser._actions]

    assert options(s3prl_parser(s3prl_source())) == options(caught[0])


def test_every_option_of_baseline_svm_has_a_help_text():
    from baseline_svm import cli

    assert options_without_help(cli.build_parser()) == []


def test_the_missing_help_check_finds_an_option_without_text():
    parser = argparse.ArgumentParser()
    parser.add_argument("--with", help="documented")
    parser.add_argument("--without")
    sub = parser.add_subparsers().add_parser("run")
    sub.add_argument("path")
    assert options_without_help(parser) == ["--without", "run path"]


@pytest.mark.parametrize("argv", [["--version"], ["-V"]])
def test_version(argv, capsys):
    from s3prl_crosscorpus.commands.main import main

    assert main(argv) == 0
    assert capsys.readouterr().out == f"s3prl-crosscorpus {__version__}\n"


def test_baseline_svm_version(capsys):
    from baseline_svm import cli

    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out == f"baseline-svm {__version__}\n"
