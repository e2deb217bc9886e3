"""Extraction: run a frozen s3prl upstream once per utterance and cache all its hidden layers.

The upstream is built exactly as s3prl's runner builds it (``getattr(s3prl.hub, NAME)(ckpt=...)``),
each utterance is forwarded alone (so its features never depend on batch-mates' padding) and
cut to the frame count s3prl's Featurizer would keep. See :mod:`.format` for the format.
Under torchrun each rank takes a disjoint share of the shards; a re-run skips complete shards.
What it does is logged (logger ``s3prl_crosscorpus.cache.extract``); progress goes to tqdm.
"""
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from s3prl_crosscorpus.core.progress import Progress as tqdm  # plain lines when not a terminal

from ..augment.plan import AugmentError, apply_plan, draw_plan, plan_key
from ..core.audio import TARGET_RATE, AudioError, length_problem, load_audio
from ..core.corpora import Utterance
from ..core.io_utils import read_json, sha256_file
from ..core.manifest import load_manifest
from .augmented import CopySpec, check_augment_owner
from .format import (DEFAULT_SHARD_SIZE, HEADER, CacheError, ShardPlan, UpstreamKey, check_disk_space,
                     check_features, check_manifest, check_owner, estimate_bytes, estimate_frames, human_bytes,
                     prepare_root, read_header, remove_stale, samples_at_16k, shard_paths, shard_problem, write_shard)

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- upstream

def pick_device(requested: str = "auto", local_rank: int = 0) -> str:
    """``auto``: this rank's GPU when CUDA is available, else the CPU."""
    import torch

    if requested != "auto":
        return requested
    return f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"


class UpstreamExtractor:
    """A frozen s3prl upstream: 16 kHz mono samples -> fp32 hidden states ``[frames, layers, hidden]``."""

    def __init__(self, name: str, ckpt: Optional[str] = None, device: str = "cpu",
                 model_config: Optional[str] = None):
        from ..superb.upstreams import HF_UPSTREAMS, UpstreamError, build_upstream

        # A Hugging Face -k is a folder or a hub id; the upstream checks it and names what is wrong.
        if name not in HF_UPSTREAMS and ckpt is not None and "://" not in ckpt and not Path(ckpt).is_file():
            raise CacheError(f"upstream checkpoint {ckpt} does not exist")
        self.name, self.ckpt, self.device = name, ckpt, device
        try:  # the same call as s3prl's Runner._get_upstream, so cached and on-the-fly features agree
            self.upstream = build_upstream(name, ckpt, model_config, device)
        except UpstreamError as err:
            raise CacheError(str(err)) from err
        self.downsample_rate = int(self.upstream.get_downsample_rates("hidden_states"))
        probe = self(np.zeros(TARGET_RATE, dtype=np.float32))
        self.num_layers, self.hidden_size = int(probe.shape[1]), int(probe.shape[2])
        self._key: Optional[UpstreamKey] = None

    def key(self) -> UpstreamKey:
        """Name, checkpoint hash (a Hugging Face model's weights hash) and revision, layers, width, rate, and a
        Hugging Face upstream's front-end hash."""
        if self._key is None:
            sha256, revision = self.identity()
            self._key = UpstreamKey(self.name, sha256, self.num_layers, self.hidden_size, self.downsample_rate,
                                    revision, getattr(self.upstream, "frontend_sha256", None))
        return self._key

    def identity(self) -> Tuple[Optional[str], Optional[str]]:
        from ..superb.upstreams import HFUpstream

        if isinstance(self.upstream, HFUpstream):
            return self.upstream.weights_sha256, self.upstream.revision
        return (sha256_file(self.ckpt), None) if self.ckpt and Path(self.ckpt).is_file() else (None, None)

    def info(self) -> dict:
        """What the upstream really is, for the cache header: the model class and source of a Hugging Face
        upstream (with its feature extractor), the checkpoint file of an s3prl one."""
        from ..superb.upstreams import HFUpstream

        if isinstance(self.upstream, HFUpstream):
            return self.upstream.describe()
        cls = type(self.upstream)
        return {"model": f"{cls.__module__}.{cls.__qualname__}", "source": self.stored_ckpt(),
                "hidden_states": self.num_layers, "hidden_size": self.hidden_size}

    def describe(self) -> str:
        """One line: the key, and what the upstream really is."""
        info = self.info()
        source = f" from {info['source']}" if info.get("source") else ""
        return f"{self.key().describe()} = {info['model']}{source}"

    def stored_ckpt(self) -> Optional[str]:
        """``-k`` as the header keeps it: local files and folders as absolute paths, anything else as given."""
        if self.ckpt and Path(self.ckpt).expanduser().exists():
            return str(Path(self.ckpt).expanduser().resolve())
        return self.ckpt

    def __call__(self, wav: np.ndarray) -> np.ndarray:
        import torch

        from ..superb.upstreams import hidden_states

        with torch.no_grad():
            samples = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32)).to(self.device)
            hidden = hidden_states(self.upstream([samples]))
            if len({h.shape[-1] for h in hidden}) != 1:
                raise CacheError(f"upstream {self.name} has layers of different widths "
                                 f"{sorted({h.shape[-1] for h in hidden})}; the cache needs one width")
            stacked = torch.stack([h[0] for h in hidden], dim=1)  # [T, L, D]
        keep = round(len(wav) / self.downsample_rate)  # s3prl Featurizer.tolist keeps round(len(wav)/rate)
        return stacked[:keep].float().cpu().numpy()


