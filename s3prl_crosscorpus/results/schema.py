"""The shared result schema: one JSON file per (system, condition, test corpus, fold).

Both the SVM and the DNN system build results with :func:`make_result` and write them
with :func:`write_result`, which validates against ``result_schema.json``.
"""
import math
import platform
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from .. import __version__
from ..core.folds import Split, condition_label, fold_file_sha256, result_condition
from ..core.io_utils import read_json, write_json
from ..core.labels import LABELS
from ..core.metrics import scores
from .provenance import provenance as current_provenance
from .speakers import speakers_from_ids

SCHEMA_FILE = Path(__file__).with_name("result_schema.json")
SCHEMA_VERSION = 1
#: Metrics as fractions: stored and recomputed values must agree this closely (summaries in % get 100x).
TOLERANCE = 1e-6
RECOMPUTED = ("uar", "wa", "macro_f1")


class ResultError(ValueError):
    """A result that does not follow the schema; the message names the file and the field."""


@lru_cache(maxsize=None)
def schema() -> dict:
    return read_json(SCHEMA_FILE)


def inline_refs(node, definitions: Mapping):
    """``node`` with every ``{"$ref": "#/definitions/x"}`` replaced by that definition."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/definitions/"):
            return inline_refs(definitions[ref.rsplit("/", 1)[1]], definitions)
        return {key: inline_refs(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [inline_refs(value, definitions) for value in node]
    return node


@lru_cache(maxsize=None)
def validator():
    """One Draft-7 validator of the schema; refs inlined because resolving them per prediction row is 3x slower."""
    import jsonschema

    return jsonschema.Draft7Validator(inline_refs(schema(), schema().get("definitions", {})))


def validate_result(result: Mapping, source: str = "result") -> None:
    """Raise :class:`ResultError` naming ``source`` and the offending field if ``result`` is invalid."""
    if not validator().is_valid(result):
        errors = sorted(validator().iter_errors(result), key=lambda e: list(e.path))
        where = "/".join(map(str, errors[0].path)) or "(top level)"
        raise ResultError(f"{source}: {where}: {errors[0].message}")
    bad = first_non_finite(result)
    if bad is not None:
        raise ResultError(f"{source}: {bad}: not a finite number (NaN or infinity); a result holds finite values only")
    duplicate = first_duplicate_prediction(result["predictions"])
    if duplicate is not None:
        first, second = duplicate
        raise ResultError(f"{source}: predictions/{second}: utterance id {result['predictions'][second]['id']!r} "
                          f"is listed twice (also predictions/{first}); every id must be predicted once")


def first_non_finite(node, where: str = "") -> Optional[str]:
    """Path of the first NaN or infinite number in a JSON value (JSON has none; Python's json writes them)."""
    if isinstance(node, float) and not math.isfinite(node):
        return where or "(top level)"
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in children:
        found = first_non_finite(value, f"{where}/{key}" if where else str(key))
        if found is not None:
            return found
    return None


def close(a, b, tol: float) -> bool:
    """Equal within ``tol``; None only equals None; anything that is not a number never equals."""
    if a is None or b is None:
        return a is b
    try:
        return math.isclose(float(a), float(b), rel_tol=0.0, abs_tol=tol)
    except (TypeError, ValueError):
        return False


def metric_differences(reported: Mapping, ours: Mapping) -> List[str]:
    """Which reported metrics differ from the recomputed ones."""
    differ = [f"{m} {reported[m]:.6f} reported, {ours[m]:.6f} recomputed" for m in RECOMPUTED
              if not close(reported[m], ours[m], TOLERANCE)]
    if reported["confusion_matrix"] != ours["confusion_matrix"] or reported["n"] != ours["n"]:
        differ.append("confusion matrix differs")
    differ += [f"recall of {lab} differs" for lab in LABELS
               if not close(reported["per_class_recall"][lab], ours["per_class_recall"][lab], TOLERANCE)]
    return differ


def check_recomputed(result: Mapping, source: str = "result") -> None:
    """Raise :class:`ResultError` when the stored metrics (or sizes.test) are not what the predictions give
    (a hand-edited file): tables show only numbers recomputed from predictions."""
    rows = result["predictions"]
    if result["sizes"]["test"] != len(rows):
        raise ResultError(f"{source}: sizes.test is {result['sizes']['test']} but it holds {len(rows)} predictions "
                          f"(edited by hand?)")
    differ = metric_differences(result["metrics"], scores([r["label"] for r in rows], [r["prediction"] for r in rows]))
    if differ:
        raise ResultError(f"{source}: metrics do not match the predictions (edited by hand?): {'; '.join(differ)}; "
                          f"restore the file or re-run that fold")


def first_duplicate_prediction(rows: Sequence[Mapping]) -> Optional[Tuple[int, int]]:
    """(first row, repeated row) of the first utterance id predicted twice, or None."""
    seen: Dict[str, int] = {}
    for k, row in enumerate(rows):
        if row["id"] in seen:
            return seen[row["id"]], k
        seen[row["id"]] = k
    return None


def result_path(results_dir: Path, system: str, condition: str, test_corpus: str, fold: int,
                train_corpora: Sequence[str] = ()) -> Path:
    """``RESULTS_DIR/<system>/<condition>/<test_corpus>/fold<k>.json``; a transfer result's condition folder
    names its training corpora (``from-emodb+ravdess``, see :func:`core.folds.condition_label`)."""
    return Path(results_dir) / system / condition_label(condition, train_corpora) / test_corpus / f"fold{fold}.json"


def path_of(results_dir: Path, result: Mapping) -> Path:
    """Where ``result`` lies under ``results_dir``."""
    return result_path(results_dir, result["system"], result["condition"], result["test_corpus"], int(result["fold"]),
                       result["train_corpora"])


def package_versions(*names: str) -> Dict[str, str]:
    """This package's, Python's and the named distributions' versions."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"s3prl_crosscorpus": __version__, "python": platform.python_version()}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


def make_result(*, system: str, family: str, features: str, head: Optional[str], split: Split,
                test_corpus: str, seed: int, hyperparameters: Mapping, dev_uar: float,
                ids: Sequence[str], labels: Sequence[str], predictions: Sequence[str],
                probabilities: Optional[Sequence[Sequence[float]]] = None,
                speakers: Optional[Sequence[str]] = None,
                excluded: Iterable[Mapping] = (), timings: Optional[Mapping[str, float]] = None,
                versions: Optional[Mapping[str, str]] = None, config: Optional[Mapping] = None,
                warnings: Sequence[str] = (), init_seed: Optional[int] = None,
                provenance: Optional[Mapping] = None) -> dict:
    """Build a schema-valid result from one fold's test predictions (metrics are computed here).

    ``seed`` is the dev draw's; ``init_seed`` (DNN ``--seed``) names the run among other seeds of the same cell.

    ``speakers`` (one per id) go into the predictions; without them, the speakers the ids name by their corpus'
    convention do, when every id follows it (see :mod:`.speakers`).
    """
    if speakers is None:
        speakers = speakers_from_ids(test_corpus, ids)
    elif len(speakers) != len(ids):
        raise ValueError(f"{len(speakers)} speakers for {len(ids)} test utterances")
    rows = []
    for k, (utt, lab, pred) in enumerate(zip(ids, labels, predictions)):
        row = {"id": utt, "label": lab, "prediction": pred}
        if speakers is not None:
            row["speaker"] = str(speakers[k])
        if probabilities is not None:
            row["probabilities"] = [float(p) for p in probabilities[k]]
        rows.append(row)
    result = {
        "schema_version": SCHEMA_VERSION, "system": system, "family": family, "features": features,
        "head": head, "condition": result_condition(split, test_corpus), "train_corpora": list(split.train_corpora),
        "test_corpus": test_corpus, "fold": split.fold,
        "fold_file_sha256": split.fold_file_sha256 or fold_file_sha256(),
        "seed": int(seed), "labels": list(LABELS), "hyperparameters": dict(hyperparameters),
        "sizes": {"train": len(split.train), "dev": len(split.dev), "test": len(ids)},
        "dev": {"uar": float(dev_uar)}, "metrics": scores(labels, predictions), "predictions": rows,
        "excluded": [{"path": str(e["path"]), "reason": str(e["reason"])} for e in excluded],
        "timings": {k: float(v) for k, v in (timings or {}).items()},
        "versions": dict(versions or package_versions()),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "provenance": dict(provenance or current_provenance()),
    }
    if init_seed is not None:
        result["init_seed"] = int(init_seed)
    if dict(split.official_tests).get(test_corpus):  # an official test split, tested in every fold
        result["test_partition"] = dict(split.official_tests)[test_corpus]
    if config is not None:
        result["config"] = dict(config)
    if warnings:
        result["warnings"] = [str(w) for w in warnings]
    validate_result(result)
    return result


def write_result(path: Path, result: Mapping) -> Path:
    """Validate and write one result atomically."""
    validate_result(result, str(path))
    write_json(path, result)
    return Path(path)


def load_result_files(results_dir: Path) -> List[Tuple[Path, dict]]:
    """(path, result) for every ``fold*.json`` under ``results_dir``, validated and its metrics recomputed from its
    predictions; a bad or hand-edited file is named in the error."""
    pairs = []
    for path in sorted(Path(results_dir).rglob("fold*.json")):
        try:
            result = read_json(path)
        except ValueError as err:  # json.JSONDecodeError does not name the file
            raise ResultError(f"{path}: not valid JSON ({err})") from err
        validate_result(result, str(path))
        check_recomputed(result, str(path))
        pairs.append((path, result))
    return pairs
