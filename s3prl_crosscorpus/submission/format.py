"""The submission bundle format: member names, the bundle index (``bundle.json``) and summary.md.

Layout of a bundle (one zip)::

    bundle.json                                   index: format, versions, fold-file hash, runs, summary, sha256 of every file
    summary.md                                    the UAR (with its statistics), WA and macro-F1 tables
    speakers.txt                                  "<utt_id> <speaker>" per test utterance (version 2)
    study.yaml                                    optional: the study file (submit --study); its cells must match
    <system>/<condition>/<corpus>/fold<k>.json    the result files (metrics, configs, seeds travel with them)
    <system>/<condition>/<corpus>/test_fold<k>_predict.txt   SUPERB style "<utt_id> <label>" lines
    <system>/<condition>/<corpus>/test_fold<k>_truth.txt
    <system>/<condition>/<corpus>/seed<S>/...     version 3: the same three files per init seed S, in a cell
                                                  with several seeds (a cell with one seed has no seed folder)
    plots/*.png                                   optional

Version 2 adds the speaker-level statistics (``summary.statistics`` in bundle.json, rendered in
summary.md) and ``speakers.txt``, from which ``validate`` recomputes them. Version 1 bundles stay valid.
Both packing (:mod:`.bundle`) and validation (:mod:`.validate`) follow this module; neither imports the other.
"""
import hashlib
import re
from typing import Mapping, Optional

from ..core.folds import condition_label
from ..core.names import safe_system_name
from ..results.leaderboard import METRICS, render_markdown

BUNDLE_FORMAT = "s3prl-crosscorpus-bundle"
BUNDLE_VERSION = 4
#: Versions the validator reads; version 1 has no statistics and no speakers.txt, versions 1-2 no seed folders,
#: versions 1-3 no intervals for a corpus tested whole in every fold.
KNOWN_VERSIONS = (1, 2, 3, 4)
STATISTICS_SINCE = 2
#: A bundle with seed folders is version 3; one without them is written as version 2, which older validators read.
SEED_FOLDERS_SINCE = 3
#: A bundle whose statistics give a corpus tested whole in every fold (test-only, an official test split) its
#: interval is version 4; one without such a cell is written with the lowest version that holds it.
EVERY_FOLD_INTERVALS_SINCE = 4
#: The bundle's index member: what it holds and the sha256 of every other member.
BUNDLE_INDEX = "bundle.json"
SUMMARY_MD = "summary.md"
SPEAKERS_TXT = "speakers.txt"
#: The study file the results were made from (``submit --study``), as given; validate checks the cells against it.
STUDY_YAML = "study.yaml"
PLOTS_DIR = "plots"
#: A result, predict or truth member: ``<system>/<condition>/<corpus>/fold<k>.json`` or ``.../test_fold<k>_<kind>.txt``.
FOLD_MEMBER = re.compile(r"^(?P<system>[^/]+)/(?P<condition>[^/]+)/(?P<corpus>[^/]+)/(?:seed(?P<seed>-?\d+)/)?"
                         r"(?:fold(?P<fold>\d+)\.json|test_fold(?P<sfold>\d+)_(?P<kind>predict|truth)\.txt)$")
#: Fields of the index and their JSON types.
INDEX_KEYS = {"format": str, "format_version": int, "created": str, "package_versions": dict,
              "fold_file_sha256": str, "runs": list, "summary": dict, "files": dict}


def cell_dir(system: str, condition: str, corpus: str, seed: Optional[int] = None) -> str:
    """A cell's folder; ``seed``: the folder of one init seed of a cell with several."""
    return f"{system}/{condition}/{corpus}" + ("" if seed is None else f"/seed{seed}")


def result_cell_dir(result: Mapping, seed: Optional[int] = None) -> str:
    """The folder of a result's cell (a transfer cell's condition folder names its training corpora)."""
    return cell_dir(safe_system_name(result["system"]), condition_label(result["condition"], result["train_corpora"]),
                    result["test_corpus"], seed)


def result_member(result: Mapping, seed: Optional[int] = None) -> str:
    return f"{result_cell_dir(result, seed)}/fold{result['fold']}.json"


def superb_member(result: Mapping, kind: str, seed: Optional[int] = None) -> str:
    """``test_fold<k>_predict.txt`` / ``test_fold<k>_truth.txt``, s3prl's emotion-task names."""
    folder = result_cell_dir(result, seed)
    return f"{folder}/test_fold{result['fold']}_{kind}.txt"


def superb_lines(result: Mapping, column: str) -> str:
    """``<utt_id> <label>`` per test utterance; ``column`` is "prediction" or "label"."""
    return "".join(f"{row['id']} {row[column]}\n" for row in result["predictions"])


def speaker_lines(speakers: Mapping[str, str]) -> str:
    """speakers.txt: ``<utt_id> <speaker>`` per test utterance, in id order."""
    return "".join(f"{utt} {speaker}\n" for utt, speaker in sorted(speakers.items()))


def run_record(result: Mapping) -> dict:
    """What reproduces one fold: seeds, chosen hyperparameters, configuration, versions, sizes."""
    record = {key: result.get(key) for key in ("system", "family", "features", "head", "condition", "test_corpus",
                                               "fold", "train_corpora", "seed", "hyperparameters", "config",
                                               "dev", "sizes", "versions")}
    record["system"] = safe_system_name(record["system"])  # older results' names map to the shell-safe ones
    if "init_seed" in result:  # absent from results (and bundles) written before it
        record["init_seed"] = result["init_seed"]
    return record


def summary_markdown(table: Mapping, grouped_warnings: bool = True) -> str:
    """summary.md: the table once per metric (UAR with the paper's figures); see :func:`render_markdown`."""
    return "\n".join(render_markdown(table, metric, grouped_warnings) for metric in METRICS)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