# --------------------------------------------------------------------------- planning

def dist_rank() -> Tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) when run alone."""
    env = os.environ
    return int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0))


def estimated_frames(utts: Sequence[Utterance], downsample_rate: int) -> Dict[str, int]:
    """Utterance id -> estimated frames, from the manifest's sample counts and rates."""
    return {u.id: estimate_frames(samples_at_16k(u.num_frames, u.sample_rate), downsample_rate) for u in utts}


def shard_looks_done(root: Path, shard: int) -> bool:
    """Cheap check for the disk estimate: index present and array of the indexed size."""
    npy, index_path = shard_paths(root, shard)
    if not (npy.exists() and index_path.exists()):
        return False
    try:
        return npy.stat().st_size == read_json(index_path)["bytes"]
    except (OSError, ValueError, KeyError):
        return False


@dataclass
class DiskEstimate:
    total_frames: int
    total_bytes: int
    remaining_bytes: int
    free_bytes: int = 0

    def describe(self, key: UpstreamKey, root: Path) -> str:
        return (f"disk estimate: {self.total_frames} frames x {key.num_layers} layers x {key.hidden_size} "
                f"x 2 bytes = {human_bytes(self.total_bytes)} in all, {human_bytes(self.remaining_bytes)} still "
                f"to write; {human_bytes(self.free_bytes)} free at {root}")


def disk_estimate(root: Path, plan: ShardPlan, frames: Dict[str, int], key: UpstreamKey) -> DiskEstimate:
    """Bytes of the whole cache and of the shards not yet written; refuse if the disk lacks them."""
    per_shard = [estimate_bytes(sum(frames[i] for i in ids), key.num_layers, key.hidden_size)
                 for ids in plan.shards]
    remaining = sum(size for k, size in enumerate(per_shard) if not shard_looks_done(root, k))
    total_frames = sum(frames.values())
    estimate = DiskEstimate(total_frames, estimate_bytes(total_frames, key.num_layers, key.hidden_size), remaining)
    estimate.free_bytes = check_disk_space(root, remaining)
    return estimate


# --------------------------------------------------------------------------- extraction

@dataclass
class ExtractReport:
    """What one rank did: shards written (with the reason they were (re)done) and skipped."""

    rank: int
    world_size: int
    shards: List[int] = field(default_factory=list)
    written: Dict[int, str] = field(default_factory=dict)
    skipped: List[int] = field(default_factory=list)
    utterances: int = 0
    excluded: Dict[str, str] = field(default_factory=dict)  # id -> why (naming the file), this run's shards
    audio_seconds: float = 0.0
    seconds: float = 0.0
    estimate: Optional[DiskEstimate] = None
    extractor: Optional["UpstreamExtractor"] = None  # reused for the next augmented copy


def audio_hashes(utts: Sequence[Utterance], desc: str, quiet: bool) -> Dict[str, str]:
    """Utterance id -> sha256 of its audio file's bytes (the cache key of its features)."""
    return {u.id: sha256_file(u.path) for u in tqdm(utts, desc=desc, unit="file", disable=quiet, leave=False)}


