"""Bring your own corpus: a CSV file (``path,label,speaker[,gender,language,source_label,id]``) or an
audformat database (audb's format), read into the same records as the corpus readers.

Every row gets the manifest's checks; a bad row is ONE error naming the file and line (or table and
file): empty field, missing audio, duplicate id, bad gender, unknown label (with the ``--label-map``
that would fix it). Broken audio (unreadable, empty, truncated) is left out as a problem, as the readers do.
"""
import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

import soundfile as sf

from ..labels import LABELS, corpus_name_problem
from .common import CorpusError, CorpusRead, Utterance, riff_data_shortfall

REQUIRED = ("path", "label", "speaker")
OPTIONAL = ("gender", "language", "source_label", "id")
LEAVE_OUT = "-"
GENDERS = {"m": "M", "male": "M", "f": "F", "female": "F", "": "U", "u": "U", "unknown": "U"}
#: First letters of common label names -> class, used only to SUGGEST a --label-map.
GUESSES = (("neu", "neu"), ("hap", "hap"), ("joy", "hap"), ("ang", "ang"), ("sad", "sad"))


@dataclass(frozen=True)
class Row:
    """One row of a user table: where it is (for messages) and its fields."""

    where: str
    path: str
    label: str
    speaker: str
    gender: str = ""
    language: str = ""
    source_label: str = ""
    id: str = ""


def parse_label_map(text: str) -> Dict[str, str]:
    """``angry=ang,joy=hap,fear=-`` -> dict; values are a class of LABELS or ``-`` (leave out)."""
    mapping: Dict[str, str] = {}
    for pair in (p.strip() for p in text.split(",") if p.strip()):
        source, sep, target = (x.strip() for x in pair.partition("="))
        if not sep or not source or target not in LABELS + (LEAVE_OUT,):
            raise ValueError(f"label map entry {pair!r} must be SOURCE=CLASS with CLASS one of "
                             f"{', '.join(LABELS)} or {LEAVE_OUT} (leave out)")
        mapping[source] = target
    return mapping


def suggested_map(labels: Iterable[str]) -> str:
    """A --label-map for these labels: a guessed class where the name says it, else ``-`` (leave out)."""
    def guess(label: str) -> str:
        low = label.lower()
        return next((cls for prefix, cls in GUESSES if low.startswith(prefix)), LEAVE_OUT)
    return ",".join(f"{label}={guess(label)}" for label in sorted(set(labels)))


def four_class(label: str, label_map: Mapping[str, str]) -> Optional[str]:
    """The class of a source label (None: left out); raises KeyError for a label nobody mapped."""
    target = label_map.get(label, label if label in LABELS else None)
    if target is None:
        raise KeyError(label)
    return None if target == LEAVE_OUT else target


def audio_info(path: str) -> Tuple[Optional[str], Optional[sf._SoundFileInfo]]:
    """(problem, header info) of an audio file, reading its header only."""
    try:
        info = sf.info(path)
    except Exception as err:  # soundfile raises several types for broken files
        return f"unreadable audio ({err})", None
    if info.frames <= 0:
        return "empty audio (0 samples)", None
    if path.lower().endswith(".wav"):
        shortfall = riff_data_shortfall(Path(path))
        if shortfall:
            return (f"truncated wav: its header announces {shortfall[0]} bytes of audio but the file holds "
                    f"{shortfall[1]}"), None
    return None, info


