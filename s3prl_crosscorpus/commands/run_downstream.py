"""``s3prl-crosscorpus run-downstream ARGS...``: s3prl's own ``run_downstream.py`` with ``crosscorpus_emotion``.

The arguments are exactly s3prl's (``-m``, ``-u``, ``-k``, ``-d``, ``-c``, ``-o``, ``-p``, ``-e``, ``-t``,
``--seed``, ``--device``, ``--backend``...); ``-h`` prints s3prl's help. DDP runs start with
``torchrun --nproc_per_node=N -m s3prl_crosscorpus run-downstream ...``;
``python -m s3prl_crosscorpus.commands.run_downstream`` is the same command.
"""
import argparse
import ast
import importlib.util
import sys
from pathlib import Path
from typing import List, Optional

from .main import refuse

PROG = "s3prl-crosscorpus run-downstream"
#: Types s3prl's options are parsed with.
TYPES = {"int": int, "float": float, "str": str}
#: Help texts for s3prl's options that have none.
MISSING_HELP = {"--mode": "train; evaluate (with -e CKPT and -t SPLIT); inference",
                "--evaluate_split": "split that -m evaluate tests: dev or test (default test)",
                "--seed": "seed of torch, numpy and random (default 1337)"}
EPILOG = ("This plugin: -d crosscorpus_emotion is registered; without --device and without CUDA the device is "
          "cpu; configuration errors are one `error:` line (exit 2). Its own settings go through -o: "
          "`s3prl-crosscorpus overrides --help`.")


def s3prl_source() -> Path:
    """s3prl's run_downstream.py, found without importing s3prl (which takes seconds)."""
    spec = importlib.util.find_spec("s3prl")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("s3prl is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "run_downstream.py"


def literal(node: ast.AST):
    """The value of an argument of ``add_argument``: a literal, a type name, or an f-string's text."""
    if isinstance(node, ast.Name) and node.id in TYPES:
        return TYPES[node.id]
    if isinstance(node, ast.JoinedStr):  # e.g. the list of s3prl's upstreams, computed at run time
        return "".join(part.value if isinstance(part, ast.Constant) else "(see s3prl.hub)" for part in node.values)
    return ast.literal_eval(node)


def s3prl_parser(source: Path) -> argparse.ArgumentParser:
    """s3prl's run_downstream parser, rebuilt from the ``add_argument`` calls of ``get_downstream_args``."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    function = next(node for node in ast.walk(tree)
                    if isinstance(node, ast.FunctionDef) and node.name == "get_downstream_args")
    parser = argparse.ArgumentParser(prog=PROG, epilog=EPILOG,
                                     description="s3prl's run_downstream.py with the crosscorpus_emotion downstream.")
    for call in ast.walk(function):
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and call.func.attr == "add_argument"):
            names = [literal(a) for a in call.args]
            options = {k.arg: literal(k.value) for k in call.keywords if k.arg}
            if not options.get("help"):
                options["help"] = next((MISSING_HELP[n] for n in names if n in MISSING_HELP), None)
            parser.add_argument(*names, **options)
    return parser


def print_help() -> int:
    """s3prl's help without importing s3prl, torch or transformers (seconds); s3prl's own when that fails."""
    try:
        parser = s3prl_parser(s3prl_source())
    except (ImportError, OSError, SyntaxError, ValueError, StopIteration, TypeError, argparse.ArgumentError):
        return -1
    parser.print_help()
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Run s3prl's ``run_downstream`` main with ``argv``; 2 on a configuration error."""
    argv = sys.argv[1:] if argv is None else argv
    if ("-h" in argv or "--help" in argv) and print_help() == 0:
        return 0
    from ..cache.format import CacheError
    from ..superb.dataset import ConfigError
    from ..superb.runner import run
    from ..superb.upstreams import UpstreamError

    try:
        run(argv, prog=PROG)
    except (ConfigError, CacheError, UpstreamError) as err:
        return refuse(err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
