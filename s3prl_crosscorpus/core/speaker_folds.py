"""Folds for any corpus (fold file version 2), made deterministically from a manifest's speaker table.

The paper's three corpora keep the folds of ``folds_v1.json`` exactly. Any other corpus gets
speaker-independent, gender-balanced k-fold test sets: per gender (F, M, then unknown), speakers in
order of utterance count (most first, then id) each go to the fold with the fewest speakers of that gender
so far (ties: fewest utterances, then lowest fold). A corpus with fewer speakers than folds cannot have
speaker-independent folds: it is **test-only** (never trained on, tested whole in every fold).

A corpus whose manifest rows carry an official split (``Utterance.partition``, set by ``prepare
--official-partition NAME``) uses that partition instead (a declared alternative, PROTOCOL.md): the splits
whose role (``roles``, from the corpus registry) is test are tested in every fold, train rows are trained on
and dev rows are the dev set in every fold; rows of any other split are left out. The manifest is the one
source of truth: the same rows give the same table.

Fold values: 1..k test fold of a speaker; 0 = in every fold's test set (test-only corpus, official
test split); -1 = never tested, trainable (an official partition's train and dev rows); -2 = in no set
(an official partition's other splits).
"""
import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from .labels import CORPORA, corpus_order

FOLD_FILE_V2_NAME = "folds_v2.json"
VERSION = 2
SCHEME_FOLDS = "speaker k-fold (folds_v2)"
SCHEME_TEST_ONLY = "test-only"
SCHEME_OFFICIAL = "official partition"
#: The roles of an official partition's splits, in this order everywhere.
ROLES = ("train", "dev", "test")
EVERY_FOLD, TRAINABLE, NO_SET = 0, -1, -2


class PartitionError(ValueError):
    """An official partition that cannot be used: a speaker in two roles, or splits of unknown role."""


@dataclass(frozen=True)
class FoldTable:
    """The folds of one manifest: speaker -> fold per corpus, test-only corpora, the hash that results record."""

    folds: Dict[str, Dict[str, int]]
    test_only: Dict[str, str]
    schemes: Dict[str, str]
    sha256: str
    document: dict = field(repr=False, default_factory=dict)
    #: official partitions: utterance id -> its role ("train", "dev", "test"; "" = in no set)
    roles: Dict[str, str] = field(repr=False, default_factory=dict)
    #: official partitions: corpus -> {"source", "roles" (split -> role), "utterances" and "speakers" per split}
    official: Dict[str, dict] = field(repr=False, default_factory=dict)
    name: str = FOLD_FILE_V2_NAME

    def role_of(self, utt_id: str) -> Optional[str]:
        """The official role of an utterance ("" = in no set), None when its corpus has no official partition."""
        return self.roles.get(utt_id)


def assign_folds(speakers: Mapping[str, Tuple[str, int]], k: int) -> Dict[str, int]:
    """speaker -> fold 1..k, gender-balanced and size-balanced; ``speakers`` maps speaker -> (gender, utterances)."""
    sizes = [0] * k
    counts: Dict[Tuple[str, int], int] = Counter()
    assignment: Dict[str, int] = {}
    by_gender: Dict[str, List[str]] = defaultdict(list)
    for speaker, (gender, _) in speakers.items():
        by_gender[gender if gender in ("F", "M") else "U"].append(speaker)
    for gender in ("F", "M", "U"):
        order = sorted(by_gender[gender], key=lambda s: (-speakers[s][1], s))
        for speaker in order:
            fold = min(range(k), key=lambda f: (counts[gender, f], sizes[f], f))
            assignment[speaker] = fold + 1
            sizes[fold] += speakers[speaker][1]
            counts[gender, fold] += 1
    return assignment


def speaker_table(utts: Sequence) -> Dict[str, Dict[str, Tuple[str, int]]]:
    """corpus -> speaker -> (gender, utterance count), for the corpora outside the paper's three."""
    table: Dict[str, Dict[str, List]] = defaultdict(dict)
    for utt in utts:
        if utt.corpus in CORPORA:
            continue
        entry = table[utt.corpus].setdefault(utt.speaker, [utt.gender, 0])
        entry[1] += 1
    return {c: {s: (g, n) for s, (g, n) in spk.items()} for c, spk in table.items()}


def split_order(splits, roles: Mapping[str, str]) -> List[str]:
    """Split names by role (train, dev, test), then the left-out ones by name."""
    rank = {role: k for k, role in enumerate(ROLES)}
    return sorted(splits, key=lambda s: (rank.get(roles.get(s, ""), len(ROLES)), s))


def speaker_leak(corpus: str, utts: Sequence, roles: Mapping[str, str]) -> Optional[str]:
    """Why an official partition is not speaker-independent (a speaker in two roles), or None."""
    splits: Dict[str, Counter] = defaultdict(Counter)
    for utt in utts:
        if roles.get(utt.partition):
            splits[utt.speaker][utt.partition] += 1
    shared = sorted(s for s, counts in splits.items() if len({roles[p] for p in counts}) > 1)
    if not shared:
        return None
    first = splits[shared[0]]
    more = f" ({len(shared) - 1} more speaker(s) are in two splits)" if len(shared) > 1 else ""
    return (f"{corpus}: the official partition is not speaker-independent: speaker {shared[0]} has "
            + ", ".join(f"{first[p]} utterance(s) in {p}" for p in split_order(first, roles)) + more
            + f"; its test results would be on a speaker it was trained or tuned on. Prepare without "
              f"--official-partition {corpus} to use speaker folds")


