"""On-disk cache of a frozen upstream's hidden layers: format, shard writer/reader, validation.

Layout of a cache folder::

    CACHE/cache.json            header: format, upstream key (name, checkpoint sha256), layers, width,
                                downsample rate, shard plan (shard size, number of shards)
    CACHE/shards/00003.npy      fp16 array [sum of frames, layers, width] of the shard's utterances
    CACHE/shards/00003.json     shard index: file size and sha256, one row per utterance
                                (id, audio sha256, offset, length), written after the .npy

A shard is complete only when its index exists and describes its ``.npy``: the index is the
commit marker, both files are written to temporary names and renamed. A run keeps complete
shards whose upstream key and per-utterance audio hashes match, and redoes the others.
The index's ``sha256`` (of the whole ``.npy``) is the shard's digest: readers verify it, and that
every value is finite, once per process before the shard's features are used.
Shards are a fixed number of utterances in sorted-id order, so the plan is deterministic
and torchrun rank ``r`` of ``W`` takes shards ``r, r+W, ...``.
"""
import bisect
import hashlib
import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

import numpy as np

from ..core.io_utils import atomic_open, read_json, sha256_file, write_json

FORMAT_VERSION = 1
HEADER = "cache.json"
SHARD_DIR = "shards"
DTYPE = "float16"
BYTES_PER_VALUE = 2
DEFAULT_SHARD_SIZE = 32
FP16_MAX = float(np.finfo(np.float16).max)
#: Bytes read at a time when a shard's array is verified.
VERIFY_CHUNK = 16 << 20
#: Index fields a reader needs besides the rows.
INDEX_FIELDS = ("bytes", "shape", "rows", "upstream")

logger = logging.getLogger(__name__)


class CacheError(RuntimeError):
    """A cache that is missing, incomplete, made by another upstream, or that cannot be written."""


@dataclass(frozen=True)
class UpstreamKey:
    """What the stored features depend on besides the audio: the upstream and its checkpoint.

    ``ckpt_sha256`` is the checkpoint file's hash, or a Hugging Face model's weights hash; ``revision``
    (the hub commit of a hub id) is recorded but does not take part in comparisons: two revisions
    with the same weight files give the same features. ``frontend_sha256`` is the hash of a Hugging
    Face upstream's feature-extractor settings (log-mel bins, chunk length, normalisation...), None for
    s3prl's upstreams, whose front end is part of their code.
    """

    name: str
    ckpt_sha256: Optional[str]
    num_layers: int
    hidden_size: int
    downsample_rate: int
    revision: Optional[str] = field(default=None, compare=False)
    frontend_sha256: Optional[str] = None

    def identity(self) -> Tuple[str, Optional[str], Optional[str]]:
        return self.name, self.ckpt_sha256, self.frontend_sha256

    def describe(self) -> str:
        ckpt = f"checkpoint sha256 {self.ckpt_sha256[:16]}…" if self.ckpt_sha256 else "no checkpoint file"
        revision = f", revision {self.revision[:12]}" if self.revision else ""
        frontend = f", front end sha256 {self.frontend_sha256[:12]}…" if self.frontend_sha256 else ""
        return f"upstream {self.name!r} ({ckpt}{revision}{frontend})"


@dataclass(frozen=True)
class ShardPlan:
    """Utterance ids of every shard: sorted ids cut into runs of ``shard_size``."""

    shard_size: int
    shards: Tuple[Tuple[str, ...], ...]

    @classmethod
    def from_ids(cls, ids: Iterable[str], shard_size: int = DEFAULT_SHARD_SIZE) -> "ShardPlan":
        if shard_size < 1:
            raise CacheError(f"shard size must be at least 1, got {shard_size}")
        ordered = sorted(set(ids))
        return cls(shard_size, tuple(tuple(ordered[i:i + shard_size]) for i in range(0, len(ordered), shard_size)))

    def __len__(self) -> int:
        return len(self.shards)

    def for_rank(self, rank: int, world_size: int) -> List[int]:
        """Shard numbers of one torchrun rank: ``rank, rank + world_size, ...`` (disjoint, covering)."""
        if not 0 <= rank < world_size:
            raise CacheError(f"rank {rank} is outside world size {world_size}")
        return list(range(rank, len(self.shards), world_size))


def shard_paths(root: Path, shard: int) -> Tuple[Path, Path]:
    """(array file, index file) of one shard."""
    base = Path(root) / SHARD_DIR / f"{shard:05d}"
    return base.with_suffix(".npy"), base.with_suffix(".json")


