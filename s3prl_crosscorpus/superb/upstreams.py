"""Upstreams built exactly as s3prl's runner builds them, and the Hugging Face upstreams this plugin adds.

:func:`build_upstream` is ``getattr(s3prl.hub, NAME)(ckpt=...)``, the call of s3prl's
``Runner._get_upstream``, so features computed here (extraction, inference) equal the runner's.

Hugging Face speech encoders as s3prl upstreams: ``-u hf_hubert_custom | hf_wav2vec2_custom |
hf_wavlm_custom | hf_data2vec_audio_custom -k HUB_ID_OR_FOLDER``.

s3prl 0.4.18 has ``hf_hubert_custom`` and ``hf_wav2vec2_custom`` but no WavLM nor data2vec, and
its two wrap the feature-extractor loading in a bare ``except`` that downloads
``facebook/hubert-base-ls960``'s extractor instead (a network call, a traceback offline, and
possibly the wrong normalisation). The classes here keep s3prl's forward (the same inputs,
``output_hidden_states``, all hidden states) and differ in loading only:

- ``-k`` is a folder made by ``save_pretrained`` or a hub id (resolved to its snapshot in the
  Hugging Face cache; offline, ``HF_HUB_OFFLINE=1`` uses that cache);
- the folder must hold a model of the upstream's class (``config.json`` ``model_type``) and every
  weight of it: a WavLM folder under ``hf_hubert_custom`` would otherwise load half random;
- without ``preprocessor_config.json`` the standard extractor is used (16 kHz, zero mean / unit
  variance per utterance) and a warning says so; nothing is fetched from the network unasked;
- :attr:`HFUpstream.weights_sha256` (the weight files' hash) and :attr:`HFUpstream.revision` (the
  hub commit) identify the checkpoint, e.g. in a feature cache's key.

The classes are registered in ``s3prl.hub`` under these names by :mod:`.registration` (in this
process only; nothing is written into s3prl's package).
"""
import hashlib
import logging
import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Type

import numpy as np
import s3prl.hub as hub
import torch
from torch import Tensor, nn
from transformers import (Data2VecAudioModel, HubertModel, PreTrainedModel, Wav2Vec2FeatureExtractor, Wav2Vec2Model,
                          WavLMModel)

from ..core.io_utils import read_json, sha256_file
from .dataset import ConfigError

logger = logging.getLogger(__name__)


class UpstreamError(ConfigError):
    """An upstream that cannot be built: unknown name, missing checkpoint, failed download, wrong model."""


def build_upstream(name: str, ckpt: Optional[str] = None, model_config: Optional[str] = None,
                   device: str = "cpu") -> nn.Module:
    """``getattr(s3prl.hub, name)(ckpt=..., model_config=..., refresh=False)`` on ``device``, in eval mode.

    The same call as s3prl's ``Runner._get_upstream``, so that features computed here equal the
    runner's. Raises :class:`UpstreamError` with the upstream and checkpoint named.
    """
    if not hasattr(hub, name):
        raise UpstreamError(f"unknown s3prl upstream {name!r}; see s3prl.hub.options() for the names")
    try:
        upstream = getattr(hub, name)(ckpt=ckpt, model_config=model_config, refresh=False)
    except UpstreamError:
        raise
    except Exception as err:  # s3prl raises anything from a failed download to a bad checkpoint
        raise UpstreamError(f"cannot build s3prl upstream {name!r}{f' from {ckpt}' if ckpt else ''}: {err!r}; "
                            "without a network use a local checkpoint (e.g. -u hubert_local -k FILE)") from err
    return upstream.to(device).eval()


def hidden_states(output: dict) -> List[Tensor]:
    """The ``hidden_states`` entry as a list of [B, T, D] tensors (s3prl Featurizer's selection rules)."""
    feature = output["hidden_states"]
    if isinstance(feature, dict):
        feature = list(feature.values())
    if not isinstance(feature, (list, tuple)):
        feature = [feature]
    return list(feature)


# --------------------------------------------------------------------------- Hugging Face

