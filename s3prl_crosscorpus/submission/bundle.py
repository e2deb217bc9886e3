"""Packing: a results folder into one submission bundle (zip) in the format of :mod:`.format`."""
import json
import os
import tempfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from ..core.folds import CONDITIONS, TRANSFER, is_transfer_label
from ..core.io_utils import WriteError, atomic_open
from ..core.labels import LABELS, corpus_order
from ..results.cells import Cell, cell_key, collect_pairs, load_checked, seed_of
from ..results.leaderboard import summary
from ..results.provenance import provenance
from ..results.schema import package_versions
from ..results.significance import table_statistics, test_only_in, tested_whole_in_every_fold
from ..results.speakers import SpeakerError, resolve_speakers
from ..results.stats import StatsConfig
from ..core.studyfile import StudyError, cell_problems, load_study
from .format import (BUNDLE_FORMAT, BUNDLE_INDEX, EVERY_FOLD_INTERVALS_SINCE, PLOTS_DIR, SEED_FOLDERS_SINCE,
                     SPEAKERS_TXT, STUDY_YAML, SUMMARY_MD, result_member,
                     run_record, sha256_bytes, speaker_lines, summary_markdown, superb_lines, superb_member)

#: Distributions whose versions the bundle records (those installed).
VERSION_DISTS = ("numpy", "scikit-learn", "torch", "s3prl", "opensmile", "matplotlib", "jsonschema")


class BundleError(ValueError):
    """Results that cannot make a complete, consistent submission."""


def check_names(source: str, result: Mapping) -> None:
    """Member names split on "/" and SUPERB lines on whitespace: names holding them would be misread."""
    if "/" in result["system"]:
        raise BundleError(f"{source}: system name {result['system']!r} contains '/'")
    for row in result["predictions"]:
        if row["id"] != "".join(row["id"].split()):
            raise BundleError(f"{source}: utterance id {row['id']!r} contains whitespace")


def condition_name(cell: Cell) -> str:
    """The condition of a cell (a ``from-...`` cell is a transfer cell)."""
    return TRANSFER if is_transfer_label(cell.condition) else cell.condition


def check_complete(cells: List[Cell]) -> None:
    """A submission needs every fold of every cell."""
    incomplete = [f"{c.system} {c.condition} {c.corpus} misses fold(s) {', '.join(map(str, c.missing))}"
                  for c in cells if not c.complete]
    if incomplete:
        raise BundleError("a submission needs every fold of every cell:\n  " + "\n  ".join(incomplete))


def member_seed(result: Mapping, cells: List[Cell]) -> Optional[int]:
    """The seed folder of a result's members: its init seed when its cell has several seeds, else none."""
    several = {(c.system, c.condition, c.corpus) for c in cells if len(c.seeds) > 1}
    return seed_of(result) if cell_key(result)[:3] in several else None


def test_speakers(pairs: List[Tuple[Path, dict]], speakers: Optional[Mapping[str, str]]) -> Dict[str, str]:
    """utterance id -> speaker of every test utterance whose speaker the statistics could find."""
    found: Dict[str, str] = {}
    for path, result in pairs:
        try:
            names, _ = resolve_speakers(result["predictions"], result["test_corpus"], speakers, source=str(path))
        except SpeakerError:
            continue  # that cell's statistics are marked unavailable and say why
        for row, name in zip(result["predictions"], names):
            if name != "".join(name.split()):
                raise BundleError(f"{path}: speaker {name!r} of {row['id']} contains whitespace")
            found[row["id"]] = name
    return found


def bundle_files(pairs: List[Tuple[Path, dict]], cells: List[Cell], table: Mapping, plots: bool
                 ) -> Dict[str, bytes]:
    """Every member of the bundle except its index (bundle.json)."""
    files: Dict[str, bytes] = {}
    for path, result in pairs:
        check_names(str(path), result)
        seed = member_seed(result, cells)
        files[result_member(result, seed)] = path.read_bytes()
        files[superb_member(result, "predict", seed)] = superb_lines(result, "prediction").encode()
        files[superb_member(result, "truth", seed)] = superb_lines(result, "label").encode()
    files[SUMMARY_MD] = summary_markdown(table).encode()
    if plots:
        from ..results.plots import plot_all  # matplotlib only when plots are wanted

        with tempfile.TemporaryDirectory() as tmp:
            for png in plot_all(cells, table, Path(tmp)):
                files[f"{PLOTS_DIR}/{png.name}"] = png.read_bytes()
    return files