def estimate_frames(num_samples_16k: int, downsample_rate: int) -> int:
    """Upper estimate of an utterance's frame count: s3prl's ``round(len(wav) / rate)``, at least 1."""
    return max(1, round(num_samples_16k / downsample_rate))


def samples_at_16k(num_frames: int, sample_rate: int) -> int:
    """Number of samples a file of ``num_frames`` at ``sample_rate`` has after resampling to 16 kHz."""
    return -(-num_frames * 16000 // sample_rate)


def estimate_bytes(total_frames: int, num_layers: int, hidden_size: int) -> int:
    """Disk use of the stored features: frames x layers x width x 2 bytes (fp16)."""
    return int(total_frames) * num_layers * hidden_size * BYTES_PER_VALUE


def human_bytes(size: float) -> str:
    """``size`` bytes in B, KiB, ... TiB (the largest unit below 1024, TiB at most)."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{size:.1f} TiB"


def check_disk_space(path: Path, needed: int) -> int:
    """Free bytes at ``path`` (or its nearest existing parent); raise CacheError when below ``needed``."""
    probe = Path(path).resolve()
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed > free:
        raise CacheError(f"not enough disk space for the feature cache at {path}: it needs about "
                         f"{human_bytes(needed)} ({needed} bytes) but only {human_bytes(free)} ({free} bytes) "
                         f"are free on {probe}; choose another --out or free space")
    return free


# --------------------------------------------------------------------------- header

def make_header(key: UpstreamKey, plan: ShardPlan, extra: Optional[Mapping] = None) -> dict:
    return {"format_version": FORMAT_VERSION, "dtype": DTYPE, "layout": "[frames, layers, hidden]",
            "upstream": asdict(key), "shard_size": plan.shard_size, "num_shards": len(plan),
            "num_utterances": sum(len(s) for s in plan.shards),
            "manifest_ids_sha256": ids_sha256(i for ids in plan.shards for i in ids), **dict(extra or {})}


def read_header(root: Path) -> dict:
    path = Path(root) / HEADER
    if not path.exists():
        raise CacheError(f"{path}: no feature cache here; run `s3prl-crosscorpus extract ... --out {root}`")
    try:
        header = read_json(path)
    except (OSError, ValueError) as err:
        raise CacheError(f"{path}: unreadable cache header ({err})") from err
    if not isinstance(header, dict) or header.get("format_version") != FORMAT_VERSION:
        version = header.get("format_version") if isinstance(header, dict) else None
        raise CacheError(f"{path}: cache format {version} is not the supported "
                         f"{FORMAT_VERSION}; extract again into a new folder")
    return header


def key_of(header: Mapping) -> UpstreamKey:
    return UpstreamKey(**header["upstream"])


def check_owner(root: Path, key: UpstreamKey) -> None:
    """Refuse a cache folder that already holds another upstream's (or checkpoint's) features."""
    if (Path(root) / HEADER).exists():
        old = key_of(read_header(root))
        if old.identity() != key.identity():
            raise CacheError(f"{root} holds features of {old.describe()}, not of {key.describe()}; "
                             f"extract into another --out folder")


def ids_sha256(ids: Iterable[str]) -> str:
    """Identity of a manifest's utterance set: sha256 of its sorted ids, one per line."""
    return hashlib.sha256("".join(f"{i}\n" for i in sorted(ids)).encode("utf-8")).hexdigest()


def check_manifest(root: Path, plan: ShardPlan, data: str) -> None:
    """Refuse a cache folder extracted from another manifest (its shards would be overwritten one by one)."""
    if not (Path(root) / HEADER).exists():
        return
    header = read_header(root)
    recorded = header.get("manifest_ids_sha256")
    if recorded is None or recorded == ids_sha256(i for ids in plan.shards for i in ids):
        return
    raise CacheError(f"{root} holds features of another manifest ({header.get('data')}, "
                     f"{header.get('num_utterances')} utterances), not of {data} "
                     f"({sum(len(s) for s in plan.shards)} utterances); extract into another --out folder")


def prepare_root(root: Path, key: UpstreamKey, plan: ShardPlan, extra: Optional[Mapping] = None) -> None:
    """Write the header; refuse a folder that already holds another upstream's features."""
    root = Path(root)
    check_owner(root, key)
    (root / SHARD_DIR).mkdir(parents=True, exist_ok=True)
    write_json(root / HEADER, make_header(key, plan, extra))


# --------------------------------------------------------------------------- shards