class AudioStream:
    """Decoded audio of the utterances to extract, in order; decoding overlaps the forward when
    ``workers`` > 0 (a torch DataLoader)."""

    def __init__(self, utts: Sequence[Utterance], workers: int, plans: Optional[Mapping[str, Sequence]] = None):
        self.utts, self.workers = list(utts), workers
        self.plans = dict(plans or {})  # id -> augmentation plan of this copy (augmented caches)

    def __len__(self) -> int:
        return len(self.utts)

    def __getitem__(self, k: int) -> Tuple[str, Optional[np.ndarray], Optional[str]]:
        """(id, 16 kHz wave, None), or (id, None, why the file cannot be used, naming it)."""
        utt = self.utts[k]
        try:
            wav = load_audio(utt.path)
            if utt.id in self.plans:
                wav = apply_plan(wav, self.plans[utt.id])
        except (AudioError, AugmentError) as err:
            return utt.id, None, str(err)
        return utt.id, wav, length_problem(len(wav), utt.path)

    def __iter__(self) -> Iterator[Tuple[str, Optional[np.ndarray], Optional[str]]]:
        if self.workers <= 0:
            return (self[k] for k in range(len(self)))
        from torch.utils.data import DataLoader

        loader = DataLoader(self, batch_size=None, shuffle=False, num_workers=self.workers,
                            collate_fn=lambda item: item, prefetch_factor=4)
        return iter(loader)


def extract(data_dir: Path, out: Path, upstream: str, ckpt: Optional[str] = None, *, device: str = "auto",
            shard_size: Optional[int] = None, rank: Optional[int] = None, world_size: Optional[int] = None,
            workers: Optional[int] = None, full_check: bool = True, extractor: Optional[UpstreamExtractor] = None,
            quiet: bool = False, augment: Optional[CopySpec] = None) -> ExtractReport:
    """Extract this rank's share of the manifest into ``out``; return what was done (``quiet``: no progress bars).

    ``shard_size`` None: the existing cache's (resume), else DEFAULT_SHARD_SIZE; another size than an
    existing cache's is refused (its shards would all be redone and the surplus ones orphaned)."""
    start = time.perf_counter()
    env_rank, env_world, local_rank = dist_rank()
    rank = env_rank if rank is None else rank
    world_size = env_world if world_size is None else world_size
    out = Path(out)
    utts = sorted(load_manifest(data_dir), key=lambda u: u.id)
    if extractor is None:
        extractor = UpstreamExtractor(upstream, ckpt, pick_device(device, local_rank))
    elif (extractor.name, extractor.ckpt) != (upstream, ckpt):
        raise CacheError(f"extractor holds {extractor.name} {extractor.ckpt}, asked for {upstream} {ckpt}")
    if workers is None:  # decoding competes with the forward for the cores unless a GPU runs the model
        workers = 0 if str(extractor.device).startswith("cpu") else 2
    key = extractor.key()
    check_owner(out, key)
    plan = ShardPlan.from_ids((u.id for u in utts), check_shard_size(out, shard_size))
    check_manifest(out, plan, str(data_dir))
    frames = estimated_frames(utts, key.downsample_rate)
    report = ExtractReport(rank, world_size, plan.for_rank(rank, world_size), extractor=extractor)
    report.estimate = disk_estimate(out, plan, frames, key)
    logger.info(f"{extractor.describe()}: {key.num_layers} layers x {key.hidden_size}, 1 frame per "
                f"{key.downsample_rate} samples, on {extractor.device}")
    logger.info(report.estimate.describe(key, out))
    extra = {"data": str(Path(data_dir).resolve()), "ckpt": extractor.stored_ckpt(), "upstream_info": extractor.info()}
    if augment is not None:
        check_augment_owner(out, augment)
        extra["augment"] = augment.record()
    prepare_root(out, key, plan, extra=extra)

    by_id = {u.id: u for u in utts}
    plans: Dict[str, List] = {}
    todo = plan_work(out, plan, report, by_id, key, full_check, quiet, augment, plans)
    run_shards(out, plan, todo, by_id, key, extractor, workers, report, quiet, plans)
    report.seconds = time.perf_counter() - start
    logger.info(f"rank {rank}/{world_size}: wrote {len(report.written)} shards, kept {len(report.skipped)} "
                f"complete ones ({report.utterances} utterances, {report.audio_seconds:.0f} s of audio "
                f"in {report.seconds:.1f} s)")
    if report.excluded:
        logger.info(f"excluded {len(report.excluded)} utterance(s) the upstream cannot take (named above; "
                    f"recorded in the shard indexes, and in the results of runs that use them)")
    missing = [k for k in range(len(plan)) if not shard_looks_done(out, k)]
    logger.info(f"cache {out}: " + ("complete" if not missing else
                                    f"{len(missing)} of {len(plan)} shards not written yet (other ranks)"))
    return report


