"""Validation rules: a submission bundle is complete, consistent and untampered.

Each rule is one function over the opened bundle that returns explanations (member + what is
wrong). The zip and bundle-index rules come first: without them nothing else can be read.
"""
import json
import zipfile
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from ..core.folds import FOLDS, condition_label, test_ids
from ..core.labels import LABELS
from ..core.manifest import load_manifest, manifest_fold_sha256
from ..core.names import safe_system_name
from ..core.metrics import scores
from ..core.studyfile import StudyError, cell_problems, parse_yaml, read_study
from ..core.corpora import Utterance
from ..results.cells import (Cell, collect_cells, fold_hash_problems, installed_fold_warning,
                             pool_problems, seed_of)
from ..results.leaderboard import METRICS, summary
from ..results.provenance import provenance_lines as record_lines
# One source of truth: the readers of result folders (leaderboard, plot, compare, submit) recompute with these too.
from ..results.schema import TOLERANCE, ResultError, close, metric_differences, validate_result
from ..results.significance import config_from_method, key_of, table_statistics, test_only_in
from ..results.speakers import speaker_from_id
from .format import (BUNDLE_FORMAT, BUNDLE_INDEX, EVERY_FOLD_INTERVALS_SINCE, FOLD_MEMBER, INDEX_KEYS, KNOWN_VERSIONS, SEED_FOLDERS_SINCE,
                     SPEAKERS_TXT, STATISTICS_SINCE, STUDY_YAML, SUMMARY_MD, run_record, sha256_bytes,
                     summary_markdown)

#: Recomputed statistics use the same code, data and seed: they must agree to rounding (values in %, p).
STATS_TOLERANCE = 1e-9
SHOWN = 5  # ids listed in one message

CellKey = Tuple[str, str, str]  # system, condition, test corpus
#: (cell, seed folder (None: none), fold); dicts keyed by it keep the members' name order (None and ints do not sort).
FoldKey = Tuple[CellKey, Optional[int], int]


def show(ids) -> str:
    ids = sorted(ids)
    return ", ".join(ids[:SHOWN]) + (f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else "")