def bundle_version(cells: Sequence[Cell]) -> int:
    """The lowest format version that holds these cells, so older validators read what they can."""
    if any(tested_whole_in_every_fold(c, seed) for c in cells for seed in c.seeds):
        return EVERY_FOLD_INTERVALS_SINCE
    return SEED_FOLDERS_SINCE if any(len(c.seeds) > 1 for c in cells) else SEED_FOLDERS_SINCE - 1


def bundle_index(results: List[Mapping], cells: List[Cell], table: Mapping, files: Mapping[str, bytes]) -> dict:
    """bundle.json: everything needed to check and reproduce the submission."""
    return {
        "format": BUNDLE_FORMAT,
        "format_version": bundle_version(cells),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "package_versions": package_versions(*VERSION_DISTS),
        "provenance": provenance(),
        "fold_file_sha256": table["fold_file_sha256"], "labels": list(LABELS),
        "systems": list(dict.fromkeys(c.system for c in cells)),
        "conditions": [k for k in CONDITIONS if any(condition_name(c) == k for c in cells)],
        "corpora": list(corpus_order(c.corpus for c in cells)),
        "runs": [run_record(r) for r in sorted(results, key=lambda r: (result_member(r), str(seed_of(r))))],
        "summary": table,
        "files": {name: sha256_bytes(data) for name, data in sorted(files.items())},
    }


def write_bundle(out: Path, meta: Mapping, files: Mapping[str, bytes]) -> Path:
    """Write the zip atomically: bundle.json first, then the files in name order."""
    with atomic_open(out, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(BUNDLE_INDEX, json.dumps(meta, indent=2) + "\n")
        for name in sorted(files):
            zf.writestr(name, files[name])
    return Path(out)


def check_study(cells: List[Cell], study: Optional[Path]) -> Optional[bytes]:
    """The study file's bytes, refused unless the cells are exactly those it asks for."""
    if study is None:
        return None
    try:
        problems = cell_problems(load_study(study), [(c.system, c.family, c.condition, c.corpus) for c in cells],
                                 str(study), test_only_in(cells))
    except StudyError as err:
        raise BundleError(str(err)) from None
    if problems:
        raise BundleError("the results do not match the study file:\n  " + "\n  ".join(problems))
    return Path(study).read_bytes()


def build_bundle(results_dir: Path, out: Path, plots: bool = True, config: StatsConfig = StatsConfig(),
                 speakers: Optional[Mapping[str, str]] = None, study: Optional[Path] = None) -> dict:
    """Pack ``results_dir`` into ``out`` with the speaker-level statistics (``speakers``: id -> speaker from the
    manifest, for results that do not record them) and the ``study`` file they were made from; refuse
    incomplete cells, mixed fold files, duplicates and cells the study does not ask for.
    A cell with several init seeds keeps each seed's folds in a ``seed<S>/`` folder."""
    pairs = load_checked(results_dir)
    cells = collect_pairs(pairs)
    check_complete(cells)
    study_bytes = check_study(cells, study)
    statistics = table_statistics(cells, config, speakers, "manifest")
    table = summary(cells, pairs[0][1]["fold_file_sha256"], statistics)
    files = bundle_files(pairs, cells, table, plots)
    files[SPEAKERS_TXT] = speaker_lines(test_speakers(pairs, speakers)).encode()
    if study_bytes is not None:
        files[STUDY_YAML] = study_bytes
    meta = bundle_index([result for _, result in pairs], cells, table, files)
    write_bundle(out, meta, files)
    return meta


def submit_bundle(results_dir: Path, out: Path, plots: bool = True, config: StatsConfig = StatsConfig(),
                  speakers: Optional[Mapping[str, str]] = None, data_dir: Optional[Path] = None,
                  study: Optional[Path] = None):
    """:func:`build_bundle` into a hidden file beside ``out``, validated, and moved to ``out`` only when valid (a
    rejected bundle never lies at ``out``; an older bundle there is kept). Returns (index, validation)."""
    from .validate import validate_bundle  # the validator reads bundles; packing does not need it otherwise

    out = Path(out)
    staged = out.with_name(f".{out.name}.pending")
    try:
        meta = build_bundle(results_dir, staged, plots, config, speakers, study)
        found = validate_bundle(staged, data_dir)
        if found.ok:
            os.replace(staged, out)
    except WriteError as err:  # name the file the user asked for, not the hidden one
        raise WriteError(err.errno, str(err.strerror).replace(str(staged), str(out))) from None
    finally:
        if staged.exists():
            staged.unlink()
    return meta, found
