"""``DownstreamExpert`` of the s3prl downstream ``crosscorpus_emotion`` (legacy runner interface).

s3prl's runner builds it as ``DownstreamExpert(upstream_dim, upstream_rate, **config, **vars(args))``
and calls ``get_dataloader``, ``forward`` and ``log_records``. This expert decides the dev-best
checkpoint on dev UAR, logs UAR/WA/macro-F1 per split and per corpus, and, when a checkpoint is
evaluated on test, writes SUPERB-style predict/truth files and one shared-schema result per test corpus.
"""
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributed import is_initialized
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, DistributedSampler
from s3prl_crosscorpus.core.progress import Progress as tqdm  # plain lines when not a terminal

from ..core.audio import audio_problem, load_audio
from ..core.corpora import Utterance
from ..core.folds import Split
from ..core.io_utils import atomic_open
from ..core.labels import CORPORA, LABELS, corpus_order
from ..core.manifest import manifest_digest
from ..core.metrics import degenerate_warnings, scores
from ..core.names import DOWNSTREAM, HEADS, add_tags, augment_tags, dnn_system_name, layers_tag, variant_tags
from ..domain.dann import CorpusClassifier, DannConfigError, DannSettings, corpus_loss, dann_lambda
from ..results.schema import make_result, package_versions, path_of, result_path, write_result
from ..augment.plan import check_material
from ..augment.spec import SpecError, spec_warnings
from .augmented import AugmentedEmotionDataset, DegradedEmotionDataset, augment_settings, degrade_settings
from .dataset import (SPLITS, ConfigError, DataSettings, EmotionDataset, balanced_sampler, class_weights,
                      collate, load_experiment, pool_of)
from .heads import build_model
from .layers import parse_layers
from .upstreams import HF_UPSTREAMS, checkpoint_identity, hf_feature_extractor, upstream_label

from ..core.normalise import is_transductive

BEST_CKPT = "dev-best.ckpt"


def expected_results(results_dir: str, upstream: str, head: str, condition: str, test_corpus: Optional[str],
                     corpora: Sequence[str], fold: int, system: Optional[str] = None,
                     ckpt: Optional[str] = None, tags: Sequence[str] = ()) -> List[Path]:
    """The result files a run writes: one per test corpus (every pool corpus when ``test_corpus`` is empty);
    ``ckpt`` is the upstream's ``-k`` (it names Hugging Face upstreams); ``tags``: :func:`core.names.variant_tags`
    of the run's normalisation and DANN."""
    tested = [test_corpus] if test_corpus else list(corpus_order(corpora))
    name = dnn_system_name(upstream_label(upstream, ckpt), head, system, tags)
    return [result_path(Path(results_dir), name, condition, corpus, int(fold)) for corpus in tested]


def effective_modelrc(modelrc: Mapping[str, Any]) -> Dict[str, Any]:
    """The ``modelrc`` settings the model was built from: the chosen head's section, not the others'."""
    head = modelrc.get("head", "linear")
    return {k: v for k, v in modelrc.items() if k == head or k not in HEADS}


#: The keys this downstream reads; any other key is refused (a misspelled one would silently use a default).
KNOWN_KEYS: Dict[str, Tuple[str, ...]] = {
    "downstream_expert": ("datarc", "modelrc", "results_dir", "system_name"),
    "downstream_expert.datarc": ("data_dir", "corpora", "condition", "test_corpus", "train_corpora", "fold", "seed",
                                 "balance",
                                 "train_batch_size", "eval_batch_size", "num_workers", "normalisation",
                                 "augment", "test_degrade"),
    "downstream_expert.modelrc": ("head", "projector_dim", "dann", "layers") + HEADS,
}
#: s3prl upstreams that normalise every utterance to zero mean (CMVN) -> the one that keeps the level.
CMVN_UPSTREAMS: Dict[str, str] = {"fbank": "fbank_no_cmvn", "mfcc": "fbank_no_cmvn"}