SAMPLE_RATE = 16000
PREPROCESSOR = "preprocessor_config.json"
#: How results and cache headers name the extractor used when a checkpoint has no PREPROCESSOR.
STANDARD_EXTRACTOR = "standard (16 kHz, zero mean, unit variance)"
#: Weight files in the order transformers prefers them: (single file, index of a sharded checkpoint).
WEIGHT_FORMATS = (("model.safetensors", "model.safetensors.index.json"),
                  ("pytorch_model.bin", "pytorch_model.bin.index.json"))
#: Parameters a checkpoint may lack without changing the features (used only for masking in training).
OPTIONAL_WEIGHTS = ("masked_spec_embed",)


class HFSource:
    """Where a ``-k`` value's files are: a local folder, or a hub id's snapshot in the Hugging Face cache."""

    def __init__(self, ckpt: str):
        self.ckpt = str(ckpt)
        local = Path(self.ckpt).expanduser()
        if local.is_dir():
            self.folder, self.hub_id, self.revision = local.resolve(), None, None
        else:
            self.hub_id = self.ckpt
            self.folder, self.revision = resolve_hub_id(self.ckpt)

    def describe(self) -> str:
        if self.hub_id is None:
            return f"folder {self.folder}"
        return f"{self.hub_id} (revision {self.revision})"


def resolve_hub_id(hub_id: str) -> Tuple[Path, str]:
    """(snapshot folder, commit) of a hub id, fetching its configs; offline, from the local cache only."""
    from huggingface_hub import snapshot_download

    try:
        folder = Path(snapshot_download(hub_id, allow_patterns=["config.json", PREPROCESSOR, "*.index.json"]))
    except Exception as err:  # huggingface_hub raises validation, HTTP, offline and cache-miss errors
        raise UpstreamError(
            f"-k {hub_id}: not a local folder, and not a Hugging Face hub id that can be resolved "
            f"({type(err).__name__}: {err}); without a network use a folder made by save_pretrained, or a "
            "model already in the Hugging Face cache (HF_HUB_OFFLINE=1)") from None
    return folder, folder.name


def weight_files(folder: Path) -> List[Path]:
    """The weight files transformers loads from ``folder`` (safetensors first), index file first when sharded."""
    for single, index in WEIGHT_FORMATS:
        if (folder / single).is_file():
            return [folder / single]
        if (folder / index).is_file():
            shards = sorted(set(read_json(folder / index)["weight_map"].values()))
            return [folder / index] + [folder / name for name in shards]
    return []


_HASHES: Dict[Tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of a file, remembered per path, size and modification time (weights are large)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = sha256_file(path)
    return _HASHES[key]


def weights_sha256(folder: Path) -> Optional[str]:
    """Hash of the weight files: the file's sha256 when there is one (as the hub shows it), else the
    sha256 of their ``sha256sum``-style listing; None when the folder holds no weights."""
    files = weight_files(folder)
    if not files:
        return None
    if len(files) == 1:
        return file_sha256(files[0])
    listing = "".join(f"{file_sha256(path)}  {path.name}\n" for path in files)
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


def default_extractor() -> Wav2Vec2FeatureExtractor:
    """The standard wav2vec2-family input: 16 kHz mono, each utterance to zero mean and unit variance."""
    return Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0, do_normalize=True,
                                    return_attention_mask=True)