def read_rows(corpus: str, source: str, base: Path, rows: Iterable[Row],
              label_map: Mapping[str, str], language: str = "und") -> CorpusRead:
    """Check every row and probe its audio header; the first bad row raises one CorpusError."""
    problem = corpus_name_problem(corpus)
    if problem:
        raise CorpusError(problem)
    rows = list(rows)
    unknown = sorted({r.label for r in rows if r.label and r.label not in label_map and r.label not in LABELS})
    if unknown:
        first = next(r for r in rows if r.label == unknown[0])
        raise CorpusError(f"{first.where}: label {unknown[0]!r} is not one of {', '.join(LABELS)}"
                          + (f" ({len(unknown)} such labels)" if len(unknown) > 1 else "")
                          + "; map them, e.g. --label-map "
                          + ",".join([f"{k}={v}" for k, v in label_map.items()] + [suggested_map(unknown)]))
    read = CorpusRead(corpus, str(source))
    first_row: Dict[str, str] = {}
    for row in rows:
        utt = check_row(corpus, base, row, label_map, language, read)
        if utt is None:
            continue
        if utt.id in first_row:
            raise CorpusError(f"{row.where}: utterance id {utt.id!r} already on {first_row[utt.id]}")
        first_row[utt.id] = row.where
        read.utterances.append(utt)
    return read


def check_row(corpus: str, base: Path, row: Row, label_map: Mapping[str, str], language: str,
              read: CorpusRead) -> Optional[Utterance]:
    """One row as an utterance; None when it is left out (class not used, broken audio)."""
    for name in REQUIRED:
        if not getattr(row, name).strip():
            raise CorpusError(f"{row.where}: empty {name}")
    gender = GENDERS.get(row.gender.strip().lower())
    if gender is None:
        raise CorpusError(f"{row.where}: gender {row.gender!r} is not one of M, F (or male, female; empty: unknown)")
    path = os.path.normpath(os.path.join(base, row.path))
    if not os.path.isfile(path):
        raise CorpusError(f"{row.where}: audio file {path} does not exist")
    label = four_class(row.label, label_map)
    if label is None:
        read.leave_out(Path(path), f"class not used: {row.label}")
        return None
    problem, info = audio_info(path)
    if problem:
        read.leave_out(Path(path), problem, problem=True)
        return None
    local = row.id.strip() or os.path.splitext(row.path)[0].replace("\\", "/").strip("./").replace("/", "__")
    return Utterance(id=f"{corpus}_{local}", corpus=corpus, path=os.path.abspath(path),
                     speaker=row.speaker.strip(), gender=gender, language=row.language.strip() or language,
                     label=label, source_label=row.source_label.strip() or row.label,
                     sample_rate=int(info.samplerate), channels=int(info.channels), num_frames=int(info.frames))


def csv_rows(path: Path) -> Iterator[Row]:
    """The rows of a CSV corpus table, each named ``FILE:LINE``; a bad header is an error at line 1."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise CorpusError(f"{path}:1: missing column(s) {', '.join(missing)} (the header needs "
                              f"{', '.join(REQUIRED)}; optional {', '.join(OPTIONAL)})")
        reader.fieldnames = header
        for record in reader:
            where = f"{path}:{reader.line_num}"
            if None in record:
                raise CorpusError(f"{where}: more fields than the header's {len(header)}")
            fields = {k: (record.get(k) or "") for k in REQUIRED + OPTIONAL}
            yield Row(where=where, **fields)


def read_csv_corpus(corpus: str, path: Path, label_map: Optional[Mapping[str, str]] = None,
                    language: str = "und") -> CorpusRead:
    """Read a CSV corpus table; audio paths are relative to the CSV's folder."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise CorpusError(f"{path}: CSV corpus table not found (expected a file with columns "
                          f"{', '.join(REQUIRED)})")
    try:
        return read_rows(corpus, str(path.resolve()), path.resolve().parent, csv_rows(path), label_map or {},
                         language)
    except (UnicodeDecodeError, csv.Error) as err:
        raise CorpusError(f"{path}: not a readable CSV file ({err})") from err


@dataclass(frozen=True)
class AudformatColumns:
    """Where an audformat database keeps emotion, speaker and gender: ``TABLE.COLUMN`` each (None: found)."""

    emotion: Optional[str] = None
    speaker: Optional[str] = None
    gender: Optional[str] = None