def write_shard(root: Path, shard: int, key: UpstreamKey, items: Sequence[Tuple[str, str, np.ndarray]],
                excluded: Sequence[Mapping[str, str]] = ()) -> dict:
    """Store ``(utt id, audio sha256, features [T, L, D])`` of one shard; return its index.

    ``excluded``: rows ``{"id", "audio_sha256", "path", "reason"}`` of the shard's utterances that the
    upstream could not take; they are recorded so a re-run keeps the shard (until their audio changes).
    The array goes to a temporary name and is renamed, then the index (the commit marker) is written.
    """
    if not items and not excluded:
        raise CacheError(f"shard {shard} has no utterances")
    rows, arrays, offset = [], [], 0
    for utt_id, audio_sha, feats in items:
        feats = check_features(utt_id, feats, key)
        rows.append({"id": utt_id, "audio_sha256": audio_sha, "offset": offset, "length": int(feats.shape[0])})
        arrays.append(feats)
        offset += feats.shape[0]
    array = (np.concatenate(arrays, axis=0) if arrays
             else np.zeros((0, key.num_layers, key.hidden_size), dtype=np.float16))
    npy, index_path = shard_paths(root, shard)
    if index_path.exists():
        index_path.unlink()  # an old index must never describe the new array
    with atomic_open(npy, "wb") as handle:
        np.save(handle, array, allow_pickle=False)
    index = {"format_version": FORMAT_VERSION, "shard": shard, "upstream": asdict(key), "file": npy.name,
             "bytes": npy.stat().st_size, "sha256": sha256_file(npy), "shape": list(array.shape),
             "rows": rows, "excluded": [dict(e) for e in excluded]}
    write_json(index_path, index)
    return index


def check_features(utt_id: str, feats: np.ndarray, key: UpstreamKey) -> np.ndarray:
    """fp16 [T, L, D] with the key's layers and width and finite values, or a CacheError naming the utterance."""
    feats = np.asarray(feats)
    expected = (key.num_layers, key.hidden_size)
    if feats.ndim != 3 or feats.shape[1:] != expected or feats.shape[0] < 1:
        raise CacheError(f"{utt_id}: features of shape {feats.shape} do not match [frames, {expected[0]}, "
                         f"{expected[1]}] of {key.describe()}")
    if not np.all(np.isfinite(feats)):
        raise CacheError(f"{utt_id}: upstream features hold non-finite values")
    if np.abs(feats).max() > FP16_MAX:
        raise CacheError(f"{utt_id}: upstream features exceed the fp16 range (max |x| "
                         f"{float(np.abs(feats).max()):.1f} > {FP16_MAX:.0f})")
    return feats.astype(np.float16, copy=False)


def shard_problem(root: Path, shard: int, key: UpstreamKey, expected: Sequence[Tuple[str, str]],
                  full: bool = True) -> Optional[str]:
    """Why shard ``shard`` must be (re)done, or None when it is complete and current.

    ``expected`` is the shard's ``(utt id, audio sha256)`` list. ``full`` also re-hashes the
    array file, which catches same-size corruption; without it only size and header are checked.
    """
    npy, index_path = shard_paths(root, shard)
    if not index_path.exists():
        return "not written yet" if not npy.exists() else "array without index (interrupted)"
    try:
        index = read_json(index_path)
    except (OSError, json.JSONDecodeError) as err:
        return f"unreadable index ({err})"
    try:
        made_by = UpstreamKey(**index["upstream"])
    except (KeyError, TypeError):
        return "index without a valid upstream key"
    if made_by != key:
        return f"made by {made_by.describe()}"
    missing = [f for f in INDEX_FIELDS if f not in index]
    if missing:
        return f"index without {', '.join(missing)}"
    stored = index.get("rows", []) + index.get("excluded", [])
    if sorted((r["id"], r["audio_sha256"]) for r in stored) != sorted(expected):
        return "utterances or their audio changed"
    if not npy.exists():
        return "array file missing"
    size = npy.stat().st_size
    if size != index["bytes"]:
        return f"array file has {size} bytes, index says {index['bytes']} (truncated or replaced)"
    problem = array_header_problem(npy, index)
    if problem or not full:
        return problem
    if not index.get("sha256"):  # extraction can vouch only for what it wrote itself: redo the shard
        return "index without a checksum (cannot verify the array)"
    return array_problem(npy, index)