@dataclass
class Bundle:
    """An opened bundle: its members (the index aside) and the parsed index; parsed views are cached."""

    path: Path
    members: Dict[str, bytes]
    meta: dict
    #: (cell, seed folder, fold) -> {"result": member, "predict": member, "truth": member}; cells by the shell-safe
    #: system name (a bundle of an older version names its folders the old way)
    fold_members: Dict[FoldKey, Dict[str, str]] = field(default_factory=dict)
    #: shell-safe system name -> the folder names that map to it (two: a clash)
    folder_names: Dict[str, Set[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in sorted(self.members):
            match = FOLD_MEMBER.match(name)
            if match:
                system = safe_system_name(match["system"])
                self.folder_names.setdefault(system, set()).add(match["system"])
                key = (system, match["condition"], match["corpus"])
                kind = "result" if match["fold"] else match["kind"]
                seed = None if match["seed"] is None else int(match["seed"])
                self.fold_members.setdefault((key, seed, int(match["fold"] or match["sfold"])), {})[kind] = name

    def lines(self, name: str) -> List[Tuple[str, str]]:
        """(utt_id, label) pairs of a predict/truth member; malformed lines are skipped (rule_superb_files explains)."""
        text = self.members[name].decode("utf-8", "replace")
        return [tuple(line.split()) for line in text.splitlines() if len(line.split()) == 2]

    def superb_members(self) -> List[str]:
        """Every predict/truth member, in name order."""
        return sorted(name for kinds in self.fold_members.values() for kind, name in kinds.items() if kind != "result")

    def cells(self) -> Dict[CellKey, Dict[Optional[int], Dict[int, Dict[str, str]]]]:
        """cell -> seed folder (None: none) -> fold -> its members."""
        by_cell: Dict[CellKey, Dict[Optional[int], Dict[int, Dict[str, str]]]] = defaultdict(dict)
        for (key, seed, fold), kinds in self.fold_members.items():
            by_cell[key].setdefault(seed, {})[fold] = kinds
        return by_cell

    @cached_property
    def result_problems(self) -> Dict[FoldKey, List[str]]:
        """Per fold with a result file: why it is unusable (empty when it is schema-valid and in place)."""
        return {fold_key: check_result(self.members[kinds["result"]], kinds["result"], *fold_key)
                for fold_key, kinds in self.fold_members.items() if "result" in kinds}

    @cached_property
    def valid_results(self) -> Dict[FoldKey, dict]:
        """Schema-valid results at the place their content names."""
        return {fold_key: json.loads(self.members[self.fold_members[fold_key]["result"]])
                for fold_key, problems in self.result_problems.items() if not problems}

    @cached_property
    def superb_problems(self) -> Dict[str, List[str]]:
        """Per predict/truth member: malformed lines, repeated ids, no lines."""
        return {name: superb_file_problems(self, name) for name in self.superb_members()}

    @property
    def version(self) -> int:
        return self.meta["format_version"]

    @cached_property
    def speakers(self) -> Dict[str, str]:
        """utterance id -> speaker from speakers.txt (first line of an id; rule_speakers_file explains the rest)."""
        if SPEAKERS_TXT not in self.members:
            return {}
        found: Dict[str, str] = {}
        for utt, speaker in self.lines(SPEAKERS_TXT):
            found.setdefault(utt, speaker)
        return found

    @cached_property
    def recomputed(self) -> Dict[FoldKey, dict]:
        """metrics.scores of every fold whose predict/truth files are well formed, agree on ids, use known labels."""
        found = {}
        for fold_key, kinds in self.fold_members.items():
            if "predict" not in kinds or "truth" not in kinds:
                continue
            if self.superb_problems[kinds["predict"]] or self.superb_problems[kinds["truth"]]:
                continue
            truth, predict = dict(self.lines(kinds["truth"])), dict(self.lines(kinds["predict"]))
            if truth.keys() == predict.keys() and set(truth.values()) | set(predict.values()) <= set(LABELS):
                ids = sorted(truth)
                found[fold_key] = scores([truth[i] for i in ids], [predict[i] for i in ids])
        return found


# --- rules that decide whether the bundle can be read at all -------------------------------------------

#: Bounds checked on the zip's directory before any member is decompressed (a crafted zip of 1 MB can
#: otherwise expand to gigabytes). A real bundle's largest member, a result of 5,531 predictions, is ~2 MB.
MAX_MEMBERS = 20_000
MAX_MEMBER_BYTES = 64 << 20
MAX_TOTAL_BYTES = 512 << 20
MAX_RATIO = 100  # uncompressed / compressed size; JSON and text compress ~5-15x
RATIO_FROM_BYTES = 1 << 20  # small members may compress better; they cannot expand far anyway


def size_problems(path: Path, infos: Sequence[zipfile.ZipInfo]) -> List[str]:
    """Members (or a whole zip) too large or too compressed to read; checked on the declared sizes, which
    bound what zipfile decompresses."""
    if len(infos) > MAX_MEMBERS:
        return [f"{path}: {len(infos)} members, more than a bundle can hold ({MAX_MEMBERS})"]
    problems = []
    for info in infos:
        if info.file_size > MAX_MEMBER_BYTES:
            problems.append(f"{path}: member {info.filename} would expand to {info.file_size} bytes "
                            f"(limit {MAX_MEMBER_BYTES}); not read")
        elif info.file_size > RATIO_FROM_BYTES and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            problems.append(f"{path}: member {info.filename} expands {info.file_size / max(info.compress_size, 1):.0f}x "
                            f"({info.compress_size} -> {info.file_size} bytes; limit {MAX_RATIO}x); not read")
    total = sum(info.file_size for info in infos)
    if total > MAX_TOTAL_BYTES:
        problems.append(f"{path}: members would expand to {total} bytes in all (limit {MAX_TOTAL_BYTES}); not read")
    return problems


def open_bundle(path: Path) -> Tuple[Optional[Bundle], List[str]]:
    """Rule: a readable zip (every CRC right), no member twice, holding an index (bundle.json) of a known format."""
    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        return None, [f"{path}: not a readable zip file ({err})"]
    members, problems = {}, []
    with zf:
        oversized = size_problems(path, zf.infolist())
        if oversized:
            return None, oversized
        names = zf.namelist()
        for name in (n for n in names if not n.endswith("/")):
            try:
                members[name] = zf.read(name)  # reading checks the member's CRC
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as err:
                problems.append(f"{path}: member {name} is damaged or unreadable ({err})")
    problems += [f"{path}: member {name} appears {n} times in the zip" for name, n in Counter(names).items() if n > 1]
    if BUNDLE_INDEX not in members:
        return None, problems + [f"{path}: no {BUNDLE_INDEX}; this is not a submission bundle (make one with `submit`)"]
    meta, meta_problems = parse_index(members.pop(BUNDLE_INDEX), path)
    if meta is None or problems:
        return None, problems + meta_problems
    return Bundle(path, members, meta), []


def parse_index(data: bytes, path: Path) -> Tuple[Optional[dict], List[str]]:
    """Rule: the index (bundle.json) is a JSON object of a known format and version, with the required fields."""
    where = f"{path}:{BUNDLE_INDEX}"
    try:
        meta = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        return None, [f"{where}: not valid JSON ({err})"]
    if not isinstance(meta, dict):
        return None, [f"{where}: must be a JSON object"]
    if meta.get("format") != BUNDLE_FORMAT:
        return None, [f"{where}: format is {meta.get('format')!r}, expected {BUNDLE_FORMAT!r}"]
    if meta.get("format_version") not in KNOWN_VERSIONS:
        return None, [f"{where}: format_version {meta.get('format_version')!r} is not known to this validator "
                      f"(knows {', '.join(map(str, KNOWN_VERSIONS))}); use a newer s3prl-crosscorpus"]
    problems = [f"{where}: field {key!r} is missing or not a {kind.__name__}"
                for key, kind in INDEX_KEYS.items() if not isinstance(meta.get(key), kind)]
    if not problems and not isinstance(meta["summary"].get("cells"), list):
        problems.append(f"{where}: summary has no list of cells")
    return (None if problems else meta), problems


# --- rules over an opened bundle -------------------------------------------------------------------------

def rule_file_hashes(b: Bundle) -> List[str]:
    """Every file bundle.json lists is present with the recorded sha256."""
    problems = []
    for name, recorded in sorted(b.meta["files"].items()):
        if name not in b.members:
            problems.append(f"{name}: listed in {BUNDLE_INDEX} but missing from the zip")
        elif sha256_bytes(b.members[name]) != recorded:
            problems.append(f"{name}: content changed after packing (sha256 {sha256_bytes(b.members[name])[:12]}…, "
                            f"{BUNDLE_INDEX} records {str(recorded)[:12]}…)")
    return problems


def rule_no_unlisted_files(b: Bundle) -> List[str]:
    """No file that bundle.json does not list (added after packing)."""
    return [f"{name}: in the zip but not listed in {BUNDLE_INDEX} (added after packing?)"
            for name in sorted(set(b.members) - set(b.meta["files"]))]


def check_result(data: bytes, name: str, key: CellKey, seed: Optional[int], fold: int) -> List[str]:
    """A result member follows the schema, lies where its content says (a seed folder: its init seed), and its
    test size matches."""
    try:
        result = json.loads(data)
        validate_result(result, name)
    except (ValueError, UnicodeDecodeError) as err:  # ResultError is a ValueError
        return [str(err) if isinstance(err, ResultError) else f"{name}: not valid JSON ({err})"]
    problems = []
    claimed = (safe_system_name(result["system"]), condition_label(result["condition"], result["train_corpora"]),
               result["test_corpus"])
    if (claimed, result["fold"]) != (key, fold):
        problems.append(f"{name}: the file says {'/'.join(claimed)} fold {result['fold']} but lies at "
                        f"{'/'.join(key)} fold {fold}")
    if seed is not None and seed_of(result) != seed:
        problems.append(f"{name}: the file's init seed is {seed_of(result)} but it lies in folder seed{seed}")
    if result["sizes"]["test"] != len(result["predictions"]):
        problems.append(f"{name}: sizes.test is {result['sizes']['test']} but it holds "
                        f"{len(result['predictions'])} predictions")
    return problems


def rule_results_valid(b: Bundle) -> List[str]:
    """Each fold<k>.json follows the result schema, lies where its content says, and its sizes match."""
    return [problem for problems in b.result_problems.values() for problem in problems]


def rule_all_folds(b: Bundle) -> List[str]:
    """Every cell (in the summary or the zip) has folds 1-5, each with result, predict and truth files."""
    problems = []
    cells = b.cells()
    listed = {reported_key(c) for c in b.meta["summary"]["cells"] if isinstance(c, dict)}
    # str keys: a tampered summary cell may lack a field (None), which must be reported, not crash the sort.
    for key in sorted(listed | set(cells), key=lambda k: tuple(map(str, k))):
        where = "/".join(map(str, key))
        if key not in cells:
            problems.append(f"{where}: in the summary but the zip holds none of its folds")
            continue
        if key not in listed:
            problems.append(f"{where}: in the zip but not in the summary of {BUNDLE_INDEX}")
        if b.version < SEED_FOLDERS_SINCE and any(seed is not None for seed in cells[key]):
            problems.append(f"{where}: seed folders need bundle format version {SEED_FOLDERS_SINCE} "
                            f"(this one is {b.version})")
        if None in cells[key] and len(cells[key]) > 1:
            problems.append(f"{where}: holds folds both in seed folders and outside them; a cell with several "
                            f"seeds keeps every seed in its seed<S>/ folder")
        for seed, folds in cells[key].items():
            at = where + ("" if seed is None else f"/seed{seed}")
            extra = sorted(set(folds) - set(FOLDS))
            if extra:
                problems.append(f"{at}: fold(s) {', '.join(map(str, extra))} do not exist (folds are 1-5)")
            for fold in FOLDS:
                kinds = folds.get(fold, {})
                lacking = [kind for kind in ("result", "predict", "truth") if kind not in kinds]
                if len(lacking) == 3:
                    problems.append(f"{at}: fold {fold} is missing")
                elif lacking:
                    problems.append(f"{at}: fold {fold} lacks its {' and '.join(lacking)} file(s)")
    return problems


def superb_file_problems(b: Bundle, name: str) -> List[str]:
    """Malformed lines and repeated ids of one predict/truth file."""
    problems = []
    try:
        text = b.members[name].decode("utf-8")
    except UnicodeDecodeError:
        return [f"{name}: not UTF-8 text"]
    for number, line in enumerate(text.splitlines(), 1):
        if len(line.split()) != 2:
            problems.append(f"{name}:{number}: expected '<utt_id> <label>', got {line[:60]!r}")
    repeated = [i for i, n in Counter(i for i, _ in b.lines(name)).items() if n > 1]
    if repeated:
        problems.append(f"{name}: utterance(s) listed more than once: {show(repeated)}")
    if not b.lines(name):
        problems.append(f"{name}: no predictions")
    return problems


def rule_superb_files(b: Bundle) -> List[str]:
    """Predict and truth files are '<id> <label>' lines, each id once, the same ids, as in the result file."""
    problems = [problem for name in b.superb_members() for problem in b.superb_problems[name]]
    for fold_key, kinds in b.fold_members.items():
        if "predict" not in kinds or "truth" not in kinds:
            continue
        predicted, truth = dict(b.lines(kinds["predict"])), dict(b.lines(kinds["truth"]))
        if predicted.keys() != truth.keys():
            problems.append(f"{kinds['predict']}: ids differ from {kinds['truth']}: "
                            + "; ".join(f"{what}: {show(ids)}" for what, ids in
                                        (("not predicted", truth.keys() - predicted.keys()),
                                         ("not in the truth file", predicted.keys() - truth.keys())) if ids))
        result = b.valid_results.get(fold_key)
        if result is not None:
            rows = {row["id"]: (row["label"], row["prediction"]) for row in result["predictions"]}
            lines = {i: (truth.get(i), predicted.get(i)) for i in truth.keys() | predicted.keys()}
            differ = [i for i in rows.keys() | lines.keys() if rows.get(i) != lines.get(i)]
            if differ:
                problems.append(f"{kinds['predict']}, {kinds['truth']}: disagree with {kinds['result']} "
                                f"on {len(differ)} utterance(s): {show(differ)}")
    return problems


def rule_labels_known(b: Bundle) -> List[str]:
    """Every label in a predict or truth file is one of LABELS."""
    problems = []
    for name in b.superb_members():
        unknown = Counter(lab for _, lab in b.lines(name) if lab not in LABELS)
        if unknown:
            problems.append(f"{name}: label(s) {', '.join(sorted(unknown))} are not in the label set "
                            f"{', '.join(LABELS)} ({sum(unknown.values())} line(s))")
    return problems


def tested_whole(b: Bundle, key: CellKey, seed: Optional[int], folds: Dict[int, Dict[str, str]]) -> bool:
    """Every fold tests the same utterances, as it must for a test-only corpus (too few speakers for folds: no
    fold trains on it) and for an official test split (every fold's result records the same ``test_partition``;
    the fold table keeps its speakers out of training, and ``--data`` checks the set is that split)."""
    results = [b.valid_results.get((key, seed, fold)) for fold in folds]
    if not results or any(r is None for r in results):
        return False
    test_only = not any(key[2] in r["train_corpora"] for r in results)
    official = results[0].get("test_partition") and len({r.get("test_partition") for r in results}) == 1
    if not (test_only or official):
        return False
    return len({frozenset(u for u, _ in b.lines(kinds["truth"])) for kinds in folds.values() if "truth" in kinds}) == 1


def rule_folds_disjoint(b: Bundle) -> List[str]:
    """No utterance is tested in two folds of the same cell and seed (except a test set tested whole in every fold:
    a test-only corpus, an official test split)."""
    problems = []
    for key, seeds in sorted(b.cells().items()):
        for seed, folds in seeds.items():
            if tested_whole(b, key, seed, folds):
                continue
            seen: Dict[str, List[int]] = defaultdict(list)
            for fold, kinds in folds.items():
                for utt, _ in b.lines(kinds["truth"]) if "truth" in kinds else []:
                    seen[utt].append(fold)
            shared = {utt: fs for utt, fs in seen.items() if len(set(fs)) > 1}
            if shared:
                example = sorted(shared)[0]
                where = "/".join(key) + ("" if seed is None else f"/seed{seed}")
                problems.append(f"{where}: {len(shared)} utterance(s) are tested in more than one fold, "
                                f"e.g. {example} in folds {', '.join(map(str, sorted(set(shared[example]))))}")
    return problems


def rule_same_test_sets(b: Bundle) -> List[str]:
    """Every system and condition is tested on the same utterances of a corpus and fold."""
    groups: Dict[Tuple[str, int], Dict[frozenset, List[str]]] = defaultdict(lambda: defaultdict(list))
    for ((system, condition, corpus), seed, fold), kinds in b.fold_members.items():
        if "truth" in kinds:
            who = f"{system}/{condition}" + ("" if seed is None else f" seed {seed}")
            groups[(corpus, fold)][frozenset(i for i, _ in b.lines(kinds["truth"]))].append(who)
    problems = []
    for (corpus, fold), by_set in sorted(groups.items()):
        if len(by_set) > 1:
            reference = max(by_set, key=lambda s: len(by_set[s]))
            for ids, who in by_set.items():
                if ids != reference:
                    problems.append(f"{corpus} fold {fold}: {', '.join(who)} tested on other utterances than "
                                    f"{', '.join(by_set[reference])} (missing: {show(reference - ids) or 'none'}; "
                                    f"extra: {show(ids - reference) or 'none'})")
    return problems


def reported_key(cell: Mapping) -> Tuple:
    """(system, condition, test corpus) of a summary cell, the system by its shell-safe name."""
    system = cell.get("system")
    return (safe_system_name(system) if isinstance(system, str) else system, cell.get("condition"),
            cell.get("test_corpus"))


def rule_metrics_recomputed(b: Bundle) -> List[str]:
    """Metrics in each result file equal those recomputed from its predict and truth files."""
    results = b.valid_results
    problems = []
    for fold_key, ours in b.recomputed.items():
        if fold_key in results:
            differ = metric_differences(results[fold_key]["metrics"], ours)
            if differ:
                problems.append(f"{b.fold_members[fold_key]['result']}: metrics do not match the predictions: "
                                + "; ".join(differ))
    return problems


def summary_differences(reported: Mapping, ours: Mapping) -> List[str]:
    """Where a summary cell in bundle.json differs from the one recomputed from the predictions."""
    differ = [key for key in ("family", "folds", "missing_folds", "complete") if reported.get(key) != ours[key]]
    for key in ("paper_uar", "diff_uar"):
        if not close(reported.get(key), ours[key], 100 * TOLERANCE):
            differ.append(key)
    for metric in METRICS:
        theirs = (reported.get("metrics") or {}).get(metric) or {}
        mine = ours["metrics"][metric]
        if not (close(theirs.get("mean"), mine["mean"], 100 * TOLERANCE)
                and close(theirs.get("std"), mine["std"], 100 * TOLERANCE)
                and (theirs.get("per_fold") or {}).keys() == mine["per_fold"].keys()
                and all(close(theirs["per_fold"][k], v, 100 * TOLERANCE) for k, v in mine["per_fold"].items())):
            differ.append(f"{metric} (reported mean {theirs.get('mean')}, recomputed {mine['mean']:.6f})")
    return differ


def rendered_summary(table: Mapping, grouped_warnings: bool = True) -> Optional[str]:
    """summary.md as ``submit`` writes it from this summary (``grouped_warnings=False``: as bundles made before
    warnings were grouped); None when the summary cannot be rendered."""
    try:
        return summary_markdown(table, grouped_warnings)
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def rule_summary_matches(b: Bundle) -> List[str]:
    """The summary in bundle.json and summary.md equal what the predictions give; runs match the results."""
    usable = [dict(result, metrics=b.recomputed[key]) for key, result in b.valid_results.items()
              if key in b.recomputed]
    reported = {reported_key(c): c for c in b.meta["summary"]["cells"] if isinstance(c, dict)}
    problems = []
    # Cells with a broken or missing fold are explained by the fold rules; comparing them here would only repeat it.
    for cell in summary(collect_cells(usable), b.meta["fold_file_sha256"])["cells"] if usable else []:
        key = (cell["system"], cell["condition"], cell["test_corpus"])
        if key in reported and cell["complete"]:
            differ = summary_differences(reported[key], cell)
            if differ:
                problems.append(f"{BUNDLE_INDEX}: summary of {'/'.join(key)} does not match the predictions: "
                                + "; ".join(differ))
    if SUMMARY_MD not in b.members:
        problems.append(f"{SUMMARY_MD}: missing")
    elif not problems and b.members[SUMMARY_MD].decode("utf-8", "replace") not in (
            rendered_summary(b.meta["summary"]), rendered_summary(b.meta["summary"], grouped_warnings=False)):
        problems.append(f"{SUMMARY_MD}: does not show the summary table of {BUNDLE_INDEX}")
    order = lambda run: json.dumps(run, sort_keys=True)
    runs = sorted((run_record(r) for r in b.valid_results.values()), key=order)
    listed = {order(dict(run, system=safe_system_name(run["system"])) if isinstance(run, dict)
                    and isinstance(run.get("system"), str) else run) for run in b.meta["runs"]}
    unlisted = [f"{r['system']}/{r['condition']}/{r['test_corpus']} fold {r['fold']}" for r in runs
                if order(r) not in listed]
    if unlisted:
        problems.append(f"{BUNDLE_INDEX}: runs (seeds, hyperparameters, configs) do not match the result files of "
                        f"{show(unlisted)}")
    return problems


def rule_speakers_file(b: Bundle) -> List[str]:
    """Version 2: speakers.txt names test utterances' speakers once each, as the result files and the ids do."""
    if b.version < STATISTICS_SINCE:
        return []
    if SPEAKERS_TXT not in b.members:
        return [f"{SPEAKERS_TXT}: missing (format version {b.version} bundles carry it)"]
    problems = superb_file_problems(b, SPEAKERS_TXT) if b.members[SPEAKERS_TXT] else []
    disagree: Dict[str, List[str]] = defaultdict(list)
    for ((_, _, corpus), _, _), result in b.valid_results.items():
        for row in result["predictions"]:
            listed = b.speakers.get(row["id"])
            if listed is not None and row.get("speaker", listed) != listed:
                disagree["the speaker its result file records"].append(row["id"])
            if listed is not None and speaker_from_id(corpus, row["id"]) not in (None, listed):
                disagree[f"the speaker its id names ({corpus} naming)"].append(row["id"])
    problems += [f"{SPEAKERS_TXT}: {len(set(ids))} utterance(s) listed with another speaker than {what}: {show(set(ids))}"
                 for what, ids in disagree.items()]
    return problems


def recomputed_cells(b: Bundle) -> List[Cell]:
    """Cells of the valid results with the predictions and metrics of their checked predict/truth files."""
    usable = []
    for key, result in b.valid_results.items():
        if key not in b.recomputed:
            continue
        kinds = b.fold_members[key]
        predicted = dict(b.lines(kinds["predict"]))
        rows = [{"id": utt, "label": label, "prediction": predicted[utt]} for utt, label in b.lines(kinds["truth"])]
        usable.append(dict(result, metrics=b.recomputed[key], predictions=rows))
    return collect_cells(usable, [b.fold_members[key]["result"] for key in b.valid_results if key in b.recomputed])


#: Figures of a statistics cell and comparison that must match; reasons and speaker sources are wording.
CELL_FIGURES = ("available", "uar", "ci", "n_utterances", "n_speakers", "seeds", "per_seed", "seed_std")
COMPARISON_FIGURES = ("available", "diff", "ci", "p", "exact", "permutations", "n_speakers", "n_utterances",
                      "p_holm", "significant", "paper_diff", "wilcoxon_folds")


def same_figure(a, b) -> bool:
    """Equal within STATS_TOLERANCE, through lists and dicts; booleans, None and strings exactly."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_figure(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(map(same_figure, a, b))
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None or isinstance(a, str):
        return a == b
    return close(a, b, STATS_TOLERANCE)


def figure_differences(reported: Mapping, ours: Mapping, names: Sequence[str]) -> List[str]:
    return [name for name in names if not same_figure(reported.get(name), ours.get(name))]


def comparison_key(entry: Mapping) -> Tuple:
    return (entry.get("test_corpus"), *(tuple((entry.get(side) or {}).get(k) for k in ("system", "condition"))
                                        for side in ("a", "b")))


def rule_statistics_match(b: Bundle) -> List[str]:
    """Version 2: the statistics in bundle.json equal those recomputed from the predictions with its seed."""
    if b.version < STATISTICS_SINCE:
        return []
    reported = b.meta["summary"].get("statistics")
    where = f"{BUNDLE_INDEX}: summary statistics"
    if not isinstance(reported, dict) or not isinstance(reported.get("cells"), list) \
            or not isinstance(reported.get("comparisons"), list):
        return [f"{where}: missing or malformed (format version {b.version} bundles carry them)"]
    try:
        config = config_from_method(reported["method"])
    except (KeyError, TypeError, ValueError) as err:  # StatsError is a ValueError
        return [f"{where}: method (resamples, seed, confidence, alpha) missing or invalid ({err})"]
    cells = recomputed_cells(b)
    for cell in cells:  # the random streams are keyed by the name the statistics were computed under
        cell.system = min(b.folder_names.get(cell.system, {cell.system}))
    listed = {(c.get("system"), c.get("condition"), c.get("test_corpus")) for c in b.meta["summary"]["cells"]
              if isinstance(c, dict)}
    if any(not c.complete for c in cells) or {key_of(c) for c in cells} != listed:
        return []  # a broken or missing fold changes every figure of its cell; the fold rules name it
    ours = table_statistics(cells, config, b.speakers, f"bundle {SPEAKERS_TXT}",
                            every_fold=b.version >= EVERY_FOLD_INTERVALS_SINCE)
    problems = []
    theirs = {(c.get("system"), c.get("condition"), c.get("test_corpus")): c for c in reported["cells"]
              if isinstance(c, dict)}
    for entry in ours["cells"]:
        key = (entry["system"], entry["condition"], entry["test_corpus"])
        differ = figure_differences(theirs.get(key, {}), entry, CELL_FIGURES)
        if differ:
            problems.append(f"{where}: {'/'.join(key)} does not match the predictions ({', '.join(differ)})")
    theirs = {comparison_key(c): c for c in reported["comparisons"] if isinstance(c, dict)}
    for entry in ours["comparisons"]:
        differ = figure_differences(theirs.pop(comparison_key(entry), {}), entry, COMPARISON_FIGURES)
        if differ:
            problems.append(f"{where}: comparison {entry['b']['system']}/{entry['b']['condition']} − "
                            f"{entry['a']['system']}/{entry['a']['condition']} on {entry['test_corpus']} does not "
                            f"match the predictions ({', '.join(differ)})")
    problems += [f"{where}: comparison {key} is not one the results give" for key in theirs]
    if reported.get("family_size") != ours["family_size"]:
        problems.append(f"{where}: family_size {reported.get('family_size')!r}, recomputed {ours['family_size']}")
    return problems + numpy_hint(b, problems)


def numpy_hint(b: Bundle, problems: List[str]) -> List[str]:
    """When statistics differ and the bundle was made with another numpy, say that its random streams may differ."""
    import numpy

    made = (b.meta.get("package_versions") or {}).get("numpy")
    if problems and made and made != numpy.__version__:
        return [f"{BUNDLE_INDEX}: the bundle was made with numpy {made}, this is numpy {numpy.__version__}: "
                f"if only intervals and randomised p differ, validate with numpy {made}"]
    return []


def rule_one_folder_per_system(b: Bundle) -> List[str]:
    """Two folders whose names map to the same shell-safe system name would be read as one system."""
    return [f"folders {' and '.join(sorted(names))} are both system {system}; keep one"
            for system, names in sorted(b.folder_names.items()) if len(names) > 1]


def rule_one_fold_file(b: Bundle) -> List[str]:
    """One fold-file hash in bundle.json, its summary and every valid result."""
    items = [(b.fold_members[key]["result"], result) for key, result in b.valid_results.items()]
    items.append((BUNDLE_INDEX, {"fold_file_sha256": b.meta["fold_file_sha256"]}))
    items.append((f"{BUNDLE_INDEX} summary", {"fold_file_sha256": b.meta["summary"].get("fold_file_sha256")}))
    return fold_hash_problems(items)


def rule_one_pool_per_cell(b: Bundle) -> List[str]:
    """Every fold of a (system, condition, test corpus) trained on the same corpus pool."""
    return pool_problems([(b.fold_members[key]["result"], result) for key, result in b.valid_results.items()])


def rule_matches_study(b: Bundle) -> List[str]:
    """A bundle that records its study file holds exactly the systems and cells the study asks for."""
    if STUDY_YAML not in b.members:
        return []
    source = f"{STUDY_YAML} (in the bundle)"
    try:
        study = read_study(parse_yaml(b.members[STUDY_YAML].decode("utf-8", "replace"), source), source, Path("."))
    except StudyError as err:
        return [str(err)]
    cells = {(c.get("system"), c.get("family"), c.get("condition"), c.get("test_corpus"))
             for c in b.meta["summary"]["cells"] if isinstance(c, dict)}
    return cell_problems(study, sorted(cells, key=lambda k: tuple(map(str, k))), source,
                         test_only_in(recomputed_cells(b)))


RULES: Tuple[Callable[[Bundle], List[str]], ...] = (
    rule_file_hashes, rule_no_unlisted_files, rule_results_valid, rule_all_folds, rule_superb_files,
    rule_labels_known, rule_folds_disjoint, rule_same_test_sets, rule_metrics_recomputed, rule_summary_matches,
    rule_one_fold_file, rule_speakers_file, rule_statistics_match, rule_one_pool_per_cell, rule_matches_study,
    rule_one_folder_per_system,
)


def rule_test_sets_match_manifest(b: Bundle, utts: Sequence[Utterance], data_dir: Path) -> List[str]:
    """With ``--data``: each fold predicts exactly the test utterances the shared folds give (excluded files aside)."""
    path_to_id = {u.path: u.id for u in utts}
    expected: Dict[Tuple[str, int], Set[str]] = {}
    present = {u.corpus for u in utts}
    absent = sorted({key[2] for key, _, _ in b.fold_members} - present)
    problems = [f"{data_dir}: the manifest holds no {corpus} utterances, so the bundle's {corpus} test sets cannot "
                f"be checked against it (prepare it with --{corpus} ROOT)" for corpus in absent]
    for fold_key, kinds in b.fold_members.items():
        key, _, fold = fold_key
        corpus = key[2]
        if "truth" not in kinds or fold not in FOLDS or corpus in absent:
            continue
        if (corpus, fold) not in expected:
            expected[(corpus, fold)] = set(test_ids(utts, corpus, fold))
        result = b.valid_results.get(fold_key, {})
        excluded = {path_to_id.get(e["path"]) for e in result.get("excluded", [])}
        ids = {i for i, _ in b.lines(kinds["truth"])}
        missing, extra = expected[(corpus, fold)] - ids - excluded, ids - expected[(corpus, fold)]
        if missing or extra:
            problems.append(f"{kinds['truth']}: not the fold-{fold} test set of {corpus} in {data_dir} "
                            f"(missing: {show(missing) or 'none'}; not in the test set: {show(extra) or 'none'})")
    return problems


def rule_speakers_match_manifest(b: Bundle, utts: Sequence[Utterance], data_dir: Path) -> List[str]:
    """With ``--data``: speakers.txt names the manifest's speaker of each utterance the manifest holds."""
    manifest = {u.id: u.speaker for u in utts}
    differ = [utt for utt, speaker in b.speakers.items() if manifest.get(utt, speaker) != speaker]
    return [f"{SPEAKERS_TXT}: {len(differ)} utterance(s) listed with another speaker than the manifest in {data_dir} "
            f"names: {show(differ)}"] if differ else []


@dataclass
class Validation:
    """What ``validate`` found: problems reject the bundle, warnings do not."""

    problems: List[str]
    warnings: List[str]
    bundle: Optional[Bundle]

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        """One line: the verdict and what was checked."""
        if not self.ok:
            return f"REJECTED: {len(self.problems)} problem(s)"
        table = self.bundle.meta["summary"]
        what = "metrics and statistics" if self.bundle.version >= STATISTICS_SINCE else "metrics"
        return (f"OK: {len(table['rows'])} system(s), {len(table['cells'])} cell(s) x {len(FOLDS)} folds; "
                f"every check passed and the {what} recomputed from the predictions match; "
                f"fold file sha256 {self.bundle.meta['fold_file_sha256'][:12]}…")


def validate_bundle(path: Path, data_dir: Optional[Path] = None) -> Validation:
    """Run every rule; no problems means the bundle is complete, consistent and untampered."""
    bundle, problems = open_bundle(path)
    if bundle is None:
        return Validation(problems, [], None)
    for rule in RULES:
        problems += rule(bundle)
    if data_dir is not None:
        utts = load_manifest(data_dir)
        problems += rule_test_sets_match_manifest(bundle, utts, data_dir)
        problems += rule_speakers_match_manifest(bundle, utts, data_dir)
    warning = installed_fold_warning(bundle.meta["fold_file_sha256"],
                                     manifest_fold_sha256(data_dir) if data_dir is not None else None)
    return Validation(problems, [warning] if warning else [], bundle)


def provenance_lines(bundle: Optional[Bundle]) -> List[str]:
    """Who packed the bundle and what made its results (package versions, commits, machines), for ``validate``."""
    if bundle is None:
        return []
    lines = []
    if isinstance(bundle.meta.get("provenance"), dict):
        lines += ["packed by: " + line for line in record_lines(bundle.meta["provenance"])]
    made: Counter = Counter()
    for kinds in bundle.fold_members.values():
        try:
            record = json.loads(bundle.members[kinds["result"]]).get("provenance") if "result" in kinds else None
        except (ValueError, UnicodeDecodeError, AttributeError):
            continue
        if isinstance(record, dict):
            made[(record.get("package_version"), record.get("git_commit") or "unknown", record.get("cpu"),
                  ", ".join(record.get("gpus") or []) or "no GPU")] += 1
        elif "result" in kinds:
            made[None] += 1
    for key, n in sorted(made.items(), key=lambda kv: -kv[1]):
        lines.append(f"results: {n} made without a provenance record" if key is None else
                     f"results: {n} made by s3prl-crosscorpus {key[0]} (git {key[1]}) on {key[2]}; {key[3]}")
    return lines
