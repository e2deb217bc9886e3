"""The study file: one YAML naming a study's corpora, pool, conditions, systems and statistics.

``recipes/run.sh --study FILE`` reads it through ``s3prl-crosscorpus study-file`` (which prints the
recipe's settings), ``submit --study FILE`` records it in the bundle and ``validate`` checks that the
bundle's cells are exactly those the study asks for (:func:`expected_cells`). Every key is checked
here: an unknown key, a wrong type or value is one :class:`StudyError` naming the file and the key.
See docs/study-file.md for every key.
"""
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from .corpora.registry import partitioned_corpora
from .folds import (CONDITIONS, FOLDS, TRANSFER, FoldError, condition_label, condition_of, is_transfer_label,
                    table_order, transfer_rows)
from .names import HEADS, SVM_SYSTEMS, VARIANTS, dnn_system_name, svm_system_name, variant_tags
from .normalise import NORMS

#: A corpus name as prepare and the result folders use it.
CORPUS_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
#: A corpus entry that is not a folder: run.sh synthesises the corpus (the synthetic default).
SYNTHETIC = "synthetic"
#: The keys of a corpus entry written as a mapping; exactly one of them (none: synthetic).
CORPUS_SOURCES = ("root", "csv", "audformat")
#: ``partition: official``: the corpus is split by its official partition (prepare --official-partition NAME).
PARTITION_KEY, OFFICIAL = "partition", "official"
TOP_KEYS = ("corpora", "pool", "conditions", "transfer", "folds", "systems", "statistics")
SVM_KEYS = ("feature_sets", "grid", "norms")
DNN_KEYS = ("upstream", "ckpt", "upstream_name", "heads", "seeds", "steps", "config", "cache", "matched_corpora",
            "variants")
STATS_KEYS = ("resamples", "seed")
#: A word run.sh passes on (upstream names): no blanks, quotes or shell metacharacters.
WORD = re.compile(r"^[A-Za-z0-9_.:/+@%-]+$")


class StudyError(ValueError):
    """A study file that cannot run; the message is ``FILE: key: problem``."""


@dataclass(frozen=True)
class Corpus:
    """One corpus of the study: ``source`` is synthetic, root, csv or audformat; ``path`` its folder or file."""

    name: str
    source: str
    path: Optional[Path] = None
    official: bool = False  # split by its official partition instead of speaker folds


@dataclass
class Study:
    """A checked study file."""

    path: Path
    corpora: List[Corpus]
    pool: Tuple[str, ...]
    conditions: List[str]
    rows: List[Tuple[str, ...]] = field(default_factory=list)  # transfer matrix rows (empty: none asked)
    folds: List[int] = field(default_factory=lambda: list(FOLDS))
    svm: Optional[Dict[str, Any]] = None
    dnn: Optional[Dict[str, Any]] = None
    statistics: Dict[str, int] = field(default_factory=dict)

    @property
    def synthetic(self) -> bool:
        return all(c.source == SYNTHETIC for c in self.corpora)


# --- reading -------------------------------------------------------------------------------------------------

