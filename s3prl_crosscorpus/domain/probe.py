"""Corpus probe: how much corpus identity do the features carry, with and without normalisation?

A linear classifier (scikit-learn ``LogisticRegression`` on standardised features) predicts the
*corpus* of an utterance. For each shared fold k it is trained on every utterance whose speaker is
not in fold k's test set (the pooled training partitions, dev included) and tested on fold k's
test speakers of every corpus; the score is the UAR over the corpora (chance = 1 / corpora).
High corpus UAR means strong domain mismatch. Features are one matrix per *source* (an openSMILE
set, or one upstream layer of a feature cache, mean-pooled over frames); normalisation is that of
the SVM (``core.normalise``: ``global``, ``corpus``, ``speaker``).
"""
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from ..core.normalise import NORMS, apply_statistics, group_of, group_statistics, is_transductive

from ..core.corpora import Utterance
from ..core.folds import FOLDS, test_fold_of
from ..core.io_utils import atomic_open, write_json

#: Inverse regularisation of the probe (fixed: the probe is a measurement, not a tuned model).
PROBE_C = 1.0

#: A feature source: its utterances (rows) and their feature matrix.
Source = Tuple[Sequence[Utterance], np.ndarray]


@dataclass(frozen=True)
class ProbeRow:
    """Corpus-prediction UAR of one feature source under one normalisation, over the folds."""

    source: str
    norm: str
    uar: float  # mean over folds
    std: float  # spread across folds (population std)
    per_fold: Tuple[float, ...]
    chance: float
    transductive: bool


def normalised(X: np.ndarray, utts: Sequence[Utterance], norm: str) -> np.ndarray:
    """``X`` z-normalised per corpus / speaker with all of the group's rows (``global``: unchanged)."""
    if norm == "global":
        return np.asarray(X, dtype=np.float64)
    groups = [group_of(u.corpus, u.speaker, norm) for u in utts]
    return apply_statistics(X, groups, group_statistics(X, groups))


def fold_uar(X: np.ndarray, corpora: np.ndarray, folds: np.ndarray, fold: int, seed: int = 0) -> float:
    """Corpus UAR of a probe trained off fold ``fold``'s test speakers and tested on them."""
    train, test = folds != fold, folds == fold
    if len(set(corpora[train])) < 2 or not test.any():
        raise ValueError(f"fold {fold}: the probe needs two or more training corpora and test utterances")
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=PROBE_C, max_iter=2000, random_state=seed))
    probe.fit(X[train], corpora[train])
    return float(balanced_accuracy_score(corpora[test], probe.predict(X[test])))  # UAR over the corpora


def probe_source(name: str, X: np.ndarray, utts: Sequence[Utterance], norm: str,
                 folds: Sequence[int] = FOLDS, seed: int = 0) -> ProbeRow:
    """One table row: the probe on ``X`` (rows = ``utts``) after ``norm``, every fold."""
    if len(X) != len(utts):
        raise ValueError(f"{name}: {len(X)} feature rows for {len(utts)} utterances")
    corpora = np.array([u.corpus for u in utts])
    fold_of = np.array([test_fold_of(u) for u in utts])
    Xn = normalised(X, utts, norm)
    scores = [fold_uar(Xn, corpora, fold_of, k, seed) for k in folds]
    return ProbeRow(name, norm, float(np.mean(scores)), float(np.std(scores)), tuple(scores),
                    1.0 / len(set(corpora)), is_transductive(norm))


def run_probe(sources: Mapping[str, Source], norms: Sequence[str] = NORMS, folds: Sequence[int] = FOLDS,
              seed: int = 0, progress: bool = True) -> List[ProbeRow]:
    """Rows for every (source, normalisation), sources in the given order."""
    todo = [(name, norm) for name in sources for norm in norms]
    return [probe_source(name, sources[name][1], sources[name][0], norm, folds, seed)
            for name, norm in tqdm(todo, desc="corpus probe", unit="probe", disable=not progress, leave=False)]


def gather_sources(utts: Sequence[Utterance], feature_sets: Sequence[str] = (), cache_root: Optional[Path] = None,
                   layers: Optional[Sequence[int]] = None, opensmile_cache: Optional[Path] = None,
                   n_jobs: Optional[int] = None, progress: bool = True) -> Tuple[Dict[str, Source], List[dict]]:
    """(source name -> (utterances, matrix), excluded files): each openSMILE set, then each cached layer."""
    sources: Dict[str, Source] = {}
    excluded: List[dict] = []
    for feature_set in feature_sets:
        kept, X, lost = opensmile_source(utts, feature_set, opensmile_cache, n_jobs)
        sources[feature_set] = (kept, X)
        excluded += [dict(item, source=feature_set) for item in lost]
    if cache_root is not None:
        pooled = cache_layers(utts, cache_root, progress)
        sources.update(layer_sources(pooled, utts, layers))
    if not sources:
        raise ValueError("nothing to probe: give an openSMILE feature set and/or a feature cache")
    return sources, excluded