def check_shard_size(out: Path, requested: Optional[int]) -> int:
    """The shard size of this run: the existing cache's, which ``requested`` (when given) must equal."""
    recorded = read_header(out).get("shard_size") if (out / HEADER).exists() else None
    if recorded is None or requested in (None, recorded):
        return requested if requested is not None else (recorded or DEFAULT_SHARD_SIZE)
    raise CacheError(f"{out} was extracted with --shard-size {recorded}, not {requested}: every shard would be "
                     f"redone and the surplus ones left behind; resume with --shard-size {recorded} (or without "
                     f"the option), or extract with --shard-size {requested} into another --out folder")


def plan_work(out: Path, plan: ShardPlan, report: ExtractReport, by_id: Dict[str, Utterance],
              key: UpstreamKey, full_check: bool, quiet: bool, augment: Optional[CopySpec] = None,
              plans: Optional[Dict[str, List]] = None) -> Dict[int, List[Tuple[str, str]]]:
    """This rank's shards that must be (re)done -> their (id, audio sha256) rows; complete ones are skipped.
    An augmented copy's rows hold the copy's key (audio sha256, SPEC, drawn plan) instead, its plans go to
    ``plans``."""
    mine = [by_id[i] for k in report.shards for i in plan.shards[k]]
    hashes = audio_hashes(mine, f"rank {report.rank}: hashing audio", quiet)
    if augment is not None:
        for utt_id, digest in list(hashes.items()):
            drawn = draw_plan(augment.spec, digest, augment.copy, augment.seed)
            hashes[utt_id] = plan_key(digest, augment.spec, drawn)
            if plans is not None:
                plans[utt_id] = drawn
    todo = {}
    for k in report.shards:
        expected = [(i, hashes[i]) for i in plan.shards[k]]
        problem = shard_problem(out, k, key, expected, full=full_check)
        if problem is None:
            report.skipped.append(k)
            continue
        if problem != "not written yet":
            logger.warning(f"shard {k}: redoing it ({problem})")
        report.written[k] = problem
        todo[k] = expected
    return todo


def run_shards(out: Path, plan: ShardPlan, todo: Dict[int, List[Tuple[str, str]]], by_id: Dict[str, Utterance],
               key: UpstreamKey, extractor: UpstreamExtractor, workers: int, report: ExtractReport,
               quiet: bool, plans: Optional[Mapping[str, Sequence]] = None) -> None:
    """Forward every utterance of the shards in ``todo`` and write each shard when its last one is done."""
    order = [(k, utt_id, audio_sha) for k in sorted(todo) for utt_id, audio_sha in todo[k]]
    seconds = sum(by_id[i].seconds for _, i, _ in order)
    stream = AudioStream([by_id[i] for _, i, _ in order], workers, plans)
    bar = tqdm(total=seconds, unit="s audio", desc=f"rank {report.rank}: extracting", disable=quiet,
               dynamic_ncols=True, bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s of audio [{elapsed}<{remaining}]")
    pending: List[Tuple[str, str, np.ndarray]] = []
    excluded: List[Dict[str, str]] = []
    for (k, utt_id, audio_sha), (loaded_id, wav, problem) in zip(order, stream):
        assert loaded_id == utt_id, (loaded_id, utt_id)
        path = str(by_id[utt_id].path)
        if problem is None:
            try:
                # Checked before the fp16 cast, which would turn an out-of-range value into inf.
                pending.append((utt_id, audio_sha, check_features(path, extractor(wav), key)))
            except CacheError as err:  # non-finite or out-of-range features of this file
                problem = str(err)
            except Exception as err:
                raise CacheError(f"{path}: upstream {key.name} failed on this utterance ({err})") from err
        if problem is not None:
            logger.warning(f"excluded {problem}")
            excluded.append({"id": utt_id, "audio_sha256": audio_sha, "path": path, "reason": problem})
            report.excluded[utt_id] = problem
        else:
            report.utterances += 1
        report.audio_seconds += by_id[utt_id].seconds if wav is None else len(wav) / TARGET_RATE
        bar.update(by_id[utt_id].seconds)  # the unit of the total: the bar ends exactly there (no negative ETA)
        if len(pending) + len(excluded) == len(todo[k]):
            remove_stale(out, k)
            write_shard(out, k, key, pending, excluded)
            pending, excluded = [], []
    bar.close()
