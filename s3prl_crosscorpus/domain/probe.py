"""Corpus and emotion probes: how much corpus identity, and how much emotion, do the features carry?

A linear classifier (scikit-learn ``LogisticRegression`` on standardised features) predicts the
*corpus* of an utterance. For each shared fold k it is trained on every utterance whose speaker is
not in fold k's test set (the pooled training partitions, dev included) and tested on fold k's
test speakers of every corpus; the score is the UAR over the corpora (chance = 1 / corpora).
High corpus UAR means strong domain mismatch. Features are one matrix per *source* (an openSMILE
set, or one upstream layer of a feature cache, mean-pooled over frames); normalisation is that of
the SVM (``core.normalise``: ``global``, ``corpus``, ``speaker``).

The emotion probe is the same classifier on the same folds and features predicting the *emotion*
(speaker-independent: fold k's test speakers are never seen in training), scored by the UAR over the
four classes on the pooled test speakers. Per layer of a cache, the two side by side say which layers
carry emotion and which carry the corpus (``modelrc.layers`` then trains a head on chosen layers).
"""
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from s3prl_crosscorpus.core.progress import Progress as tqdm  # plain lines when not a terminal

from ..core.normalise import NORMS, apply_statistics, group_of, group_statistics, is_transductive

from ..core.corpora import Utterance
from ..core.folds import FOLDS, manifest_folds, test_fold_of
from ..core.speaker_folds import EVERY_FOLD, NO_SET
from ..core.io_utils import atomic_open, write_json
from ..core.labels import LABELS

#: Inverse regularisation of the probe (fixed: the probe is a measurement, not a tuned model).
PROBE_C = 1.0

#: A feature source: its utterances (rows) and their feature matrix.
Source = Tuple[Sequence[Utterance], np.ndarray]
#: What a probe predicts: the utterance's corpus, or its emotion label.
TARGETS = ("corpus", "emotion")


@dataclass(frozen=True)
class ProbeRow:
    """Corpus- (or emotion-) prediction UAR of one feature source under one normalisation, over the folds."""

    source: str
    norm: str
    uar: float  # mean over folds
    std: float  # spread across folds (population std)
    per_fold: Tuple[float, ...]
    chance: float
    transductive: bool
    target: str = "corpus"


def target_of(utt: Utterance, target: str) -> str:
    """The class a probe predicts for ``utt``."""
    if target not in TARGETS:
        raise ValueError(f"unknown probe target {target!r}; choose one of {', '.join(TARGETS)}")
    return utt.corpus if target == "corpus" else utt.label


def normalised(X: np.ndarray, utts: Sequence[Utterance], norm: str) -> np.ndarray:
    """``X`` z-normalised per corpus / speaker with all of the group's rows (``global``: unchanged)."""
    if norm == "global":
        return np.asarray(X, dtype=np.float64)
    groups = [group_of(u.corpus, u.speaker, norm) for u in utts]
    return apply_statistics(X, groups, group_statistics(X, groups))


def fold_masks(folds: np.ndarray, fold: int) -> Tuple[np.ndarray, np.ndarray]:
    """(train, test) row masks of fold ``fold``: fold value 0 (a test-only corpus, an official test set) is
    tested in every fold and never trained on; -1 (an official training partition) is always trained on; -2
    (an official split in no set, e.g. MSP-Podcast's Test2) is neither."""
    return (folds != fold) & (folds != EVERY_FOLD) & (folds != NO_SET), (folds == fold) | (folds == EVERY_FOLD)


def fold_uar(X: np.ndarray, classes: np.ndarray, folds: np.ndarray, fold: int, seed: int = 0) -> float:
    """UAR (over ``classes``: corpora or emotions) of a probe trained off fold ``fold``'s test speakers and
    tested on them."""
    train, test = fold_masks(folds, fold)
    if len(set(classes[train])) < 2 or not test.any():
        raise ValueError(f"fold {fold}: the probe needs two or more training classes (corpora or emotions) and "
                         "test utterances")
    from sklearn.linear_model import LogisticRegression  # here: scikit-learn takes seconds to import
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(C=PROBE_C, max_iter=2000, random_state=seed))
    probe.fit(X[train], classes[train])
    return float(balanced_accuracy_score(classes[test], probe.predict(X[test])))  # UAR over the classes


def probe_source(name: str, X: np.ndarray, utts: Sequence[Utterance], norm: str,
                 folds: Sequence[int] = FOLDS, seed: int = 0, target: str = "corpus") -> ProbeRow:
    """One table row: the ``target`` probe on ``X`` (rows = ``utts``) after ``norm``, every fold."""
    if len(X) != len(utts):
        raise ValueError(f"{name}: {len(X)} feature rows for {len(utts)} utterances")
    classes = np.array([target_of(u, target) for u in utts])
    table = manifest_folds(utts)
    fold_of = np.array([test_fold_of(u, table) for u in utts])
    Xn = normalised(X, utts, norm)
    scores = [fold_uar(Xn, classes, fold_of, k, seed) for k in folds]
    chance = 1.0 / (len(set(classes)) if target == "corpus" else len(LABELS))
    return ProbeRow(name, norm, float(np.mean(scores)), float(np.std(scores)), tuple(scores), chance,
                    is_transductive(norm), target)