def check_known_keys(expert: Mapping[str, Any]) -> None:
    """Refuse unknown ``downstream_expert`` / ``datarc`` / ``modelrc`` keys, naming the key and the known ones."""
    sections = {"downstream_expert": expert, "downstream_expert.datarc": expert.get("datarc") or {},
                "downstream_expert.modelrc": expert.get("modelrc") or {}}
    for section, values in sections.items():
        unknown = sorted(set(values) - set(KNOWN_KEYS[section]))
        if unknown:
            raise ConfigError(f"unknown key {section}.{unknown[0]}; the known keys of {section} are "
                              f"{', '.join(KNOWN_KEYS[section])}")
    augment_settings(sections["downstream_expert.datarc"].get("augment"))  # its keys and SPEC, before any work
    degrade_settings(sections["downstream_expert.datarc"].get("test_degrade"))


def check_upstream_head(upstream: Optional[str], modelrc: Mapping[str, Any]) -> None:
    """Refuse a per-utterance-CMVN upstream under the mean-pool linear head: its pooled input is zero."""
    if upstream in CMVN_UPSTREAMS and modelrc.get("head", "linear") == "linear":
        raise ConfigError(f"upstream {upstream!r} normalises every utterance to zero mean (CMVN), so the mean-pooled "
                          f"input of the linear head is zero by construction and it cannot beat chance; use "
                          f"-u {CMVN_UPSTREAMS[upstream]} or another head (cnn_selfatt, transformer)")


def validate_config(config: Mapping[str, Any], upstream: Optional[str] = None) -> DataSettings:
    """Check a whole runner config for this downstream before anything is trained; raise ConfigError."""
    for section in ("runner", "optimizer", "downstream_expert"):
        if section not in config:
            raise ConfigError(f"the config has no '{section}' section (see downstream_configs/)")
    expert = config["downstream_expert"]
    if "datarc" not in expert or "modelrc" not in expert:
        raise ConfigError("downstream_expert needs 'datarc' and 'modelrc' sections (see downstream_configs/)")
    check_known_keys(expert)
    check_upstream_head(upstream, expert["modelrc"])
    eval_splits = config["runner"].get("eval_dataloaders") or []
    if "dev" not in eval_splits:
        raise ConfigError("runner.eval_dataloaders must include 'dev': dev UAR chooses dev-best.ckpt")
    for name in ("total_steps", "eval_step", "log_step", "save_step", "gradient_accumulate_steps"):
        if name in config["runner"] and not isinstance(config["runner"][name], int):
            raise ConfigError(f"runner.{name} must be an integer, got {config['runner'][name]!r}")
    if int(config["runner"].get("eval_step", 0)) > int(config["runner"].get("total_steps", 0)):
        raise ConfigError(f"runner.eval_step {config['runner'].get('eval_step')} is above runner.total_steps "
                          f"{config['runner'].get('total_steps')}: dev would never be evaluated, so no dev-best.ckpt")
    try:
        build_model(8, expert["modelrc"])
        dann = DannSettings.from_config(expert["modelrc"].get("dann"))
        parse_layers(expert["modelrc"].get("layers"))
    except ValueError as err:
        raise ConfigError(f"downstream_expert.modelrc: {err}") from err
    settings = DataSettings.from_config(expert["datarc"])
    if dann.enabled and (settings.condition == "matched"
                         or (settings.condition == "transfer" and len(settings.train_corpora) < 2)):
        raise ConfigError("modelrc.dann.enabled needs two or more training corpora: use it with condition "
                          "extended, loco or a transfer pool of two or more (matched trains on one corpus)")
    load_experiment(settings)
    return settings


def check_normalisation_source(settings: DataSettings, feature_cache: Optional[str]) -> None:
    """corpus / speaker normalisation needs per-layer frame statistics, which come from a feature cache."""
    if settings.normalisation != "global" and not feature_cache:
        raise ConfigError(f"datarc.normalisation={settings.normalisation} normalises each upstream layer with "
                          "statistics of the cached frames: train with `s3prl-crosscorpus train-cached --cache "
                          "CACHE` (run-downstream computes the upstream live and supports only 'global')")


def uar_summary(truth: Sequence[str], predict: Sequence[str], corpora: Sequence[str]) -> Dict[str, dict]:
    """``scores`` overall ("all") and, when the records mix corpora, per corpus."""
    summary = {"all": scores(truth, predict)}
    if len(set(corpora)) < 2:
        return summary
    for corpus in corpus_order(corpora):
        picked = [k for k, c in enumerate(corpora) if c == corpus]
        if picked:
            summary[corpus] = scores([truth[k] for k in picked], [predict[k] for k in picked])
    return summary