class HFUpstream(nn.Module):
    """A transformers speech encoder as an s3prl upstream (the interface of s3prl's ``hf_hubert`` expert)."""

    #: The transformers class a ``-k`` checkpoint must hold; set by each registered subclass.
    model_class: Type[PreTrainedModel] = PreTrainedModel
    name = "hf_custom"

    def __init__(self, ckpt: str, **kwargs):
        super().__init__()
        if not ckpt:
            raise UpstreamError(f"-u {self.name} needs -k: a hub id (e.g. microsoft/wavlm-large) or a folder "
                                "made by save_pretrained")
        self.source = HFSource(ckpt)
        self.check_model_type()
        self.extracter, self.feature_extractor = self.load_extractor()
        self.model = self.load_model()
        self.weights_sha256 = weights_sha256(self.source.folder)
        self.revision = self.source.revision

    def check_model_type(self) -> None:
        """Refuse a checkpoint of another model class (it would load with random weights)."""
        config_path = self.source.folder / "config.json"
        if not config_path.is_file():
            raise UpstreamError(f"{self.source.describe()}: no config.json (not a transformers model folder)")
        found, expected = read_json(config_path).get("model_type"), self.model_class.config_class.model_type
        if found != expected:
            hint = next((f"; use -u {name}" for name, cls in HF_UPSTREAMS.items()
                         if cls.model_class.config_class.model_type == found), "")
            raise UpstreamError(f"{self.source.describe()} holds a {found!r} model, not the {expected!r} model "
                                f"that -u {self.name} loads{hint}")

    def load_extractor(self) -> Tuple[Wav2Vec2FeatureExtractor, str]:
        """(extractor, where it came from): the checkpoint's ``preprocessor_config.json``, else the standard one."""
        if (self.source.folder / PREPROCESSOR).is_file():
            return Wav2Vec2FeatureExtractor.from_pretrained(str(self.source.folder)), PREPROCESSOR
        logger.warning(f"{self.source.describe()} has no {PREPROCESSOR}: using the standard feature extractor "
                       f"({SAMPLE_RATE} Hz, zero mean and unit variance per utterance); if the model was "
                       "trained on raw waveforms (e.g. HuBERT base, do_normalize false), add its "
                       f"{PREPROCESSOR} to the folder")
        return default_extractor(), STANDARD_EXTRACTOR

    def load_model(self) -> PreTrainedModel:
        """The model in eval mode, refusing a checkpoint that leaves weights randomly initialised."""
        where = str(self.source.folder) if self.source.hub_id is None else self.source.hub_id
        kwargs = {} if self.source.hub_id is None else {"revision": self.source.revision}
        try:
            model, info = self.model_class.from_pretrained(where, output_loading_info=True, **kwargs)
        except (OSError, ValueError) as err:
            raise UpstreamError(f"cannot load {self.model_class.__name__} from {self.source.describe()}: {err}") \
                from err
        wrong = sorted(k for k in info["missing_keys"] if not k.endswith(OPTIONAL_WEIGHTS))
        wrong += sorted(str(k) for k in info.get("mismatched_keys") or ())
        if wrong:
            raise UpstreamError(f"{self.source.describe()}: {len(wrong)} weights of {self.model_class.__name__} "
                                f"are missing or mismatched (first: {wrong[0]}); they would be random")
        return model.eval()

    @property
    def num_layers(self) -> int:
        """Hidden states returned: the transformer layers plus the convolutional features."""
        return int(self.model.config.num_hidden_layers) + 1

    def describe(self) -> dict:
        """What the features depend on, for cache headers and results."""
        return {"model": self.model_class.__name__, "source": self.source.hub_id or str(self.source.folder),
                "revision": self.revision, "weights_sha256": self.weights_sha256,
                "feature_extractor": self.feature_extractor, "hidden_states": self.num_layers,
                "hidden_size": int(self.model.config.hidden_size)}

    def get_downsample_rates(self, key: str = None) -> int:
        return int(np.prod(self.model.config.conv_stride))

    def forward(self, wavs: List[torch.Tensor]) -> dict:
        # s3prl's hf_hubert / hf_wav2vec2 forward, unchanged: per-utterance normalisation, padded batch
        device = wavs[0].device
        inputs = self.extracter([wav.detach().cpu().numpy() for wav in wavs], return_tensors="pt", padding=True,
                                return_attention_mask=True, sampling_rate=SAMPLE_RATE).to(device)
        outputs = self.model(**inputs, output_hidden_states=True)
        return {"hidden_states": outputs.hidden_states}


class HFHubert(HFUpstream):
    """``-u hf_hubert_custom``: transformers ``HubertModel`` (e.g. facebook/hubert-large-ll60k)."""

    model_class, name = HubertModel, "hf_hubert_custom"


class HFWav2Vec2(HFUpstream):
    """``-u hf_wav2vec2_custom``: transformers ``Wav2Vec2Model`` (e.g. facebook/wav2vec2-large-robust)."""

    model_class, name = Wav2Vec2Model, "hf_wav2vec2_custom"


class HFWavLM(HFUpstream):
    """``-u hf_wavlm_custom``: transformers ``WavLMModel`` (e.g. microsoft/wavlm-large); s3prl has none."""

    model_class, name = WavLMModel, "hf_wavlm_custom"


class HFData2VecAudio(HFUpstream):
    """``-u hf_data2vec_audio_custom``: transformers ``Data2VecAudioModel`` (e.g. facebook/data2vec-audio-base)."""

    model_class, name = Data2VecAudioModel, "hf_data2vec_audio_custom"