def run_probe(sources: Mapping[str, Source], norms: Sequence[str] = NORMS, folds: Sequence[int] = FOLDS,
              seed: int = 0, progress: bool = True, targets: Sequence[str] = ("corpus",)) -> List[ProbeRow]:
    """Rows for every (source, target, normalisation), sources in the given order."""
    todo = [(name, target, norm) for name in sources for target in targets for norm in norms]
    return [probe_source(name, sources[name][1], sources[name][0], norm, folds, seed, target)
            for name, target, norm in tqdm(todo, desc="probe", unit="probe", disable=not progress, leave=False)]


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

def columns_of(rows: Sequence[ProbeRow]) -> List[Tuple[str, str]]:
    """(target, normalisation) columns in the order of the rows."""
    return list(dict.fromkeys((r.target, r.norm) for r in rows))


def table_markdown(rows: Sequence[ProbeRow]) -> str:
    """Sources as rows, (target, normalisation) as columns: ``mean ± std`` UAR in %."""
    columns = columns_of(rows)
    targets = list(dict.fromkeys(r.target for r in rows))
    cells = {(r.source, r.target, r.norm): r for r in rows}

    def title(target: str, norm: str) -> str:
        name = norm if len(targets) == 1 else f"{target}, {norm}"
        return name + (" (transductive)" if norm != "global" else "")

    lines = ["| source | " + " | ".join(title(t, n) for t, n in columns) + " |", "|---|" + "---|" * len(columns)]
    for source in dict.fromkeys(r.source for r in rows):
        values = [cells.get((source, t, n)) for t, n in columns]
        lines.append(f"| {source} | " + " | ".join(f"{100 * v.uar:.1f} ± {100 * v.std:.1f}" if v else "–"
                                                    for v in values) + " |")
    chances = {r.target: r.chance for r in rows}
    what = "; ".join(f"{t}-prediction UAR % chance {100 * chances[t]:.1f}" for t in targets) or "chance n/a"
    lines.append(f"\nMean ± std over folds, speaker-independent ({what}).")
    return "\n".join(lines) + "\n"


def write_table(rows: Sequence[ProbeRow], out: Path, meta: Optional[Mapping] = None) -> Tuple[Path, Path]:
    """``probe.json`` (rows and run facts) and ``probe.md`` (the table) in ``out``."""
    out = Path(out)
    write_json(out / "probe.json", {"rows": [asdict(r) for r in rows], **dict(meta or {})})
    with atomic_open(out / "probe.md", "w") as handle:
        handle.write(table_markdown(rows))
    return out / "probe.json", out / "probe.md"


def plot_probe(rows: Sequence[ProbeRow], path: Path) -> Path:
    """UAR per source (per layer for a cache), one line (with fold spread) per target and normalisation:
    emotion UAR and corpus UAR against the layer; each target's chance dashed."""
    from matplotlib.figure import Figure

    from ..results.plots import save_png

    sources = list(dict.fromkeys(r.source for r in rows))
    fig = Figure(figsize=(max(5.0, 0.45 * len(sources) + 2), 3.6))
    ax = fig.add_subplot()
    x = np.arange(len(sources))
    styles = {"corpus": "o-", "emotion": "s--"}
    for target, norm in columns_of(rows):
        by_source = {r.source: r for r in rows if r.norm == norm and r.target == target}
        y = np.array([100 * by_source[s].uar if s in by_source else np.nan for s in sources])
        err = np.array([100 * by_source[s].std if s in by_source else np.nan for s in sources])
        ax.errorbar(x, y, yerr=err, fmt=styles.get(target, "o-"), capsize=3, label=f"{target}, {norm} norm")
    for target, chance in {r.target: r.chance for r in rows}.items():
        ax.axhline(100 * chance, color="grey", linestyle=":" if target == "emotion" else "--", linewidth=1,
                   label=f"{target} chance")
    layers = all(s.startswith("layer ") for s in sources)
    labels = [s.split()[-1] for s in sources] if layers else sources
    ax.set_xticks(x, labels, rotation=45 if len(sources) > 4 and not layers else 0,
                  ha="right" if len(sources) > 4 and not layers else "center")
    if layers:
        ax.set_xlabel("upstream layer (hidden state)")
    ax.set_ylabel("UAR (%)")
    ax.set_ylim(0, 105)
    targets = " and ".join(dict.fromkeys(r.target for r in rows))
    ax.set_title(f"Linear probes: {targets} UAR per {'layer' if layers else 'source'}")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: lines fill the axes
    return save_png(fig, path)