def yaml_loader():
    """A safe loader that refuses a key given twice in one mapping (PyYAML keeps the last silently)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def mapping(loader, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} is given twice",
                                                        key_node.start_mark)
            seen.add(key)
        return loader.construct_mapping(node, deep)

    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return Loader


def parse_yaml(text: str, source: str) -> Any:
    """The YAML document in ``text``; a syntax error is one StudyError naming ``source`` and the line."""
    import yaml

    try:
        return yaml.load(text, Loader=yaml_loader())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise StudyError(f"{source}:{where}: not valid YAML ({problem})") from None


class Checker:
    """Type and value checks that name the file and the key in their error."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, problem: str) -> StudyError:
        return StudyError(f"{self.source}: {key}: {problem}")

    def mapping(self, value: Any, key: str, allowed: Sequence[str]) -> Mapping:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a mapping of {', '.join(allowed)}, got {type(value).__name__}")
        unknown = [str(k) for k in value if k not in allowed]
        if unknown:
            raise self.fail(f"{key}.{unknown[0]}" if key else unknown[0],
                            f"unknown key; known keys here: {', '.join(allowed)}")
        return value

    def words(self, value: Any, key: str, allowed: Optional[Sequence[str]] = None) -> List[str]:
        """A list of strings (a single string is one item), each in ``allowed`` when given; not empty."""
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(v, str) for v in items):
            raise self.fail(key, f"must be a non-empty list of names, got {value!r}")
        for item in items:
            if allowed is not None and item not in allowed:
                raise self.fail(key, f"{item!r} is not one of {', '.join(allowed)}")
            if not WORD.match(item):
                raise self.fail(key, f"{item!r} is not one word")
        if len(set(items)) != len(items):
            raise self.fail(key, f"lists a name twice: {items}")
        return list(items)

    def integer(self, value: Any, key: str, minimum: Optional[int] = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be a whole number, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.fail(key, f"must be >= {minimum}, got {value}")
        return value

    def word(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not WORD.match(value):
            raise self.fail(key, f"must be one word (letters, digits, _.:/+@%-), got {value!r}")
        return value

    def path(self, value: Any, key: str, base: Path) -> Path:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a path, got {value!r}")
        path = Path(value).expanduser()
        return path if path.is_absolute() else base / path


def read_corpora(check: Checker, value: Any, base: Path) -> List[Corpus]:
    """``corpora``: name -> ``synthetic``, a root folder, or ``{root|csv|audformat: PATH, partition: official}``
    (``partition`` optional; without a source key the corpus is synthetic)."""
    if not isinstance(value, dict) or not value:
        raise check.fail("corpora", "must map each corpus name to its root (or synthetic, {csv: FILE}, "
                                    "{audformat: DIR})")
    corpora = []
    for name, entry in value.items():
        key = f"corpora.{name}"
        if not isinstance(name, str) or not CORPUS_NAME.match(name):
            raise check.fail(key, "a corpus name is lower-case letters, digits and _ (starting with a letter)")
        if entry == SYNTHETIC or entry is None:
            corpora.append(Corpus(name, SYNTHETIC))
        elif isinstance(entry, str):
            corpora.append(Corpus(name, "root", check.path(entry, key, base)))
        else:
            entry = dict(check.mapping(entry, key, CORPUS_SOURCES + (PARTITION_KEY,)))
            official = PARTITION_KEY in entry and read_partition(check, name, entry.pop(PARTITION_KEY))
            if len(entry) > 1 or not entry and not official:
                raise check.fail(key, f"give exactly one of {', '.join(CORPUS_SOURCES)}")
            if not entry:  # {partition: official} alone: synthetic
                corpora.append(Corpus(name, SYNTHETIC, official=True))
                continue
            (source, path), = entry.items()
            if official and source != "root":
                raise check.fail(f"{key}.{PARTITION_KEY}", f"an official partition is read by {name}'s reader: give "
                                                           f"its root ({{root: DIR}}), not {source}")
            corpora.append(Corpus(name, source, check.path(path, f"{key}.{source}", base), official))
    kinds = {c.source == SYNTHETIC for c in corpora}
    if len(kinds) > 1:
        first = next(c.name for c in corpora if c.source == SYNTHETIC)
        raise check.fail(f"corpora.{first}", "synthetic corpora cannot be mixed with corpus roots (run.sh "
                                             "synthesises the corpora only when no root is given)")
    return corpora


def read_partition(check: Checker, name: str, value: Any) -> bool:
    """``corpora.NAME.partition``: ``official`` (the corpus must ship one: the registry's ``partitions``)."""
    key = f"corpora.{name}.{PARTITION_KEY}"
    if value != OFFICIAL:
        raise check.fail(key, f"must be {OFFICIAL!r} (its official partition instead of speaker folds), got {value!r}")
    if name not in partitioned_corpora():
        raise check.fail(key, f"{name} has no official partition (corpora with one: {', '.join(partitioned_corpora())})")
    return True


def read_rows(check: Checker, value: Any, pool: Sequence[str]) -> List[Tuple[str, ...]]:
    """``transfer.rows``: each a corpus, ``a+b``, or a list of corpora."""
    if not isinstance(value, list) or not value:
        raise check.fail("transfer.rows", "must be a non-empty list of training pools (emodb, emodb+ravdess, ...)")
    rows = []
    for k, row in enumerate(value):
        names = row.split("+") if isinstance(row, str) else row
        rows.append(tuple(check.words(names, f"transfer.rows[{k}]", pool)))
    try:
        return transfer_rows(pool, rows)
    except FoldError as err:
        raise check.fail("transfer.rows", str(err)) from None


def read_svm(check: Checker, value: Any, grids: Optional[Sequence[str]]) -> Dict[str, Any]:
    svm = check.mapping(value if value is not None else {}, "systems.svm", SVM_KEYS)
    found: Dict[str, Any] = {}
    if "feature_sets" in svm:
        found["feature_sets"] = check.words(svm["feature_sets"], "systems.svm.feature_sets", list(SVM_SYSTEMS))
    if "grid" in svm:
        found["grid"] = check.word(svm["grid"], "systems.svm.grid")
        if grids is not None and found["grid"] not in grids:
            raise check.fail("systems.svm.grid", f"{found['grid']!r} is not one of {', '.join(grids)}")
    if "norms" in svm:
        found["norms"] = check.words(svm["norms"], "systems.svm.norms", NORMS)
    return found


def read_dnn(check: Checker, value: Any, corpora: Sequence[str], base: Path) -> Dict[str, Any]:
    dnn = check.mapping(value if value is not None else {}, "systems.dnn", DNN_KEYS)
    key = lambda name: f"systems.dnn.{name}"
    found: Dict[str, Any] = {}
    for name in ("upstream", "upstream_name"):
        if name in dnn:
            found[name] = check.word(dnn[name], key(name))
    for name in ("ckpt", "config"):
        if name in dnn:
            found[name] = check.path(dnn[name], key(name), base)
    for name, allowed in (("heads", HEADS), ("matched_corpora", corpora), ("variants", list(VARIANTS))):
        if name in dnn:
            found[name] = check.words(dnn[name], key(name), allowed)
    if "seeds" in dnn:
        seeds = dnn["seeds"] if isinstance(dnn["seeds"], list) else [dnn["seeds"]]
        found["seeds"] = [check.integer(s, key("seeds"), 0) for s in seeds]
    if "steps" in dnn:
        found["steps"] = check.integer(dnn["steps"], key("steps"), 1)
    if "cache" in dnn:
        if not isinstance(dnn["cache"], bool):
            raise check.fail(key("cache"), f"must be true or false, got {dnn['cache']!r}")
        found["cache"] = dnn["cache"]
    return found


def read_study(data: Any, source: str, base: Path, grids: Optional[Sequence[str]] = None) -> Study:
    """Check a parsed study document (``source`` names it in errors; relative paths are under ``base``)."""
    check = Checker(source)
    top = check.mapping(data, "", TOP_KEYS)
    for required in ("corpora", "conditions", "systems"):
        if required not in top:
            raise check.fail(required, "missing (every study names its corpora, conditions and systems)")
    corpora = read_corpora(check, top["corpora"], base)
    names = [c.name for c in corpora]
    pool = table_order(check.words(top["pool"], "pool", names) if "pool" in top else names)
    conditions = check.words(top["conditions"], "conditions", CONDITIONS)
    if len(pool) < 2 and set(conditions) & {"extended", "loco", TRANSFER}:
        raise check.fail("conditions", f"extended, loco and transfer need two or more pool corpora; pool is {list(pool)}")
    rows: List[Tuple[str, ...]] = []
    if "transfer" in top:
        if TRANSFER not in conditions:
            raise check.fail("transfer", "given, but conditions does not list transfer")
        transfer = check.mapping(top["transfer"], "transfer", ("rows",))
        rows = read_rows(check, transfer["rows"], pool) if "rows" in transfer else []
    if TRANSFER in conditions and not rows:
        rows = transfer_rows(pool)
    given = top.get("folds", list(FOLDS))
    if not isinstance(given, list) or not given:
        raise check.fail("folds", f"must be a list of folds of {list(FOLDS)}, got {given!r}")
    folds = sorted(check.integer(k, "folds", 1) for k in given)
    if any(k not in FOLDS for k in folds) or len(set(folds)) != len(folds):
        raise check.fail("folds", f"must be distinct folds of {list(FOLDS)}, got {top['folds']!r}")
    systems = check.mapping(top["systems"], "systems", ("svm", "dnn"))
    if not systems:
        raise check.fail("systems", "name svm, dnn or both")
    stats = check.mapping(top.get("statistics") or {}, "statistics", STATS_KEYS)
    statistics = {"resamples": check.integer(stats["resamples"], "statistics.resamples", 1)} \
        if "resamples" in stats else {}
    if "seed" in stats:
        statistics["seed"] = check.integer(stats["seed"], "statistics.seed", 0)
    return Study(path=Path(source), corpora=corpora, pool=pool, conditions=conditions, rows=rows, folds=folds,
                 svm=read_svm(check, systems["svm"], grids) if "svm" in systems else None,
                 dnn=read_dnn(check, systems["dnn"], names, base) if "dnn" in systems else None,
                 statistics=statistics)


def load_study(path: Path, grids: Optional[Sequence[str]] = None) -> Study:
    """Read and check a study file (``grids``: the SVM grid names, checked when given)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise StudyError(f"{path}: cannot read the study file ({err})") from None
    return read_study(parse_yaml(text, str(path)), str(path), path.resolve().parent, grids)


# --- what a study asks for ---------------------------------------------------------------------------------------

def condition_cells(study: Study, condition: str, tested: Sequence[str]) -> Set[Tuple[str, str]]:
    """(condition name, test corpus) of one condition's cells (transfer: one per matrix row and corpus)."""
    if condition != TRANSFER:
        return {(condition, c) for c in tested}
    return {(condition_label(condition_of(row, c, study.pool), row), c) for row in study.rows for c in tested}


def svm_systems(study: Study) -> List[str]:
    """SVM rows: feature sets (default the three) x normalisations (default global)."""
    svm = study.svm or {}
    return [svm_system_name(fs, norm) for fs in svm.get("feature_sets", list(SVM_SYSTEMS))
            for norm in svm.get("norms", ["global"])]


def expected_cells(study: Study) -> Dict[str, Set[Tuple[str, str]]]:
    """family -> {(condition name, test corpus)} each of its systems must have. DNN cells need the upstream's
    name to name the systems, so only their (condition, corpus) set is given (matched: ``matched_corpora``)."""
    cells: Dict[str, Set[Tuple[str, str]]] = {}
    for family, settings in (("svm", study.svm), ("dnn", study.dnn)):
        if settings is None:
            continue
        found: Set[Tuple[str, str]] = set()
        for condition in study.conditions:
            tested = list(study.pool)
            if family == "dnn" and condition == "matched":
                tested = [c for c in study.pool if c in settings.get("matched_corpora", ["iemocap"])]
            found |= condition_cells(study, condition, tested)
        cells[family] = found
    return cells


def dnn_systems(study: Study, upstream_label: str) -> List[str]:
    """DNN rows: heads x variants, named from ``upstream_label``."""
    dnn = study.dnn or {}
    return [dnn_system_name(upstream_label, head, tags=variant_tags(*VARIANTS[variant]))
            for head in dnn.get("heads", list(HEADS)) for variant in dnn.get("variants", ["plain"])]


def cell_problems(study: Study, cells: Sequence[Tuple[str, str, str, str]], source: str) -> List[str]:
    """Where (system, family, condition name, test corpus) ``cells`` differ from what ``study`` asks for: a
    system or cell it does not ask for, or one it asks for that is missing; ``source`` names the study."""
    by_system: Dict[Tuple[str, str], Set[Tuple[str, str]]] = {}
    for system, family, condition, corpus in cells:
        by_system.setdefault((system, family), set()).add((condition, corpus))
    expected = expected_cells(study)
    problems = []
    svm_wanted = set(svm_systems(study)) if study.svm is not None else set()
    found_svm = {system for system, family in by_system if family == "svm"}
    problems += [f"{source}: asks for SVM system {s}, which has no results" for s in sorted(svm_wanted - found_svm)]
    problems += [f"{source}: does not ask for SVM system {s}" for s in sorted(found_svm - svm_wanted)]
    dnn = [system for system, family in by_system if family != "svm"]
    if study.dnn is None and dnn:
        problems.append(f"{source}: asks for no DNN system, but the results hold {', '.join(sorted(dnn))}")
    elif study.dnn is not None and len(dnn) != len(dnn_systems(study, "X")):
        problems.append(f"{source}: asks for {len(dnn_systems(study, 'X'))} DNN system(s) (heads x variants), "
                        f"the results hold {len(dnn)}: {', '.join(sorted(dnn)) or 'none'}")
    for (system, family), found in sorted(by_system.items()):
        wanted = set(expected.get("svm" if family == "svm" else "dnn", set()))
        if family != "svm" and re.search(r"[\[,]dann\b", system):  # DANN needs two training corpora
            wanted = {(k, c) for k, c in wanted if k != "matched" and not (is_transfer_label(k) and "+" not in k)}
        for condition, corpus in sorted(wanted - found):
            problems.append(f"{source}: {system} {condition} {corpus} is asked for but has no results")
        for condition, corpus in sorted(found - wanted):
            problems.append(f"{source}: {system} {condition} {corpus} is not part of the study")
    return problems
