"""Shared fold definitions: the versioned fold file, splits per condition, the dev draw.

Both systems (SVM and DNN) call :func:`make_split`; nothing else decides who is in
train, dev or test.
"""
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from .corpora import Utterance
from .io_utils import read_json, sha256_file
from .labels import CORPORA, LABELS, corpus_name_problem, corpus_order
from .speaker_folds import FoldTable, fold_table

FOLD_FILE = Path(__file__).with_name("folds_v1.json")
CONDITIONS: Tuple[str, ...] = ("matched", "extended", "loco")
FOLDS: Tuple[int, ...] = (1, 2, 3, 4, 5)
DEV_FRACTION = 0.1
DEFAULT_SEED = 0


class FoldError(ValueError):
    """A split request that the protocol does not allow, or data that cannot satisfy it."""


@lru_cache(maxsize=None)
def fold_file_sha256(path: Path = FOLD_FILE) -> str:
    """SHA-256 of the fold file; stored in every manifest and result."""
    return sha256_file(path)


@lru_cache(maxsize=None)
def speaker_folds(path: Path = FOLD_FILE) -> Dict[str, Dict[str, int]]:
    """corpus -> speaker -> fold number, from the fold file."""
    folds = read_json(path)["folds"]
    return {corpus: {spk: int(k) for k, spks in by_fold.items() for spk in spks}
            for corpus, by_fold in folds.items()}


def test_fold_of(utt: Utterance, table: Optional[FoldTable] = None) -> int:
    """The fold whose test set holds this utterance's speaker (0: a test-only corpus, tested whole)."""
    if table is not None and utt.corpus not in CORPORA:
        if utt.id in table.by_id:
            return table.by_id[utt.id]
        if utt.corpus in table.test_only:
            return 0
        folds = table.folds.get(utt.corpus, {})
    else:
        folds = speaker_folds().get(utt.corpus, {})
    if utt.speaker not in folds:
        where = FOLD_FILE if utt.corpus in CORPORA or table is None else "the fold table of this manifest"
        raise FoldError(f"{utt.path}: speaker {utt.speaker!r} of {utt.corpus} is not in {where}")
    return folds[utt.speaker]


def manifest_folds(utts: Sequence[Utterance]) -> FoldTable:
    """The fold table of a manifest: folds_v1.json for the paper's corpora, made from the speaker table
    for any other corpus (:mod:`.speaker_folds`)."""
    return fold_table(utts, fold_document(), len(FOLDS), fold_file_sha256())


def test_only_corpora(utts: Sequence[Utterance]) -> Tuple[str, ...]:
    """The manifest's corpora with too few speakers for speaker-independent folds."""
    return corpus_order(manifest_folds(utts).test_only)


@lru_cache(maxsize=None)
def fold_document(path: Path = FOLD_FILE) -> dict:
    """The parsed fold file (version 1)."""
    return read_json(path)


@dataclass(frozen=True)
class Split:
    """Utterance ids of one (condition, fold) experiment."""

    condition: str
    fold: int
    train_corpora: Tuple[str, ...]
    test_corpora: Tuple[str, ...]
    train: Tuple[str, ...]
    dev: Tuple[str, ...]
    test: Tuple[str, ...]
    #: The fold file the split follows: folds_v1.json's hash when the manifest holds only the paper's
    #: corpora (every existing result keeps its hash), else the manifest's folds_v2 table hash.
    fold_file_sha256: str = ""


def check_request(condition: str, fold: int, test_corpus: Optional[str], corpora: Sequence[str]) -> None:
    """Refuse unknown conditions, folds and corpora with a message saying what is allowed."""
    if condition not in CONDITIONS:
        raise FoldError(f"unknown condition {condition!r}; choose one of {', '.join(CONDITIONS)}")
    if fold not in FOLDS:
        raise FoldError(f"fold {fold} does not exist; folds are {FOLDS[0]}..{FOLDS[-1]}")
    for corpus in list(corpora) + ([test_corpus] if test_corpus else []):
        if corpus_name_problem(corpus):
            raise FoldError(f"unknown corpus {corpus!r}; {corpus_name_problem(corpus)}")
    if condition in ("matched", "loco") and test_corpus is None:
        raise FoldError(f"condition {condition} needs a test corpus")
    if test_corpus is not None and test_corpus not in corpora:
        raise FoldError(f"test corpus {test_corpus} is not in the corpus pool {list(corpora)}")
    if condition == "loco" and len(corpora) < 2:
        raise FoldError("condition loco needs at least two corpora in the pool")


def draw_dev(train_partition: Sequence[Utterance], seed: int) -> Tuple[List[str], List[str]]:
    """Split one corpus' training partition into (train, dev) ids: 10% dev, stratified by label."""
    utts = sorted(train_partition, key=lambda u: u.id)
    ids, labels = [u.id for u in utts], [u.label for u in utts]
    if not ids:
        return [], []
    from sklearn.model_selection import train_test_split  # here: scikit-learn takes seconds to import

    try:
        train, dev = train_test_split(ids, test_size=DEV_FRACTION, stratify=labels, random_state=seed)
    except ValueError as err:
        corpus = utts[0].corpus
        raise FoldError(f"{corpus}: training partition of {len(ids)} utterances ({dict(Counter(labels))}) "
                        f"is too small for a stratified {DEV_FRACTION:.0%} dev set ({err})") from err
    return sorted(train), sorted(dev)


