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
from .corpora.registry import partition_roles
from .io_utils import read_json, sha256_file
from .labels import CORPORA, LABELS, corpus_name_problem, corpus_order
from .speaker_folds import EVERY_FOLD, NO_SET, TRAINABLE, FoldTable, PartitionError, fold_table

FOLD_FILE = Path(__file__).with_name("folds_v1.json")
#: Training conditions, the one list of their names. ``transfer``: train on a declared training pool (one corpus
#: or several) and test on every corpus of the study; a transfer cell that is also one of the other three (the
#: diagonal is ``matched``, the whole pool ``extended``, the pool less the test corpus ``loco``) is named as that.
CONDITIONS: Tuple[str, ...] = ("matched", "extended", "loco", "transfer")
TRANSFER = "transfer"
#: Prefix of a transfer cell's name: ``from-emodb+ravdess`` (the training corpora are part of its identity).
TRANSFER_PREFIX = "from-"
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
    """The fold whose test set holds this utterance's speaker (0: tested in every fold, a test-only corpus or an
    official test split; -1: an official train or dev row, never tested; -2: an official row in no set)."""
    if table is not None and utt.corpus not in CORPORA:
        role = table.role_of(utt.id)
        if role is not None:
            return EVERY_FOLD if role == "test" else TRAINABLE if role else NO_SET
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
    for any other corpus, or from its official partition when its rows carry one (:mod:`.speaker_folds`)."""
    try:
        return fold_table(utts, fold_document(), len(FOLDS), fold_file_sha256(), partition_roles())
    except PartitionError as err:
        raise FoldError(str(err)) from None


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
    pool: Tuple[str, ...] = ()  # the declared corpus pool (names transfer results: see condition_of)
    #: The fold file the split follows: folds_v1.json's hash when the manifest holds only the paper's
    #: corpora (every existing result keeps its hash), else the manifest's folds_v2 table hash.
    fold_file_sha256: str = ""
    #: (test corpus, its official test split) for test corpora split by their official partition
    official_tests: Tuple[Tuple[str, str], ...] = ()


def table_order(corpora: Iterable[str]) -> Tuple[str, ...]:
    """Corpus names once each, in table order: CORPORA's first, any other in the order given."""
    given = list(dict.fromkeys(corpora))
    return tuple(c for c in CORPORA if c in given) + tuple(c for c in given if c not in CORPORA)


def condition_of(train_corpora: Sequence[str], test_corpus: str, pool: Sequence[str]) -> str:
    """The condition a model trained on ``train_corpora`` (fold-k training partitions) has on ``test_corpus``:
    matched (the test corpus alone), extended (the whole ``pool``, test corpus in it), loco (the pool less the
    test corpus), else transfer."""
    train, pool_set = set(train_corpora), set(pool)
    if train == {test_corpus}:
        return "matched"
    if len(pool_set) > 1 and train == pool_set and test_corpus in pool_set:
        return "extended"
    if test_corpus in pool_set and train == pool_set - {test_corpus}:
        return "loco"
    return TRANSFER


def condition_label(condition: str, train_corpora: Sequence[str] = ()) -> str:
    """A cell's condition name in tables, result folders and bundles: the condition, or for transfer
    ``from-<corpus>+<corpus>`` (its training corpora in the given order)."""
    if condition != TRANSFER:
        return condition
    if not train_corpora:
        raise FoldError("a transfer result needs its training corpora")
    return TRANSFER_PREFIX + "+".join(train_corpora)


def is_transfer_label(label: str) -> bool:
    return label.startswith(TRANSFER_PREFIX)


def condition_rank(label: str) -> Tuple[int, str]:
    """Sort key of condition names: CONDITIONS order, transfer cells (by name) last."""
    return (CONDITIONS.index(label), "") if label in CONDITIONS else (len(CONDITIONS), label)


def result_condition(split: "Split", test_corpus: str) -> str:
    """The condition a result of ``split`` on ``test_corpus`` records (a transfer split names each cell)."""
    if split.condition != TRANSFER:
        return split.condition
    return condition_of(split.train_corpora, test_corpus, split.pool or split.test_corpora)


def transfer_rows(pool: Sequence[str], rows: Optional[Sequence[Sequence[str]]] = None) -> List[Tuple[str, ...]]:
    """The training pools of a transfer matrix: ``rows`` as given (pool order inside each), by default each pool
    corpus alone and, with two or more, the whole pool."""
    if rows:
        for row in rows:
            outside = [c for c in row if c not in pool]
            if outside or not row:
                raise FoldError(f"transfer training pool {list(row)}: {', '.join(outside) or 'empty'} is not in "
                                f"the corpus pool {list(pool)}")
        return list(dict.fromkeys(tuple(c for c in table_order(pool) if c in row) for row in rows))
    return [(c,) for c in pool] + ([tuple(pool)] if len(pool) > 1 else [])