def find_column(db, wanted: Optional[str], names: Sequence[str], what: str, root: Path) -> Tuple[str, str]:
    """(table, column) named ``TABLE.COLUMN``, else the first filewise column whose scheme or name is in ``names``."""
    if wanted:
        table, _, column = wanted.partition(".")
        if table not in db.tables or column not in db[table].columns:
            raise CorpusError(f"{root}: no column {wanted!r} (tables: {', '.join(db.tables)})")
        return table, column
    for table_id in db.tables:
        for column_id, column in db[table_id].columns.items():
            if column_id in names or (column.scheme_id or "") in names:
                return table_id, column_id
    raise CorpusError(f"{root}: no {what} column found in tables {', '.join(db.tables)} (looked for a column or "
                      f"scheme named {' or '.join(names)}); name it with --audformat-{what} TABLE.COLUMN")


def speaker_genders(db, speaker_scheme: Optional[str]) -> Dict[str, str]:
    """speaker -> gender from the speaker scheme's labels (a dict per speaker or a misc table), if any."""
    if not speaker_scheme or speaker_scheme not in db.schemes:
        return {}
    labels = db.schemes[speaker_scheme].labels
    if isinstance(labels, str) and labels in db.misc_tables:
        frame = db[labels].get()
        column = next((c for c in frame.columns if c.lower() in ("gender", "sex")), None)
        return {str(k): str(v) for k, v in frame[column].items()} if column else {}
    if isinstance(labels, dict):
        return {str(k): str(v.get("gender", v.get("sex", ""))) for k, v in labels.items() if isinstance(v, dict)}
    return {}


def audformat_rows(root: Path, columns: AudformatColumns) -> Tuple[List[Row], Path]:
    """Rows of an audformat database (filewise tables), each named ``ROOT table T, file F``."""
    import audformat  # imported here: only this reader needs it

    header = root / "db.yaml"
    if not header.is_file():
        raise CorpusError(f"{root}: not an audformat database (expected {header} and its tables)")
    try:
        db = audformat.Database.load(str(root), load_data=True)
    except Exception as err:  # audformat raises several types for broken databases
        raise CorpusError(f"{header}: cannot load the audformat database ({err})") from err
    emo_table, emo_col = find_column(db, columns.emotion, ("emotion",), "emotion", root)
    spk_table, spk_col = find_column(db, columns.speaker, ("speaker",), "speaker", root)
    emotions = db[emo_table][emo_col].get()
    speakers = db[spk_table][spk_col].get()
    if columns.gender or any(c in ("gender", "sex") for t in db.tables for c in db[t].columns):
        gen_table, gen_col = find_column(db, columns.gender, ("gender", "sex"), "gender", root)
        genders_by_file = {str(k): str(v) for k, v in db[gen_table][gen_col].get().items()}
        by_speaker: Dict[str, str] = {}
    else:
        genders_by_file = {}
        by_speaker = speaker_genders(db, db[spk_table].columns[spk_col].scheme_id)
    for name, frame in (("emotion", emotions), ("speaker", speakers)):
        if not audformat.is_filewise_index(frame.index):
            raise CorpusError(f"{root}: the {name} table is segmented; only filewise tables are read")
    rows = []
    for file, label in emotions.items():
        where = f"{root}: table {emo_table}, file {file}"
        if file not in speakers.index:
            raise CorpusError(f"{where}: no speaker in {spk_table}.{spk_col}")
        speaker = "" if speakers[file] is None or str(speakers[file]) == "nan" else str(speakers[file])
        gender = genders_by_file.get(str(file), by_speaker.get(speaker, ""))
        label = "" if label is None or str(label) == "nan" else str(label)
        rows.append(Row(where=where, path=str(file), label=label, speaker=speaker,
                        gender="" if gender == "nan" else gender))
    return rows, root


def read_audformat(corpus: str, root: Path, label_map: Optional[Mapping[str, str]] = None,
                   columns: AudformatColumns = AudformatColumns(), language: str = "und") -> CorpusRead:
    """Read an audformat database (the folder holding ``db.yaml``); file paths are relative to it."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise CorpusError(f"{root}: audformat database folder not found (expected a folder with db.yaml)")
    rows, root = audformat_rows(root.resolve(), columns)
    return read_rows(corpus, str(root), root, rows, label_map or {}, language)