def test_ids(utts: Iterable[Utterance], corpus: str, fold: int, table: Optional[FoldTable] = None) -> List[str]:
    """Ids of one corpus' fold-``fold`` test partition (a test-only corpus: all of it, in every fold)."""
    utts = list(utts)
    table = manifest_folds(utts) if table is None else table
    return sorted(u.id for u in utts if u.corpus == corpus and test_fold_of(u, table) in (fold, 0))


def train_dev_ids(utts: Iterable[Utterance], corpus: str, fold: int, seed: int,
                  table: Optional[FoldTable] = None) -> Tuple[List[str], List[str]]:
    """(train, dev) ids of one corpus' fold-``fold`` training partition."""
    utts = list(utts)
    table = manifest_folds(utts) if table is None else table
    if corpus in table.test_only:
        raise FoldError(f"{corpus} is test-only ({table.test_only[corpus]}): it cannot be in a training pool "
                        "without leaking speakers; test it from a pool without it (e.g. loco, or --corpora)")
    return draw_dev([u for u in utts if u.corpus == corpus and test_fold_of(u, table) not in (fold, 0)], seed)


def make_split(utts: Sequence[Utterance], condition: str, fold: int, test_corpus: Optional[str] = None,
               corpora: Optional[Sequence[str]] = None, seed: int = DEFAULT_SEED) -> Split:
    """The train/dev/test ids of an experiment.

    - matched: train and test on ``test_corpus``;
    - extended: train on the union of all pool corpora's fold-``fold`` training partitions;
      test on ``test_corpus``, or on every pool corpus when it is None;
    - loco: train on the other pool corpora, test on ``test_corpus``.
    The dev set is drawn per corpus, so it is the same ids in every condition and system.
    ``corpora`` defaults to the paper's three (and the test corpus); a test-only corpus
    (:mod:`.speaker_folds`) is never trained on.
    """
    if corpora is None:  # the paper's pool, plus the test corpus when it is another corpus
        corpora = CORPORA + ((test_corpus,) if test_corpus and test_corpus not in CORPORA else ())
    corpora = corpus_order(corpora)
    present = corpus_order(u.corpus for u in utts)
    absent = [c for c in (*corpora, *([test_corpus] if test_corpus else [])) if c not in present and c not in CORPORA]
    if absent:
        raise FoldError(f"unknown corpus {absent[0]!r}: the manifest holds {', '.join(present)}")
    check_request(condition, fold, test_corpus, corpora)
    twice = [i for i, n in Counter(u.id for u in utts).items() if n > 1]
    if twice:
        raise FoldError(f"utterance id(s) {', '.join(sorted(twice)[:5])} occur more than once in the manifest: "
                        "they would be trained or scored twice; re-run `prepare`")
    if condition == "matched":
        train_corpora: Tuple[str, ...] = (test_corpus,)
    elif condition == "extended":
        train_corpora = corpora
    else:
        train_corpora = tuple(c for c in corpora if c != test_corpus)
    table = manifest_folds(utts)
    if condition != "matched":  # a test-only corpus only ever tests a pool that lacks it
        train_corpora = tuple(c for c in train_corpora if c not in table.test_only)
    test_corpora = (test_corpus,) if test_corpus else corpora
    train_dev = [train_dev_ids(utts, c, fold, seed, table) for c in train_corpora]
    split = Split(
        condition=condition, fold=fold, train_corpora=train_corpora, test_corpora=test_corpora,
        train=tuple(i for train, _ in train_dev for i in train),
        dev=tuple(i for _, dev in train_dev for i in dev),
        test=tuple(i for c in test_corpora for i in test_ids(utts, c, fold, table)),
        fold_file_sha256=table.sha256,
    )
    for name in ("train", "dev", "test"):
        if not getattr(split, name):
            raise FoldError(f"{condition} fold {fold}: the {name} set is empty "
                            f"(train corpora {list(train_corpora)}, test corpora {list(test_corpora)}); "
                            f"is every corpus in the manifest?")
    return split


def describe(utts: Sequence[Utterance], seed: int = DEFAULT_SEED) -> str:
    """Per corpus and fold: test speakers with gender, class counts of train/dev/test (matched)."""
    by_id = {u.id: u for u in utts}
    table = manifest_folds(utts)
    lines = []
    for corpus in corpus_order(u.corpus for u in utts):
        mine = [u for u in utts if u.corpus == corpus]
        genders = {u.speaker: u.gender for u in mine}
        scheme = table.schemes.get(corpus, "folds_v1.json")
        lines.append(f"== {corpus} ({len(mine)} utterances, {len(genders)} speakers; {scheme})")
        if corpus in table.test_only:
            lines.append(f"   TEST-ONLY: {table.test_only[corpus]}; never in a training pool, tested whole")
            continue
        lines.append(f"{'fold':>4}  {'test speakers':<60} " + "  ".join(f"{s:<22}" for s in ("train", "dev", "test")))
        for fold in FOLDS:
            split = make_split(mine, "matched", fold, corpus, corpora=(corpus,), seed=seed)
            speakers = sorted({by_id[i].speaker for i in split.test})
            who = " ".join(f"{s}({genders[s]})" for s in speakers)
            counts = ["/".join(str(Counter(by_id[i].label for i in ids)[lab]) for lab in LABELS)
                      + f" ={len(ids)}" for ids in (split.train, split.dev, split.test)]
            lines.append(f"{fold:>4}  {who:<60} " + "  ".join(f"{c:<22}" for c in counts))
    name = FOLD_FILE.name if table.sha256 == fold_file_sha256() else f"{table.name} (folds of {FOLD_FILE.name} + made)"
    lines.append("counts are " + "/".join(LABELS) + f"; fold file {name} sha256 {table.sha256[:16]}…")
    return "\n".join(lines)

