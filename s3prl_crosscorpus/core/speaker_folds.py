"""Folds for any corpus (fold file version 2), made deterministically from a manifest's speaker table.

The paper's three corpora keep the folds of ``folds_v1.json`` exactly. Any other corpus gets
speaker-independent, gender-balanced k-fold test sets: per gender (F, M, then unknown), speakers in
order of utterance count (most first, then id) each go to the fold with the fewest speakers of that gender
so far (ties: fewest utterances, then lowest fold). A corpus with fewer speakers than folds cannot have
speaker-independent folds: it is **test-only** (never trained on, tested whole in every fold). A corpus
may instead declare an official partition (:data:`OFFICIAL_PARTITIONS`, e.g. MSP-Podcast's Split_Set).

Fold values: 1..k test fold of a speaker; 0 = in every fold's test set (test-only corpus, official
test set); -1 = never tested, always trainable (an official partition's train/dev rows).
"""
import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Sequence, Set, Tuple

from .labels import CORPORA, corpus_order

FOLD_FILE_V2_NAME = "folds_v2.json"
VERSION = 2
SCHEME_FOLDS = "speaker k-fold (folds_v2)"
SCHEME_TEST_ONLY = "test-only"
SCHEME_OFFICIAL = "official partition"

#: corpus -> (source description, function from the corpus' utterances to the ids of its official test set).
#: A reader with official partitions registers here (e.g. MSP-Podcast: Split_Set == "Test1").
OFFICIAL_PARTITIONS: Dict[str, Tuple[str, Callable[[Sequence], Set[str]]]] = {}


def register_official_partition(corpus: str, source: str, test_ids: Callable[[Sequence], Set[str]]) -> None:
    """Declare that ``corpus`` is split by its official partition instead of speaker folds."""
    OFFICIAL_PARTITIONS[corpus] = (source, test_ids)


@dataclass(frozen=True)
class FoldTable:
    """The folds of one manifest: speaker -> fold per corpus, test-only corpora, the hash that results record."""

    folds: Dict[str, Dict[str, int]]
    test_only: Dict[str, str]
    schemes: Dict[str, str]
    sha256: str
    document: dict = field(repr=False, default_factory=dict)
    by_id: Dict[str, int] = field(repr=False, default_factory=dict)  # official partitions: utterance id -> fold
    name: str = FOLD_FILE_V2_NAME


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


def fold_table(utts: Sequence, v1_document: Mapping, k: int, v1_sha256: str) -> FoldTable:
    """The fold table of a manifest; with only the paper's corpora it is folds_v1.json itself (same hash)."""
    v1_folds = {c: {spk: int(f) for f, spks in by_fold.items() for spk in spks}
                for c, by_fold in v1_document["folds"].items()}
    others = speaker_table(utts)
    if not others:
        return FoldTable(v1_folds, {}, {c: "folds_v1.json" for c in v1_folds}, v1_sha256, dict(v1_document),
                         name="folds_v1.json")
    folds: Dict[str, Dict[str, int]] = dict(v1_folds)
    schemes = {c: "folds_v1.json" for c in v1_folds}
    test_only: Dict[str, str] = {}
    by_id: Dict[str, int] = {}
    official: Dict[str, str] = {}
    for corpus in corpus_order(others):
        speakers = others[corpus]
        if corpus in OFFICIAL_PARTITIONS:
            source, pick = OFFICIAL_PARTITIONS[corpus]
            tests = pick([u for u in utts if u.corpus == corpus])
            by_id.update({u.id: (0 if u.id in tests else -1) for u in utts if u.corpus == corpus})
            schemes[corpus], official[corpus] = SCHEME_OFFICIAL, source
            folds[corpus] = {}
        elif len(speakers) < k:
            test_only[corpus] = f"{len(speakers)} speaker(s), fewer than the {k} folds"
            schemes[corpus] = SCHEME_TEST_ONLY
            folds[corpus] = {s: 0 for s in speakers}
        else:
            folds[corpus] = assign_folds(speakers, k)
            schemes[corpus] = SCHEME_FOLDS
    document = {
        "name": "crosscorpus-ser-folds", "version": VERSION,
        "description": "folds_v1.json's folds for the paper's corpora, unchanged; any other corpus: speaker-"
                       "independent gender-balanced k-fold test sets made from the manifest's speaker table "
                       "(s3prl_crosscorpus.core.speaker_folds), or test-only / an official partition.",
        "folds": {c: v1_document["folds"][c] if c in v1_document["folds"] else
                  {"all": sorted(folds[c])} if c in test_only else
                  {str(f): sorted(s for s, g in folds[c].items() if g == f) for f in range(1, k + 1)}
                  for c in corpus_order(folds)},
        "schemes": schemes, "test_only": test_only, "official": official,
        "official_test_ids": {c: sorted(i for i, f in by_id.items() if f == 0 and i.startswith(c + "_"))
                              for c in official},
    }
    sha = hashlib.sha256(document_bytes(document)).hexdigest()
    return FoldTable(folds, test_only, schemes, sha, document, by_id)


def document_bytes(document: Mapping) -> bytes:
    """The fold file's bytes as written (so its file hash is the table hash)."""
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