def array_header_problem(npy: Path, index: Mapping) -> Optional[str]:
    """Check the .npy header: shape as indexed, fp16."""
    try:
        array = np.load(npy, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as err:
        return f"array file unreadable ({err})"
    if list(array.shape) != list(index["shape"]) or array.dtype != np.float16:
        return f"array file holds {array.dtype} {list(array.shape)}, index says float16 {index['shape']}"
    return None


def array_problem(npy: Path, index: Mapping) -> Optional[str]:
    """Why a shard's array cannot be used (bytes differ from the index's sha256, or a non-finite value,
    naming the utterance), or None. One read of the file; without a recorded sha256 only values are checked."""
    try:
        array = np.load(npy, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as err:
        return f"array file unreadable ({err})"
    width = int(np.prod(array.shape[1:], dtype=np.int64))
    frame_bytes = width * BYTES_PER_VALUE
    data_start = npy.stat().st_size - array.shape[0] * frame_bytes
    del array
    digest, bad_frame = hashlib.sha256(), None
    frames_per_chunk = max(1, VERIFY_CHUNK // max(frame_bytes, 1))
    with open(npy, "rb") as handle:
        digest.update(handle.read(data_start))
        frame = 0
        while True:
            block = handle.read(frames_per_chunk * frame_bytes)
            if not block:
                break
            digest.update(block)
            if bad_frame is None and width:
                bad_frame = first_non_finite(np.frombuffer(block, dtype="<u2").reshape(-1, width), frame)
            frame += len(block) // max(frame_bytes, 1)
    recorded = index.get("sha256")
    if recorded and digest.hexdigest() != recorded:
        return (f"contents differ from the sha256 recorded in its index {npy.with_suffix('.json').name} "
                f"at extraction (corrupted or changed since)")
    if bad_frame is not None:
        return (f"utterance {utterance_at(index, bad_frame)} holds non-finite features (NaN or inf, "
                f"frame {bad_frame} of the shard)")
    return None


def first_non_finite(block: np.ndarray, start: int) -> Optional[int]:
    """Shard frame number of the first row of fp16 bit patterns (``uint16`` [frames, values]) holding
    a NaN or an infinity (all exponent bits set), or None."""
    special = (block & 0x7C00) == 0x7C00
    if not special.any():
        return None
    return start + int(np.argmax(special.any(axis=1)))


def utterance_at(index: Mapping, frame: int) -> str:
    """Id of the utterance whose rows hold shard frame ``frame`` (by the index's offsets)."""
    rows = sorted(index.get("rows", []), key=lambda r: r["offset"])
    k = bisect.bisect_right([r["offset"] for r in rows], frame) - 1
    return rows[k]["id"] if k >= 0 else f"(no row covers frame {frame})"


#: (array path, size, mtime, inode, recorded sha256) of arrays this process verified already.
_VERIFIED: Set[Tuple[str, int, int, int, Optional[str]]] = set()
#: Index files without a sha256 this process has warned about.
_NOTED: Set[str] = set()


def verify_shard(npy: Path, index: Mapping) -> Optional[str]:
    """Raise CacheError naming ``npy`` unless its bytes match the index's sha256 and every value is finite;
    once per process and file version. Returns a note when the index records no sha256 (values only)."""
    stat = npy.stat()
    token = (str(npy.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino, index.get("sha256"))
    if token not in _VERIFIED:
        problem = array_problem(npy, index)
        if problem:
            raise CacheError(f"{npy}: {problem}; run `s3prl-crosscorpus extract` again with --out "
                             f"{npy.parent.parent} to redo this shard")
        _VERIFIED.add(token)
    index_path = str(npy.with_suffix(".json"))
    if index.get("sha256") or index_path in _NOTED:
        return None
    _NOTED.add(index_path)
    return (f"{index_path}: the shard index records no sha256, so the integrity of {npy.name} cannot be "
            f"checked (its values were checked to be finite); `extract` again into this folder redoes it with one")


# --------------------------------------------------------------------------- reader

@dataclass(frozen=True)
class Entry:
    shard: int
    offset: int
    length: int
    audio_sha256: str


class FeatureCache:
    """Read side: utterance id -> memory-mapped fp16 features ``[frames, layers, hidden]``.

    Opening checks every shard's index against the header and its array's size and shape;
    ``full=True`` also re-hashes the arrays. Before a shard's features are first used (``verify``, or
    lazily in ``features``) its array is checked against the index's sha256 and for non-finite values.
    """

    def __init__(self, root: Path, full: bool = False):
        self.root = Path(root)
        self.header = read_header(self.root)
        self.key = key_of(self.header)
        self.entries: Dict[str, Entry] = {}
        self.problems: Dict[int, str] = {}
        #: id -> {"id", "audio_sha256", "path", "reason"} of utterances the upstream could not take
        self.excluded: Dict[str, dict] = {}
        self._arrays: Dict[int, np.ndarray] = {}
        self._indexes: Dict[int, dict] = {}
        self._verified: Set[int] = set()
        for shard in range(self.header["num_shards"]):
            self._open_index(shard, full)

    def _open_index(self, shard: int, full: bool) -> None:
        npy, index_path = shard_paths(self.root, shard)
        if not index_path.exists():
            self.problems[shard] = "not written"
            return
        try:
            index = read_json(index_path)
            expected = [(r["id"], r["audio_sha256"]) for r in index["rows"] + index.get("excluded", [])]
        except (OSError, ValueError, KeyError, TypeError) as err:  # one broken index must not stop the reader
            self.problems[shard] = f"unreadable index {index_path} ({err!r})"
            return
        problem = shard_problem(self.root, shard, self.key, expected, full=full)
        if problem:
            self.problems[shard] = problem
            return
        self._indexes[shard] = index
        for row in index["rows"]:
            self.entries[row["id"]] = Entry(shard, row["offset"], row["length"], row["audio_sha256"])
        for row in index.get("excluded", []):
            self.excluded[row["id"]] = dict(row)

    @property
    def num_layers(self) -> int:
        return self.key.num_layers

    @property
    def hidden_size(self) -> int:
        return self.key.hidden_size

    def __contains__(self, utt_id: str) -> bool:
        return utt_id in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def length(self, utt_id: str) -> int:
        return self.entries[utt_id].length

    def features(self, utt_id: str) -> np.ndarray:
        """Read-only fp16 view ``[frames, layers, hidden]`` of one utterance."""
        try:
            entry = self.entries[utt_id]
        except KeyError:
            raise CacheError(f"{self.root}: utterance {utt_id!r} is not in the cache; "
                             f"run `s3prl-crosscorpus extract` over this manifest") from None
        array = self._arrays.get(entry.shard)
        if array is None:
            note = self._verify(entry.shard)
            if note:
                logger.warning(f"warning: {note}")
            array = self._arrays[entry.shard] = np.load(shard_paths(self.root, entry.shard)[0], mmap_mode="r")
        return array[entry.offset:entry.offset + entry.length]

    def verify(self, ids: Optional[Iterable[str]] = None) -> List[str]:
        """Check the arrays of the shards holding ``ids`` (default: all) against their sha256 and for
        non-finite values; raise CacheError naming the first bad file. Returns notes (once per process
        for each shard whose index records no sha256)."""
        shards = (sorted(self._indexes) if ids is None
                  else sorted({self.entries[i].shard for i in ids if i in self.entries}))
        return [note for note in (self._verify(k) for k in shards) if note]

    def _verify(self, shard: int) -> Optional[str]:
        """Verify one shard's array once per cache object (a DataLoader worker inherits the set)."""
        if shard in self._verified:
            return None
        note = verify_shard(shard_paths(self.root, shard)[0], self._indexes[shard])
        self._verified.add(shard)
        return note

    def require(self, ids: Iterable[str], audio_sha256: Optional[Mapping[str, str]] = None) -> None:
        """Raise CacheError unless every id is stored (and, if given, from the same audio bytes)."""
        ids = list(ids)
        missing = [i for i in ids if i not in self.entries and i not in self.excluded]
        if missing:
            broken = "; ".join(f"shard {k}: {why}" for k, why in sorted(self.problems.items())[:5])
            raise CacheError(f"{self.root}: {len(missing)} of {len(ids)} utterances are not in the cache "
                             f"(first: {missing[0]}){'; ' + broken if broken else ''}; run "
                             f"`s3prl-crosscorpus extract` again to finish it")
        if audio_sha256 is not None:
            stored = {i: (self.entries[i].audio_sha256 if i in self.entries else self.excluded[i]["audio_sha256"])
                      for i in ids}
            changed = [i for i in ids if audio_sha256.get(i) not in (None, stored[i])]
            if changed:
                raise CacheError(f"{self.root}: the audio of {len(changed)} utterances changed since extraction "
                                 f"(first: {changed[0]}); run `s3prl-crosscorpus extract` again")

    def __getstate__(self) -> dict:
        # Memory maps are reopened lazily in each DataLoader worker.
        state = dict(self.__dict__)
        state["_arrays"] = {}
        return state


def remove_stale(root: Path, shard: int) -> None:
    """Delete a shard's files (before redoing it) so a crash never leaves a mismatched pair."""
    for path in shard_paths(root, shard)[::-1]:
        if path.exists():
            os.unlink(path)