def official_partition(corpus: str, utts: Sequence, roles: Optional[Mapping[str, str]]
                       ) -> Tuple[Dict[str, str], dict, Dict[str, List[str]]]:
    """(utterance id -> role, "" when in no set; the fold document's entry; split -> its speakers) of one corpus'
    official partition."""
    named = sorted({u.partition for u in utts if u.partition})
    if roles is None:
        raise PartitionError(f"{corpus}: its manifest rows carry official splits ({', '.join(named)}) but {corpus} "
                             "has no official partition in the corpus registry; re-run `prepare`")
    leak = speaker_leak(corpus, utts, roles)
    if leak:
        raise PartitionError(leak)
    splits = split_order({u.partition for u in utts}, roles)
    speakers = {s: sorted({u.speaker for u in utts if u.partition == s}) for s in splits}
    lines = "".join(f"{u.id}\t{u.partition}\n" for u in sorted(utts, key=lambda u: u.id))
    entry = {"source": f"the corpus' official partition ({', '.join(f'{s}: {r}' for s, r in roles.items())}; "
                       "any other split is in no set)",
             "roles": {s: roles.get(s, "") for s in splits},
             "utterances": {s: sum(u.partition == s for u in utts) for s in splits},
             "speakers": {s: len(speakers[s]) for s in splits},
             "partition_sha256": hashlib.sha256(lines.encode("utf-8")).hexdigest()}
    return {u.id: roles.get(u.partition, "") for u in utts}, entry, speakers


def fold_table(utts: Sequence, v1_document: Mapping, k: int, v1_sha256: str,
               roles: Optional[Mapping[str, Mapping[str, str]]] = None) -> FoldTable:
    """The fold table of a manifest; with only the paper's corpora it is folds_v1.json itself (same hash).
    ``roles``: corpus -> official split name -> train/dev/test, for corpora whose rows carry a partition."""
    roles = roles or {}
    paper = sorted({u.corpus for u in utts if u.corpus in CORPORA and u.partition})
    if paper:
        raise PartitionError(f"{paper[0]}: its manifest rows carry an official split, but the paper's corpora keep "
                             "the folds of folds_v1.json; re-run `prepare`")
    v1_folds = {c: {spk: int(f) for f, spks in by_fold.items() for spk in spks}
                for c, by_fold in v1_document["folds"].items()}
    others = speaker_table(utts)
    if not others:
        return FoldTable(v1_folds, {}, {c: "folds_v1.json" for c in v1_folds}, v1_sha256, dict(v1_document),
                         name="folds_v1.json")
    folds: Dict[str, Dict[str, int]] = dict(v1_folds)
    schemes = {c: "folds_v1.json" for c in v1_folds}
    test_only: Dict[str, str] = {}
    by_role: Dict[str, str] = {}
    official: Dict[str, dict] = {}
    split_speakers: Dict[str, Dict[str, List[str]]] = {}
    partitioned = {u.corpus for u in utts if u.partition}
    for corpus in corpus_order(others):
        speakers = others[corpus]
        if corpus in partitioned:
            mine = [u for u in utts if u.corpus == corpus]
            corpus_roles, official[corpus], split_speakers[corpus] = official_partition(corpus, mine,
                                                                                         roles.get(corpus))
            by_role.update(corpus_roles)
            schemes[corpus] = SCHEME_OFFICIAL
            folds[corpus] = {}
        elif len(speakers) < k:
            test_only[corpus] = f"{len(speakers)} speaker(s), fewer than the {k} folds"
            schemes[corpus] = SCHEME_TEST_ONLY
            folds[corpus] = {s: 0 for s in speakers}
        else:
            folds[corpus] = assign_folds(speakers, k)
            schemes[corpus] = SCHEME_FOLDS

    def corpus_folds(c: str) -> dict:
        if c in v1_document["folds"]:
            return v1_document["folds"][c]
        if c in test_only:
            return {"all": sorted(folds[c])}
        if c in official:  # split -> its speakers
            return split_speakers[c]
        return {str(f): sorted(s for s, g in folds[c].items() if g == f) for f in range(1, k + 1)}

    document = {
        "name": "crosscorpus-ser-folds", "version": VERSION,
        "description": "folds_v1.json's folds for the paper's corpora, unchanged; any other corpus: speaker-"
                       "independent gender-balanced k-fold test sets made from the manifest's speaker table "
                       "(s3prl_crosscorpus.core.speaker_folds), or test-only / an official partition.",
        "folds": {c: corpus_folds(c) for c in corpus_order(folds)},
        "schemes": schemes, "test_only": test_only, "official": official,
        "official_test_ids": {c: sorted(u.id for u in utts if u.corpus == c and by_role[u.id] == "test")
                              for c in official},
    }
    sha = hashlib.sha256(document_bytes(document)).hexdigest()
    return FoldTable(folds, test_only, schemes, sha, document, by_role, official)


def document_bytes(document: Mapping) -> bytes:
    """The fold file's bytes as written (so its file hash is the table hash)."""
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