@dataclass(frozen=True)
class Excluded:
    """An utterance left out of the run, the set it belonged to, and why (naming the file)."""

    utterance: Utterance
    set: str
    reason: str


def usable_split(split: Split, by_id: Mapping[str, Utterance], excluded: Mapping[str, Any]) -> Split:
    """``split`` without the ``excluded`` ids; ConfigError naming the set when that leaves it unusable."""
    if not excluded:
        return split
    kept = {name: tuple(i for i in getattr(split, name) if i not in excluded) for name in SPLITS}
    where = f"{split.condition} fold {split.fold}"
    for name in ("train", "dev"):
        if not kept[name]:
            raise ConfigError(f"{where}: every {name} utterance was excluded (unusable audio, named above)")
    for corpus in split.test_corpora:
        if not any(by_id[i].corpus == corpus for i in kept["test"]):
            raise ConfigError(f"{where}: every {corpus} test utterance was excluded (unusable audio, named above)")
    return replace(split, **kept)


class DownstreamExpert(nn.Module):
    """Cross-corpus 4-class emotion recognition over the shared folds."""

    def __init__(self, upstream_dim: int, upstream_rate: int, downstream_expert: Mapping[str, Any],
                 expdir: str, **kwargs: Any):
        super().__init__()
        self.expdir = Path(expdir)
        self.expert_config = dict(downstream_expert)
        self.run_args = kwargs  # the runner's config sections and command-line args
        self.settings = DataSettings.from_config(downstream_expert["datarc"])
        predicting = kwargs.get("mode") == "inference"  # noise/RIR folders of training need not be here
        self.augment = augment_settings(downstream_expert["datarc"].get("augment"), self.settings.seed,
                                        check_files=not predicting)
        self.test_degrade = degrade_settings(downstream_expert["datarc"].get("test_degrade"), not predicting)
        self.init_seed = int(kwargs.get("seed", 0))
        check_normalisation_source(self.settings, kwargs.get("feature_cache"))
        self.modelrc = dict(downstream_expert["modelrc"])
        try:
            self.dann = DannSettings.from_config(self.modelrc.get("dann"))
        except DannConfigError as err:
            raise ConfigError(f"downstream_expert.modelrc: {err}") from err
        with torch.random.fork_rng():  # head init depends on --seed only, not on how the upstream was built
            torch.manual_seed(self.init_seed)
            self.model = build_model(upstream_dim, self.modelrc)
            if self.dann.enabled:  # one output per corpus of the protocol, drawn after the model (its init
                # is unchanged); built before the pool is read from the manifest, so it cannot size on the pool
                self.corpus_head = CorpusClassifier(self.model.head.embed_dim, len(CORPORA), self.dann.hidden_dim)
        self.train_forwards = 0  # DANN's schedule reads training progress from it (kept in checkpoints)
        self.split, self.datasets, self.excluded = None, {}, {}
        self.speaker_of: Dict[str, str] = {}  # test id -> the manifest's speaker, recorded in the results
        if kwargs.get("mode") != "inference":  # `-m inference -t FILE` needs no corpus data
            self.split, by_id = load_experiment(self.settings)
            for spec in (self.augment.spec if self.augment else None, self.test_degrade):
                if spec is not None:
                    try:
                        check_material(spec, list(by_id.values()))
                    except SpecError as err:
                        raise ConfigError(f"downstream_expert.datarc: {err}") from None
            beyond = sorted(set(self.split.train_corpora) - set(CORPORA))
            if self.dann.enabled and beyond:  # the corpus head has one output per paper corpus (built above)
                raise ConfigError(f"DANN's corpus classifier covers {', '.join(CORPORA)} only; the pool holds "
                                  f"{', '.join(beyond)}: train without dann or on the paper's corpora")
            used = [by_id[i] for name in SPLITS for i in getattr(self.split, name)]
            self.excluded = {i: Excluded(by_id[i], name, reason) for i, reason in self.utterance_problems(used).items()
                             for name in SPLITS if i in getattr(self.split, name)}
            self.split = usable_split(self.split, by_id, self.excluded)
            self.speaker_of = {i: by_id[i].speaker for i in self.split.test}
            self.datasets = {name: EmotionDataset.from_split(self.split, by_id, name) for name in SPLITS}
            if self.augment is not None:  # training only: dev and test stay plain
                self.datasets["train"] = AugmentedEmotionDataset(self.datasets["train"].utterances, self.augment,
                                                                 self.split, by_id)
            if self.test_degrade is not None:  # evaluation on degraded test audio: its own system row
                self.datasets["test"] = DegradedEmotionDataset(self.datasets["test"].utterances, self.test_degrade,
                                                               self.settings.seed)
        present = Counter(u.corpus for u in by_id.values()) if self.split is not None else {}
        self.pool = pool_of(self.settings, present)
        # A plain attribute, not a buffer: DDP would broadcast buffers in the leader-only dev evaluation.
        self.loss_weights: Optional[Tensor] = (class_weights(self.datasets["train"].labels)
                                               if self.settings.balance == "loss" and self.datasets else None)

        self.best: Dict[str, Any] = {"uar": -1.0, "step": 0, "per_corpus": {}, "train_seconds": 0.0}
        self._started = time.time()
        self._eval_started: Dict[str, float] = {}
        if self.split is not None:
            tqdm.write(f"[{DOWNSTREAM}] {self.split.condition} fold {self.split.fold}: train on "
                  f"{list(self.split.train_corpora)} ({len(self.split.train)} utts), dev {len(self.split.dev)}, "
                  f"test on {list(self.split.test_corpora)} ({len(self.split.test)}); head {self.model.head_name}")

    def utterance_problems(self, utterances: Sequence[Utterance]) -> Dict[str, str]:
        """id -> reason (naming the file) of every utterance the upstream cannot take, checked before the first step."""
        problems = {}
        for utt in tqdm(utterances, desc="checking audio", unit="file", leave=False, disable=len(utterances) < 500):
            problem = audio_problem(utt.path)
            if problem is not None:
                problems[utt.id] = problem
        self.report_excluded(problems)
        return problems

    def report_excluded(self, problems: Mapping[str, str]) -> None:
        """Name every excluded file on the console and in log.log."""
        if problems:
            self._log([f"excluded {reason}" for reason in problems.values()]
                      + [f"excluded {len(problems)} utterance(s) the upstream cannot take; listed in each result"])

    # The best dev score travels in the checkpoint without being a buffer (see loss_weights), with the
    # seconds trained so far: a run resumed with -e counts them in the time to its best (not the downtime).
    def get_extra_state(self) -> dict:
        return dict(self.best, train_forwards=self.train_forwards, seconds_so_far=time.time() - self._started)

    def set_extra_state(self, state: dict) -> None:
        self.best = dict(state)
        self.train_forwards = int(self.best.pop("train_forwards", 0))
        self._started = time.time() - float(self.best.pop("seconds_so_far", 0.0))

    # ---- data -------------------------------------------------------------------------------
    def get_dataloader(self, split: str, epoch: int = 0) -> DataLoader:
        """Train: shuffled (seeded by --seed and the epoch) or class-balanced; dev/test: in id order."""
        if split not in self.datasets:
            raise ValueError(f"unknown split {split!r}; crosscorpus_emotion has {', '.join(SPLITS)}")
        datarc = self.expert_config["datarc"]
        dataset = self.datasets[split]
        workers = int(datarc.get("num_workers", 0))
        if split != "train":
            return DataLoader(dataset, batch_size=int(datarc.get("eval_batch_size", 1)), shuffle=False,
                              num_workers=workers, collate_fn=collate)
        if hasattr(dataset, "set_epoch"):  # augmented training: this epoch's version of each utterance
            dataset.set_epoch(epoch)
        sampler = None
        generator = torch.Generator().manual_seed(self.init_seed + epoch)
        if self.settings.balance == "sampler":
            if is_initialized():
                raise ConfigError("datarc.balance=sampler is not supported with DDP; use balance=loss")
            sampler = balanced_sampler(dataset.labels, self.init_seed + epoch)
        elif is_initialized():
            sampler = DistributedSampler(dataset, shuffle=True, seed=self.init_seed)
            sampler.set_epoch(epoch)
        return DataLoader(dataset, batch_size=int(datarc.get("train_batch_size", 4)),
                          shuffle=sampler is None, sampler=sampler, generator=generator,
                          num_workers=workers, collate_fn=collate, drop_last=False)

    def load_audio(self, path: str) -> Tensor:
        """Used by the runner's ``-m inference``: any rate / channel count to 16 kHz mono."""
        return torch.from_numpy(load_audio(path))

    # ---- model ------------------------------------------------------------------------------
    def logits(self, features: List[Tensor]) -> Tensor:
        """Logits of a list of unpadded (T, D) feature tensors."""
        lengths = torch.tensor([len(f) for f in features], dtype=torch.long, device=features[0].device)
        return self.model(pad_sequence(features, batch_first=True), lengths)

    def forward(self, split: str, features: List[Tensor], labels: Sequence[int], ids: Sequence[str],
                corpora: Sequence[str], records: Dict[str, list], **kwargs: Any) -> Tensor:
        if split != "train":
            self._eval_started.setdefault(split, time.time())
        adversarial = split == "train" and self.dann.enabled
        if adversarial:
            lengths = torch.tensor([len(f) for f in features], dtype=torch.long, device=features[0].device)
            embedding = self.model.embed(pad_sequence(features, batch_first=True), lengths)
            logits = self.model.head.classify(embedding)
        else:
            logits = self.logits(features)
        target = torch.as_tensor(list(labels), dtype=torch.long, device=logits.device)
        weights = None if self.loss_weights is None else self.loss_weights.to(logits.device)
        loss = F.cross_entropy(logits, target, weight=weights)
        probabilities = torch.softmax(logits.detach().float(), dim=-1).cpu()
        records["loss"].append(loss.item())
        if adversarial:
            loss = loss + self._corpus_loss(embedding, corpora, records)
        records["id"] += list(ids)
        records["corpus"] += list(corpora)
        records["truth"] += [LABELS[i] for i in target.tolist()]
        records["predict"] += [LABELS[i] for i in probabilities.argmax(dim=-1).tolist()]
        records["probabilities"] += probabilities.tolist()
        return loss

    def dann_progress(self) -> float:
        """Training progress in [0, 1] for DANN's lambda: optimiser steps so far / runner.total_steps."""
        runner = self.run_args.get("runner") or {}
        steps = self.train_forwards / max(1, int(runner.get("gradient_accumulate_steps", 1) or 1))
        return min(1.0, steps / max(1, int(runner.get("total_steps", 1) or 1)))

    def _corpus_loss(self, embedding: Tensor, corpora: Sequence[str], records: Dict[str, list]) -> Tensor:
        """DANN: the corpus classifier's loss through gradient reversal (the emotion loss is added by the caller)."""
        lam = dann_lambda(self.dann_progress(), self.dann.weight, self.dann.schedule, self.dann.gamma)
        self.train_forwards += 1
        index = [CORPORA.index(c) for c in corpora]
        loss, predicted = corpus_loss(self.corpus_head, embedding, index, lam)
        records["corpus_loss"].append(loss.item())
        records["corpus_correct"] += (predicted.cpu() == torch.tensor(index)).tolist()
        records["dann_lambda"].append(lam)
        return loss

    def inference(self, features: List[Tensor], filenames: Sequence[str]) -> None:
        """The runner's ``-m inference -t FILE``: print and append ``FILE label p_neu p_hap p_ang p_sad``."""
        with torch.no_grad():
            probabilities = torch.softmax(self.logits(features), dim=-1).cpu()
        lines = [f"{name} {LABELS[int(p.argmax())]} " + " ".join(f"{x:.4f}" for x in p.tolist())
                 for name, p in zip(filenames, probabilities)]
        tqdm.write("\n".join(lines))
        with open(self.expdir / "inference.txt", "a") as handle:
            handle.write("\n".join(lines) + "\n")

    # ---- logging, selection, outputs ----------------------------------------------------------
    def log_records(self, split: str, records: Dict[str, list], logger: Any, global_step: int,
                    **kwargs: Any) -> List[str]:
        """Log UAR/WA/macro-F1 (overall and per corpus); return ["dev-best.ckpt"] when dev UAR improves."""
        if not records["truth"]:
            return []
        summary = uar_summary(records["truth"], records["predict"], records["corpus"])
        loss = float(torch.tensor(records["loss"]).mean())
        logger.add_scalar(f"crosscorpus_emotion/{split}-loss", loss, global_step=global_step)
        lines = []
        for group, metrics in summary.items():
            prefix = split if group == "all" else f"{split}-{group}"
            for key in ("uar", "wa", "macro_f1"):
                logger.add_scalar(f"crosscorpus_emotion/{prefix}-{key}", metrics[key], global_step=global_step)
            lines.append(f"{prefix} at step {self._step_name(global_step)}: uar {metrics['uar']:.4f} wa {metrics['wa']:.4f} "
                         f"macro_f1 {metrics['macro_f1']:.4f} n {metrics['n']}")
        lines[0] += f" loss {loss:.4f}"
        if records.get("corpus_correct"):
            dann = {"corpus_acc": float(np.mean(records["corpus_correct"])),
                    "corpus_loss": float(np.mean(records["corpus_loss"])), "dann_lambda": records["dann_lambda"][-1]}
            for key, value in dann.items():
                logger.add_scalar(f"crosscorpus_emotion/{split}-{key}", value, global_step=global_step)
            lines[0] += " " + " ".join(f"{key} {value:.4f}" for key, value in dann.items())

        save_names = []
        training = self.run_args.get("mode") == "train"
        if split == "dev" and training and summary["all"]["uar"] > self.best["uar"]:
            self.best = {"uar": summary["all"]["uar"], "step": int(global_step),
                         "per_corpus": {c: m["uar"] for c, m in summary.items() if c != "all"}
                         or {self.split.train_corpora[0]: summary["all"]["uar"]},
                         "train_seconds": time.time() - self._started,
                         "dev_classes": sorted(set(records["predict"]))}
            lines.append(f"new best dev uar at step {global_step}: {summary['all']['uar']:.4f}")
            save_names.append(BEST_CKPT)
        self._log(lines)

        if split in ("dev", "test"):
            self._write_superb_files(split, records)
        if split == "test" and not training:
            self._write_results(records)
        return save_names

    def _step_name(self, global_step: int) -> str:
        """The runner passes step 0 when it evaluates a checkpoint: name the checkpoint's own step instead."""
        if self.run_args.get("mode") == "train":
            return str(global_step)
        return f"{self.best.get('step', global_step)} (the evaluated checkpoint)"

    def _log(self, lines: Sequence[str]) -> None:
        for line in lines:
            tqdm.write(f"[{DOWNSTREAM}] {line}")
        with open(self.expdir / "log.log", "a") as handle:
            handle.write("".join(line + "\n" for line in lines))

    def _write_superb_files(self, split: str, records: Mapping[str, list]) -> None:
        """``<split>_fold<k>_predict.txt`` and ``_truth.txt``: lines ``<utt_id> <label>``."""
        for kind in ("predict", "truth"):
            path = self.expdir / f"{split}_fold{self.split.fold}_{kind}.txt"
            with atomic_open(path, "w") as handle:
                handle.writelines(f"{utt} {label}\n" for utt, label in zip(records["id"], records[kind]))

    def results_dir(self) -> Path:
        return Path(self.expert_config.get("results_dir") or self.expdir / "results")

    def system(self) -> str:
        upstream = upstream_label(str(self.run_args.get("upstream")), self.run_args.get("upstream_ckpt"))
        name = dnn_system_name(upstream, self.model.head_name, self.expert_config.get("system_name"),
                               variant_tags(self.settings.normalisation, self.dann.enabled)
                               + layers_tag(parse_layers(self.modelrc.get("layers")))
                               + (self.augment.tags if self.augment else ()))
        # Also under a given system_name: degraded results never land in the clean system's cells.
        return add_tags(name, augment_tags(degrade=self.test_degrade.short())) if self.test_degrade else name

    def _write_results(self, records: Mapping[str, list]) -> List[Path]:
        """One shared-schema result per test corpus of the split, from the evaluated checkpoint."""
        if sorted(records["id"]) != sorted(self.split.test):
            raise RuntimeError(f"evaluated {len(records['id'])} test utterances but the split has "
                               f"{len(self.split.test)}; keep runner.evaluate_ratio at 1 to write results")
        rows = defaultdict(list)
        for k, corpus in enumerate(records["corpus"]):
            rows[corpus].append(k)
        seconds = time.time() - self._eval_started.get("test", time.time())
        warnings = degenerate_warnings(self.best["uar"], len(self.split.dev), self.best.get("dev_classes", LABELS))
        warnings += spec_warnings(self.augment.spec if self.augment else None)  # pitch carries emotion
        self._log([f"WARNING: {w}; the result is marked" for w in warnings])
        written = []
        for corpus in self.split.test_corpora:
            picked = rows[corpus]
            result = make_result(
                system=self.system(), family="dnn", features=str(self.run_args.get("upstream")),
                head=self.model.head_name, split=self.split, test_corpus=corpus, seed=self.settings.seed,
                hyperparameters=self._hyperparameters(), dev_uar=max(self.best["uar"], 0.0),
                ids=[records["id"][k] for k in picked], labels=[records["truth"][k] for k in picked],
                predictions=[records["predict"][k] for k in picked],
                # the manifest's speakers (as the SVM's results): a registry or own corpus's ids do not name them
                speakers=[self.speaker_of[records["id"][k]] for k in picked] if self.speaker_of else None,
                probabilities=[records["probabilities"][k] for k in picked],
                timings={"train_seconds_to_best": float(self.best.get("train_seconds", 0.0)),
                         "test_seconds": seconds},
                excluded=self._excluded_for(corpus),
                versions=package_versions("torch", "torchaudio", "s3prl"), config=self._run_config(),
                warnings=warnings, init_seed=self.init_seed)
            result["dev"].update(step=int(self.best["step"]), per_corpus=dict(self.best.get("per_corpus", {})))
            path = path_of(self.results_dir(), result)
            written.append(write_result(path, result))
            self._log([f"wrote {path} (test uar {result['metrics']['uar']:.4f})"])
        return written

    def _excluded_for(self, corpus: str) -> List[Dict[str, str]]:
        """Excluded files of this result: those of train and dev and of ``corpus``'s test set (as the SVM's)."""
        return [{"path": e.utterance.path, "reason": e.reason} for _, e in sorted(self.excluded.items())
                if e.set != "test" or e.utterance.corpus == corpus]

    def _hyperparameters(self) -> dict:
        runner = self.run_args.get("runner", {})
        datarc = self.expert_config["datarc"]
        return {
            "step": int(self.best["step"]), "total_steps": runner.get("total_steps"),
            "upstream": self.run_args.get("upstream"),
            "feature_selection": self.run_args.get("upstream_feature_selection"),
            "upstream_trainable": bool(self.run_args.get("upstream_trainable")),
            "modelrc": effective_modelrc(self.modelrc), "optimizer": self.run_args.get("optimizer"),
            "train_batch_size": datarc.get("train_batch_size"),
            "gradient_accumulate_steps": runner.get("gradient_accumulate_steps"),
            "balance": self.settings.balance, "init_seed": self.init_seed,
            "normalisation": self.settings.normalisation,
            "transductive": is_transductive(self.settings.normalisation), "dann": self.dann.record(),
        }

    def _run_config(self) -> dict:
        ckpt = self.run_args.get("upstream_ckpt")
        config = {"data_dir": self.settings.data_dir, "corpora": list(self.pool),
                  "manifest_sha256": manifest_digest(Path(self.settings.data_dir)),  # what the result was made from
                  "expdir": str(self.expdir), "checkpoint": self.run_args.get("init_ckpt"),
                  "upstream": self.run_args.get("upstream"), "upstream_ckpt": ckpt}
        sha256, revision = checkpoint_identity(str(self.run_args.get("upstream")), ckpt)
        if sha256:
            config["upstream_ckpt_sha256"] = sha256
        if revision:
            config["upstream_revision"] = revision
        if self.run_args.get("upstream") in HF_UPSTREAMS and ckpt:
            config["upstream_feature_extractor"] = hf_feature_extractor(str(ckpt), self.run_args.get("upstream"))
        if self.augment is not None:
            config["augment"] = self.augment.record()
        if self.test_degrade is not None:
            config["test_degrade"] = {**self.test_degrade.provenance(), "seed": self.settings.seed}
        return config