# --------------------------------------------------------------------------- feature sources


def opensmile_source(utts: Sequence[Utterance], feature_set: str, cache_dir: Optional[Path] = None,
                     n_jobs: Optional[int] = None) -> Tuple[List[Utterance], np.ndarray, List[Dict[str, str]]]:
    """(utterances with features, their functionals, excluded files) via the SVM's cached extraction."""
    from baseline_svm.features import extract

    extraction = extract([u.path for u in utts], feature_set, cache_dir=cache_dir, n_jobs=n_jobs)
    kept = [u for u in utts if u.path in extraction.vectors]
    return kept, extraction.matrix([u.path for u in kept]), extraction.excluded


def cache_layers(utts: Sequence[Utterance], cache_root: Path, progress: bool = True) -> np.ndarray:
    """Mean-pooled frames of every stored layer: float32 ``[utterances, layers, hidden]``."""
    from ..cache.format import FeatureCache

    cache = FeatureCache(Path(cache_root))
    cache.require([u.id for u in utts])
    pooled = np.empty((len(utts), cache.num_layers, cache.hidden_size), dtype=np.float32)
    for k, utt in enumerate(tqdm(utts, desc="pooling cached layers", unit="utt", disable=not progress, leave=False)):
        pooled[k] = np.asarray(cache.features(utt.id), dtype=np.float32).mean(axis=0)
    return pooled


def layer_sources(pooled: np.ndarray, utts: Sequence[Utterance],
                  layers: Optional[Sequence[int]] = None) -> Dict[str, "Source"]:
    """``layer N`` -> (``utts``, its ``[utterances, hidden]`` matrix), all layers unless ``layers`` is given."""
    chosen = range(pooled.shape[1]) if layers is None else layers
    for layer in chosen:
        if not 0 <= layer < pooled.shape[1]:
            raise ValueError(f"layer {layer} is not in the cache (layers 0..{pooled.shape[1] - 1})")
    return {f"layer {layer}": (list(utts), pooled[:, layer, :]) for layer in chosen}


# --------------------------------------------------------------------------- table and plot

def table_markdown(rows: Sequence[ProbeRow]) -> str:
    """Sources as rows, normalisations as columns: ``mean ± std`` corpus UAR in %."""
    norms = list(dict.fromkeys(r.norm for r in rows))
    cells = {(r.source, r.norm): r for r in rows}
    chance = rows[0].chance if rows else float("nan")
    head = "| source | " + " | ".join(f"{n}{' (transductive)' if n != 'global' else ''}" for n in norms) + " |"
    lines = [head, "|---|" + "---|" * len(norms)]
    for source in dict.fromkeys(r.source for r in rows):
        values = [cells.get((source, n)) for n in norms]
        lines.append(f"| {source} | " + " | ".join(f"{100 * v.uar:.1f} ± {100 * v.std:.1f}" if v else "–"
                                                    for v in values) + " |")
    lines.append(f"\nCorpus-prediction UAR % (mean ± std over folds); chance {100 * chance:.1f}.")
    return "\n".join(lines) + "\n"


def write_table(rows: Sequence[ProbeRow], out: Path, meta: Optional[Mapping] = None) -> Tuple[Path, Path]:
    """``probe.json`` (rows and run facts) and ``probe.md`` (the table) in ``out``."""
    out = Path(out)
    write_json(out / "probe.json", {"rows": [asdict(r) for r in rows], **dict(meta or {})})
    with atomic_open(out / "probe.md", "w") as handle:
        handle.write(table_markdown(rows))
    return out / "probe.json", out / "probe.md"


def plot_probe(rows: Sequence[ProbeRow], path: Path) -> Path:
    """Corpus UAR per source, one line (with fold spread) per normalisation; chance dashed."""
    from matplotlib.figure import Figure

    from ..results.plots import save_png

    sources = list(dict.fromkeys(r.source for r in rows))
    fig = Figure(figsize=(max(5.0, 0.45 * len(sources) + 2), 3.6))
    ax = fig.add_subplot()
    x = np.arange(len(sources))
    for norm in dict.fromkeys(r.norm for r in rows):
        by_source = {r.source: r for r in rows if r.norm == norm}
        y = np.array([100 * by_source[s].uar if s in by_source else np.nan for s in sources])
        err = np.array([100 * by_source[s].std if s in by_source else np.nan for s in sources])
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=f"{norm} norm")
    if rows:
        ax.axhline(100 * rows[0].chance, color="grey", linestyle="--", linewidth=1, label="chance")
    ax.set_xticks(x, sources, rotation=45 if len(sources) > 4 else 0, ha="right" if len(sources) > 4 else "center")
    ax.set_ylabel("corpus-prediction UAR (%)")
    ax.set_ylim(0, 105)
    ax.set_title("Corpus probe: how much corpus identity the features carry")
    ax.legend(fontsize=8)
    return save_png(fig, path)
