"""``s3prl-crosscorpus prepare``: read the corpus roots into ``DATA_DIR/manifest.jsonl``."""
import argparse
import sys
from pathlib import Path
from typing import List, Optional, Tuple

from ..core.corpora import READERS, REGISTRY, CorpusError
from ..core.corpora.registry import partitioned_corpora
from ..core.corpora.table import AudformatColumns, parse_label_map, read_audformat, read_csv_corpus
from ..core.folds import FoldError
from ..core.io_utils import WriteError
from ..core.labels import CORPORA, corpus_name_problem, corpus_order
from ..core.manifest import MANIFEST, ManifestError, prepare, summary


def named_path(text: str) -> Tuple[str, Path]:
    """``NAME=PATH`` -> (name, path), refusing a bad corpus name."""
    name, sep, path = text.partition("=")
    if not sep or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    if corpus_name_problem(name) or name in READERS:
        raise argparse.ArgumentTypeError(corpus_name_problem(name)
                                         or f"{name} has its own reader: give it with --{name} ROOT, or another NAME")
    return name, Path(path)


def label_map(text: str) -> dict:
    try:
        return parse_label_map(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def name_list(text: str) -> List[str]:
    """``a,b`` -> [a, b]."""
    return [name.strip() for name in text.split(",") if name.strip()]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="s3prl-crosscorpus prepare",
                                     description="Read the corpora into DATA_DIR/manifest.jsonl.")
    known = list(corpus_order(READERS))  # the paper's three, then the registry's (docs/corpus-registry.md)
    for corpus in known:
        info = REGISTRY[corpus]
        parser.add_argument(f"--{corpus}", type=Path, metavar="DIR",
                            help=f"{info.display} root as distributed: {info.layout}")
    parser.add_argument("--csv", type=named_path, action="append", default=[], metavar="NAME=FILE",
                        help="your own corpus: a CSV with columns path,label,speaker (optional gender, language, "
                             "source_label, id); paths relative to the CSV's folder (repeatable)")
    parser.add_argument("--audformat", type=named_path, action="append", default=[], metavar="NAME=DB_ROOT",
                        help="an audformat database (audb's format): the folder holding db.yaml (repeatable)")
    parser.add_argument("--label-map", type=label_map, default={}, metavar="SRC=CLASS,...",
                        help="labels of --csv/--audformat corpora to neu/hap/ang/sad, or - to leave out")
    parser.add_argument("--language", default="und", help="language of rows without one (default %(default)s)")
    for what in ("emotion", "speaker", "gender"):
        parser.add_argument(f"--audformat-{what}", metavar="TABLE.COLUMN",
                            help=f"the audformat column holding the {what} (default: found by name or scheme)")
    parser.add_argument("--official-partition", type=name_list, action="append", default=[], metavar="NAME[,NAME]",
                        help="split these corpora by their official partition instead of speaker folds (corpora "
                             f"with one: {', '.join(partitioned_corpora())}; docs/corpus-registry.md)")
    parser.add_argument("--out", type=Path, required=True, metavar="DATA_DIR",
                        help="folder for manifest.jsonl and manifest.meta.json")
    args = parser.parse_args(argv)
    roots = {c: getattr(args, c) for c in known if getattr(args, c) is not None}
    if not roots and not args.csv and not args.audformat:
        parser.error("give at least one corpus: " + ", ".join(f"--{c}" for c in known) + ", --csv or --audformat")
    names = [n for n, _ in args.csv + args.audformat]
    if len(set(names)) < len(names):
        parser.error(f"corpus name given twice: {sorted(n for n in names if names.count(n) > 1)[0]}")
    columns = AudformatColumns(args.audformat_emotion, args.audformat_speaker, args.audformat_gender)
    try:
        own = ([read_csv_corpus(n, p, args.label_map, args.language) for n, p in args.csv]
               + [read_audformat(n, p, args.label_map, columns, args.language) for n, p in args.audformat])
        official = list(dict.fromkeys(n for group in args.official_partition for n in group))
        reads = prepare(roots, args.out, reads=own, official=official)
    except (CorpusError, ManifestError, FoldError, WriteError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(summary(reads))
    print(f"wrote {args.out / MANIFEST}")
    return 0