#: s3prl upstream name -> class, registered in ``s3prl.hub`` (the first two replace s3prl's own).
HF_UPSTREAMS: Dict[str, Type[HFUpstream]] = {cls.name: cls for cls in (HFHubert, HFWav2Vec2, HFWavLM, HFData2VecAudio)}


def hf_local_folder(ckpt: str) -> Optional[Path]:
    """The local files of a Hugging Face ``-k``: the folder, or a hub id's snapshot already in the cache
    (no network); None when they are not here."""
    local = Path(ckpt).expanduser()
    if local.is_dir():
        return local
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(ckpt, local_files_only=True))
    except Exception:  # not cached, or not a hub id at all
        return None


def hf_checkpoint_identity(ckpt: str) -> Tuple[Optional[str], Optional[str]]:
    """(weights sha256, revision) of a Hugging Face ``-k`` from its local files; (None, None) when not here."""
    folder = hf_local_folder(ckpt)
    if folder is None:
        return None, None
    return weights_sha256(folder), (None if Path(ckpt).expanduser().is_dir() else folder.name)


def hf_feature_extractor(ckpt: str) -> Optional[str]:
    """Which feature extractor an ``hf_*`` upstream uses for ``ckpt`` (as :attr:`HFUpstream.feature_extractor`)."""
    folder = hf_local_folder(ckpt)
    if folder is None:
        return None
    return PREPROCESSOR if (folder / PREPROCESSOR).is_file() else STANDARD_EXTRACTOR


def checkpoint_identity(name: str, ckpt: Optional[str]) -> Tuple[Optional[str], Optional[str]]:
    """(sha256, revision) of an upstream's ``-k``: the file's hash, a Hugging Face model's weights hash and
    hub commit, or None where there is nothing local to hash (no ``-k``, a URL, a hub id not downloaded)."""
    if not ckpt:
        return None, None
    if name in HF_UPSTREAMS:
        return hf_checkpoint_identity(str(ckpt))
    return (sha256_file(ckpt), None) if Path(str(ckpt)).is_file() else (None, None)


# --------------------------------------------------------------------------- names

#: Hugging Face hub ids -> the upstream's name in system names (that of the same model in s3prl's hub).
HF_DISPLAY: Dict[str, str] = {
    "facebook/hubert-base-ls960": "HuBERT", "facebook/hubert-large-ll60k": "HuBERT-Large",
    "microsoft/wavlm-base": "WavLM-Base", "microsoft/wavlm-base-plus": "WavLM-Base+",
    "microsoft/wavlm-large": "WavLM-Large", "facebook/wav2vec2-base": "wav2vec2",
    "facebook/wav2vec2-large-robust": "wav2vec2-Large-Robust", "facebook/data2vec-audio-base": "data2vec",
    "facebook/data2vec-audio-large": "data2vec-Large",
}
#: Model family of each Hugging Face upstream, the prefix of a folder name that does not say it.
HF_FAMILY: Dict[str, str] = {"hf_hubert_custom": "HuBERT", "hf_wav2vec2_custom": "wav2vec2",
                             "hf_wavlm_custom": "WavLM", "hf_data2vec_audio_custom": "data2vec"}


def upstream_label(name: str, ckpt: Optional[str] = None) -> str:
    """The upstream part of a system name: s3prl's name (``core.names`` turns it into e.g. ``HuBERT``), or
    for a Hugging Face upstream the model its ``-k`` holds: a known hub id (or a folder named like one)
    by its model (``WavLM-Large``), any other folder or repository by its name, prefixed with the model
    family unless the name says it (``WavLM-my_finetune``)."""
    if name not in HF_UPSTREAMS or not ckpt:
        return name
    text = str(ckpt).rstrip("/")
    base = Path(text).name
    by_repo = {hub_id.split("/")[-1]: label for hub_id, label in HF_DISPLAY.items()}
    known = HF_DISPLAY.get(text.lower()) or by_repo.get(base.lower())
    if known:
        return known
    label = re.sub(r"[^A-Za-z0-9._+-]+", "_", base).strip("._") or "model"
    family = HF_FAMILY[name]
    return label if family.lower() in re.sub(r"[-_]", "", label.lower()) else f"{family}-{label}"