def check_request(condition: str, fold: int, test_corpus: Optional[str], corpora: Sequence[str],
                  train: Optional[Sequence[str]] = None) -> None:
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
    if condition == TRANSFER:
        outside = [c for c in train or () if c not in corpora]
        if not train or outside:
            raise FoldError(f"condition transfer needs training corpora from the pool {list(corpora)}"
                            + (f"; {', '.join(outside)} is not in it" if outside else ""))
    elif train:
        raise FoldError(f"training corpora are chosen by condition {condition}; they are given only for transfer")


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
    if corpus in table.official:  # the official dev split, not a draw: the same ids in every fold
        mine = [u.id for u in utts if u.corpus == corpus]
        return (sorted(i for i in mine if table.role_of(i) == "train"),
                sorted(i for i in mine if table.role_of(i) == "dev"))
    return draw_dev([u for u in utts if u.corpus == corpus and test_fold_of(u, table) not in (fold, 0)], seed)


def make_split(utts: Sequence[Utterance], condition: str, fold: int, test_corpus: Optional[str] = None,
               corpora: Optional[Sequence[str]] = None, seed: int = DEFAULT_SEED,
               train: Optional[Sequence[str]] = None) -> Split:
    """The train/dev/test ids of an experiment.

    - matched: train and test on ``test_corpus``;
    - extended: train on the union of all pool corpora's fold-``fold`` training partitions;
      test on ``test_corpus``, or on every pool corpus when it is None;
    - loco: train on the other pool corpora, test on ``test_corpus``;
    - transfer: train on the ``train`` corpora's fold-``fold`` training partitions; test as extended (each
      result is named by :func:`result_condition`).
    The dev set is drawn per corpus (a corpus with an official partition: its dev split), so it is the same ids
    in every condition and system.
    ``corpora`` defaults to the paper's three (and the test corpus); a test-only corpus
    (:mod:`.speaker_folds`) is never trained on.
    """
    if corpora is None:  # the paper's pool, plus the test corpus when it is another corpus
        corpora = CORPORA + ((test_corpus,) if test_corpus and test_corpus not in CORPORA else ())
    corpora = corpus_order(corpora)
    present = corpus_order(u.corpus for u in utts)
    absent = [c for c in (*corpora, *([test_corpus] if test_corpus else []), *(train or ()))
              if c not in present and c not in CORPORA]
    if absent:
        raise FoldError(f"unknown corpus {absent[0]!r}: the manifest holds {', '.join(present)}")
    # pool order inside the row; corpora outside the pool kept, for check_request to name them
    train = tuple(c for c in corpora if c in train) + tuple(c for c in train if c not in corpora) if train else None
    check_request(condition, fold, test_corpus, corpora, train)
    twice = [i for i, n in Counter(u.id for u in utts).items() if n > 1]
    if twice:
        raise FoldError(f"utterance id(s) {', '.join(sorted(twice)[:5])} occur more than once in the manifest: "
                        "they would be trained or scored twice; re-run `prepare`")
    if condition == "matched":
        train_corpora: Tuple[str, ...] = (test_corpus,)
    elif condition == "extended":
        train_corpora = corpora
    elif condition == TRANSFER:
        train_corpora = train
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
        pool=corpora,
        fold_file_sha256=table.sha256,
        official_tests=tuple((c, "+".join(s for s, r in table.official[c]["roles"].items() if r == "test"))
                             for c in test_corpora if c in table.official),
    )
    for name in ("train", "dev", "test"):
        if not getattr(split, name):
            raise FoldError(f"{condition} fold {fold}: the {name} set is empty "
                            f"(train corpora {list(train_corpora)}, test corpora {list(test_corpora)}); "
                            f"is every corpus in the manifest?")
    return split


def official_lines(entry: Dict) -> List[str]:
    """``folds``' lines on an official partition: each split's role and size, the splits in no set."""
    used = [f"{role} = {split} ({entry['utterances'][split]} utterances, {entry['speakers'][split]} speakers)"
            for split, role in entry["roles"].items() if role]
    unused = [f"{split or '(no split)'} {entry['utterances'][split]} utterances ({entry['speakers'][split]} speakers)"
              for split, role in entry["roles"].items() if not role]
    return [f"   OFFICIAL PARTITION: {', '.join(used)}; the same sets in every fold"] + \
        ([f"   LEFT OUT (not train, dev or test): {', '.join(unused)}"] if unused else [])


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
        lines += official_lines(table.official[corpus]) if corpus in table.official else []
        lines.append(f"{'fold':>4}  {'test speakers':<60} " + "  ".join(f"{s:<22}" for s in ("train", "dev", "test")))
        for fold in FOLDS[:1] if corpus in table.official else FOLDS:
            split = make_split(mine, "matched", fold, corpus, corpora=(corpus,), seed=seed)
            speakers = sorted({by_id[i].speaker for i in split.test})
            who = " ".join(f"{s}({genders[s]})" for s in speakers)
            counts = ["/".join(str(Counter(by_id[i].label for i in ids)[lab]) for lab in LABELS)
                      + f" ={len(ids)}" for ids in (split.train, split.dev, split.test)]
            name = f"{FOLDS[0]}-{FOLDS[-1]}" if corpus in table.official else str(fold)
            lines.append(f"{name:>4}  {who:<60} " + "  ".join(f"{c:<22}" for c in counts))
    name = FOLD_FILE.name if table.sha256 == fold_file_sha256() else f"{table.name} (folds of {FOLD_FILE.name} + made)"
    lines.append("counts are " + "/".join(LABELS) + f"; fold file {name} sha256 {table.sha256[:16]}…")
    return "\n".join(lines)

