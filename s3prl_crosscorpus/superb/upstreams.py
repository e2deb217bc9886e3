"""Upstreams built exactly as s3prl's runner builds them, and the Hugging Face upstreams this plugin adds.

:func:`build_upstream` is ``getattr(s3prl.hub, NAME)(ckpt=...)``, the call of s3prl's
``Runner._get_upstream``, so features computed here (extraction, inference) equal the runner's.

Hugging Face speech encoders as s3prl upstreams: ``-u hf_hubert_custom | hf_wav2vec2_custom |
hf_wavlm_custom | hf_data2vec_audio_custom | hf_whisper_custom | hf_whisper_trim_custom | hf_auto
-k HUB_ID_OR_FOLDER``. Whisper's encoder reads 30 s of log-mel frames: ``hf_whisper_custom`` pads every
utterance (each 30 s chunk of a longer one) to 30 s as Whisper does and keeps the hidden states of the
real frames; ``hf_whisper_trim_custom`` cuts the input and the positional embeddings to the utterance
(faster, not identical). ``hf_auto`` takes any transformers audio encoder that returns hidden states.

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
  hub commit) identify the checkpoint, :attr:`HFUpstream.frontend_sha256` its feature extractor's
  settings (both are in a feature cache's key).

The classes are registered in ``s3prl.hub`` under these names by :mod:`.registration` (in this
process only; nothing is written into s3prl's package).
"""
import hashlib
import inspect
import json
import logging
import math
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple, Type

import numpy as np
import s3prl.hub as hub
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pad_sequence
from transformers import (AutoFeatureExtractor, AutoModel, Data2VecAudioModel, HubertModel,
                          PreTrainedModel, Wav2Vec2FeatureExtractor, Wav2Vec2Model, WavLMModel,
                          WhisperFeatureExtractor, WhisperModel)

from ..core.io_utils import read_json, sha256_file
from ..core.names import HF_DISPLAY, HF_FAMILY, upstream_label  # noqa: F401  (re-exported)
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


#: Feature-extractor settings that do not change the features (left out of the front-end hash).
FRONTEND_IGNORED = ("processor_class", "feature_extractor_type", "return_attention_mask", "padding_side")


def frontend_sha256(extractor: Any) -> str:
    """sha256 of a feature extractor's settings (canonical JSON): the front end's part of a cache key."""
    settings = {k: v for k, v in extractor.to_dict().items() if k not in FRONTEND_IGNORED}
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode("utf-8")).hexdigest()


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
        self.frontend_sha256 = frontend_sha256(self.extracter)
        self.revision = self.source.revision

    def check_model_type(self) -> None:
        """Refuse a checkpoint of another model class (it would load with random weights)."""
        config_path = self.source.folder / "config.json"
        if not config_path.is_file():
            raise UpstreamError(f"{self.source.describe()}: no config.json (not a transformers model folder)")
        found, expected = read_json(config_path).get("model_type"), self.model_class.config_class.model_type
        if found != expected:
            hint = next((f"; use -u {name}" for name, cls in HF_UPSTREAMS.items()
                         if getattr(getattr(cls.model_class, "config_class", None), "model_type", None) == found), "")
            raise UpstreamError(f"{self.source.describe()} holds a {found!r} model, not the {expected!r} model "
                                f"that -u {self.name} loads{hint}")

    def load_extractor(self) -> Tuple[Any, str]:
        """(extractor, where it came from): the checkpoint's ``preprocessor_config.json``, else the standard one."""
        extractor, origin = self.make_extractor(self.source.folder)
        if origin != PREPROCESSOR:
            logger.warning(f"{self.source.describe()} has no {PREPROCESSOR}: using {self.default_used}"
                           f"{self.default_hint}")
        return extractor, origin

    #: The warning when a folder has no PREPROCESSOR: what is used instead, and what to do.
    default_used = f"the standard feature extractor ({SAMPLE_RATE} Hz, zero mean and unit variance per utterance)"
    default_hint = ("; if the model was trained on raw waveforms (e.g. HuBERT base, do_normalize false), add its "
                    f"{PREPROCESSOR} to the folder")

    #: What reads a folder's ``PREPROCESSOR`` (hf_auto: the class the file names).
    extractor_class: Any = Wav2Vec2FeatureExtractor
    #: What ``from_pretrained`` raises for a folder it cannot load (AutoModel: KeyError for an unknown model type).
    load_errors: Tuple[Type[Exception], ...] = (OSError, ValueError)

    @classmethod
    def make_extractor(cls, folder: Path) -> Tuple[Any, str]:
        """(extractor, origin) of a model folder, without a warning: its ``PREPROCESSOR`` or the standard one."""
        if (Path(folder) / PREPROCESSOR).is_file():
            return cls.extractor_class.from_pretrained(str(folder)), PREPROCESSOR
        return default_extractor(), STANDARD_EXTRACTOR

    def load_weights(self) -> PreTrainedModel:
        """``model_class.from_pretrained`` of the source, refusing a checkpoint that leaves weights randomly
        initialised (missing, or of another shape)."""
        where = str(self.source.folder) if self.source.hub_id is None else self.source.hub_id
        kwargs = {} if self.source.hub_id is None else {"revision": self.source.revision}
        try:
            model, info = self.model_class.from_pretrained(where, output_loading_info=True, **kwargs)
        except self.load_errors as err:
            raise UpstreamError(f"cannot load {self.model_class.__name__} from {self.source.describe()}: {err}") \
                from err
        wrong = sorted(k for k in info["missing_keys"] if not k.endswith(OPTIONAL_WEIGHTS))
        wrong += sorted(str(k) for k in info.get("mismatched_keys") or ())
        if wrong:
            raise UpstreamError(f"{self.source.describe()}: {len(wrong)} weights of {type(model).__name__} "
                                f"are missing or mismatched (first: {wrong[0]}); they would be random")
        return model

    def load_model(self) -> PreTrainedModel:
        """The model in eval mode (see :meth:`load_weights`)."""
        return self.load_weights().eval()

    @property
    def num_layers(self) -> int:
        """Hidden states returned: the transformer layers plus the convolutional features."""
        return int(self.model.config.num_hidden_layers) + 1

    def describe(self) -> dict:
        """What the features depend on, for cache headers and results."""
        return {"model": self.model_class.__name__, "source": self.source.hub_id or str(self.source.folder),
                "revision": self.revision, "weights_sha256": self.weights_sha256,
                "feature_extractor": self.feature_extractor, "frontend_sha256": self.frontend_sha256,
                "frontend": {k: v for k, v in self.extracter.to_dict().items() if k not in FRONTEND_IGNORED},
                "hidden_states": self.num_layers, "hidden_size": self.hidden_size}

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

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


# --------------------------------------------------------------------------- Whisper

#: How results and cache headers name the extractor of a Whisper folder without PREPROCESSOR.
WHISPER_STANDARD_EXTRACTOR = "standard Whisper log-mel (16 kHz, 25 ms window, 10 ms hop, 30 s chunks)"


class HFWhisper(HFUpstream):
    """``-u hf_whisper_custom``: the encoder of transformers' ``WhisperModel`` (e.g. openai/whisper-large-v3).

    Exact by default, as Whisper itself: each utterance is cut into 30 s chunks (the extractor's
    ``chunk_length``), each chunk padded to 30 s and turned into log-mel frames by the folder's
    ``WhisperFeatureExtractor``, and of the encoder's hidden states (input embedding + every layer,
    the last after the final layer norm) the ``ceil(samples / 320)`` frames of real audio are kept.
    """

    model_class, name = WhisperModel, "hf_whisper_custom"
    #: Cut the input and the positional embeddings to the utterance instead of padding to 30 s.
    trim = False
    default_used = f"the standard Whisper log-mel extractor ({WHISPER_STANDARD_EXTRACTOR.split('(')[1]}"
    default_hint = ("; the folder's model must match it (the number of mel bins, e.g. 128 for large-v3): add the "
                    f"model's {PREPROCESSOR} to the folder")

    @classmethod
    def make_extractor(cls, folder: Path) -> Tuple[WhisperFeatureExtractor, str]:
        if (Path(folder) / PREPROCESSOR).is_file():
            return WhisperFeatureExtractor.from_pretrained(str(folder)), PREPROCESSOR
        mel_bins = int(read_json(Path(folder) / "config.json").get("num_mel_bins", 80))
        return WhisperFeatureExtractor(feature_size=mel_bins), WHISPER_STANDARD_EXTRACTOR

    def load_model(self) -> PreTrainedModel:
        """The encoder only (the decoder is dropped), checked against the feature extractor."""
        model = super().load_model()
        config, fe = model.config, self.extracter
        problems = []
        if fe.feature_size != config.num_mel_bins:
            problems.append(f"the feature extractor makes {fe.feature_size} mel bins, the model reads "
                            f"{config.num_mel_bins}")
        if fe.nb_max_frames != 2 * config.max_source_positions:
            problems.append(f"a {fe.chunk_length} s chunk is {fe.nb_max_frames} mel frames, the encoder reads "
                            f"{2 * config.max_source_positions}")
        if fe.sampling_rate != SAMPLE_RATE:
            problems.append(f"the feature extractor expects {fe.sampling_rate} Hz audio, not {SAMPLE_RATE} Hz")
        if problems:
            raise UpstreamError(f"{self.source.describe()}: {'; '.join(problems)}: its {PREPROCESSOR} does not "
                                "belong to this model")
        model.decoder = None  # only the encoder is used; frees its memory
        return model

    @property
    def num_layers(self) -> int:
        return int(self.model.config.encoder_layers) + 1

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.d_model)

    def get_downsample_rates(self, key: str = None) -> int:
        return int(self.extracter.hop_length) * 2  # the encoder's second convolution has stride 2

    def chunks(self, wav: Tensor) -> List[np.ndarray]:
        """The utterance's consecutive chunks of at most ``chunk_length`` seconds."""
        samples = wav.detach().float().cpu().numpy()
        size = int(self.extracter.n_samples)
        return [samples[start:start + size] for start in range(0, max(len(samples), 1), size)]

    def frames(self, num_samples: int) -> int:
        """Encoder frames that hold real audio: one per started 320 samples."""
        return max(1, math.ceil(num_samples / self.get_downsample_rates()))

    def encode(self, chunks: List[np.ndarray], device: torch.device) -> List[List[Tensor]]:
        """Per chunk, its hidden states (each ``[frames, D]``)."""
        if self.trim:
            return [self.encode_trimmed(chunk, device) for chunk in chunks]
        inputs = self.extracter(chunks, sampling_rate=SAMPLE_RATE, return_tensors="pt")  # each padded to 30 s
        hidden = self.model.encoder(inputs["input_features"].to(device), output_hidden_states=True).hidden_states
        return [[h[k, :self.frames(len(chunk))] for h in hidden] for k, chunk in enumerate(chunks)]

    def encode_trimmed(self, chunk: np.ndarray, device: torch.device) -> List[Tensor]:
        """Hidden states of one chunk run alone, cut to its length (the positional embeddings too)."""
        inputs = self.extracter(chunk, sampling_rate=SAMPLE_RATE, return_tensors="pt", padding="longest",
                                pad_to_multiple_of=self.get_downsample_rates())
        features = inputs["input_features"].to(device)
        with trimmed_positions(self.model.encoder, features.shape[-1] // 2):
            hidden = self.model.encoder(features, output_hidden_states=True).hidden_states
        return [h[0, :self.frames(len(chunk))] for h in hidden]

    def forward(self, wavs: List[torch.Tensor]) -> dict:
        device = wavs[0].device
        pieces = [self.chunks(wav) for wav in wavs]
        encoded = self.encode([chunk for chunks in pieces for chunk in chunks], device)
        per_wav, start = [], 0
        for chunks in pieces:
            parts = encoded[start:start + len(chunks)]
            start += len(chunks)
            per_wav.append([torch.cat([part[layer] for part in parts]) for layer in range(len(parts[0]))])
        hidden = [pad_sequence([layers[k] for layers in per_wav], batch_first=True) for k in range(len(per_wav[0]))]
        return {"hidden_states": hidden}


@contextmanager
def trimmed_positions(encoder: nn.Module, positions: int) -> Iterator[None]:
    """Let transformers' ``WhisperEncoder`` run on ``positions`` frames: its length check and positional
    embeddings see only the first ``positions`` (the weights are shared, not copied); restored on exit."""
    config, embedding = encoder.config, encoder.embed_positions
    full = config.max_source_positions
    if positions > full:
        raise ValueError(f"{positions} frames are more than the encoder's {full} positions")
    encoder.embed_positions = nn.Embedding.from_pretrained(embedding.weight[:positions], freeze=True)
    config.max_source_positions = positions
    try:
        yield
    finally:
        encoder.embed_positions, config.max_source_positions = embedding, full


class HFWhisperTrim(HFWhisper):
    """``-u hf_whisper_trim_custom``: Whisper's encoder on the utterance alone, no padding to 30 s (faster;
    the features differ from the exact ones, see the README)."""

    name, trim = "hf_whisper_trim_custom", True


# --------------------------------------------------------------------------- any audio encoder

#: The inputs an audio encoder's feature extractor makes: raw samples, or spectrogram-like frames.
AUDIO_INPUTS = ("input_values", "input_features")
#: Model types that have their own upstream (a reason hf_auto would be wrong for them).
OWN_UPSTREAM = {"whisper": "hf_whisper_custom (Whisper's encoder needs 30 s inputs)"}


class HFAuto(HFUpstream):
    """``-u hf_auto``: any transformers audio encoder that returns hidden states (``AutoModel``; the encoder
    of an encoder-decoder model). Its feature extractor is the folder's ``preprocessor_config.json``
    (required unless the model reads raw samples); layers, width and frame rate are measured on 1 s
    and 2 s of silence, and a model whose output has no hidden states is refused."""

    name = "hf_auto"

    def check_model_type(self) -> None:
        config_path = self.source.folder / "config.json"
        if not config_path.is_file():
            raise UpstreamError(f"{self.source.describe()}: no config.json (not a transformers model folder)")
        found = read_json(config_path).get("model_type")
        if found in OWN_UPSTREAM:
            raise UpstreamError(f"{self.source.describe()} holds a {found!r} model: use -u {OWN_UPSTREAM[found]}")

    model_class, extractor_class = AutoModel, AutoFeatureExtractor
    load_errors = (OSError, ValueError, KeyError)

    def load_model(self) -> PreTrainedModel:
        """The audio encoder of the loaded model (:meth:`load_weights`), probed for its layers and frame rate."""
        model = self.load_weights()
        encoder = model.get_encoder() if getattr(model.config, "is_encoder_decoder", False) else model
        self.model_name = type(model).__name__
        self.input_name = getattr(encoder, "main_input_name", None)
        if self.input_name not in AUDIO_INPUTS:
            raise UpstreamError(f"{self.source.describe()} holds {self.model_name}, not an audio encoder: it reads "
                                f"{self.input_name!r}, not raw samples (input_values) or audio frames "
                                "(input_features)")
        if self.input_name == "input_features" and self.feature_extractor != PREPROCESSOR:
            raise UpstreamError(f"{self.source.describe()}: {self.model_name} reads audio frames (input_features) "
                                f"and the folder has no {PREPROCESSOR} to make them; add the model's")
        parameters = inspect.signature(encoder.forward).parameters
        self.accepted = set(parameters)
        if "output_hidden_states" not in parameters and not any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
            raise UpstreamError(f"{self.source.describe()}: {self.model_name} returns no hidden states (its forward "
                                "has no output_hidden_states), so there are no layers to weight or cache")
        encoder = encoder.eval()
        self._probe(encoder)
        return encoder

    def _probe(self, encoder: nn.Module) -> None:
        """Layers, width and frame rate from 1 s and 2 s of silence; refuse an output without hidden states."""
        lengths = []
        for seconds in (1, 2):
            with torch.no_grad():
                try:
                    hidden = self._hidden(encoder, [torch.zeros(seconds * SAMPLE_RATE)])
                except UpstreamError:
                    raise
                except Exception as err:  # any model can fail on its own input in its own way
                    raise UpstreamError(f"{self.source.describe()}: {self.model_name} fails on 1 s of audio "
                                        f"({type(err).__name__}: {err})") from err
            lengths.append(hidden[0].shape[1])
        if lengths[1] <= lengths[0]:
            raise UpstreamError(f"{self.source.describe()}: {self.model_name} returns {lengths[0]} frames for 1 s "
                                "and for 2 s of audio: not a frame-level audio encoder")
        self._layers, self._width = len(hidden), int(hidden[0].shape[-1])
        self._rate = round(SAMPLE_RATE / (lengths[1] - lengths[0]))

    def _hidden(self, encoder: nn.Module, wavs: List[torch.Tensor]) -> List[Tensor]:
        device = wavs[0].device
        inputs = self.extracter([wav.detach().cpu().numpy() for wav in wavs], return_tensors="pt", padding=True,
                                return_attention_mask=True, sampling_rate=SAMPLE_RATE)
        inputs = {k: v.to(device) for k, v in inputs.items() if k in self.accepted}
        output = encoder(**inputs, output_hidden_states=True)
        hidden = getattr(output, "hidden_states", None) if not isinstance(output, dict) else output.get("hidden_states")
        if not hidden:
            raise UpstreamError(f"{self.source.describe()}: {self.model_name} returns no hidden states "
                                "(output_hidden_states=True gave none), so there are no layers to weight or cache")
        return list(hidden)

    @property
    def num_layers(self) -> int:
        return self._layers

    @property
    def hidden_size(self) -> int:
        return self._width

    def describe(self) -> dict:
        info = super().describe()
        info["model"] = self.model_name
        return info

    def get_downsample_rates(self, key: str = None) -> int:
        return self._rate

    def forward(self, wavs: List[torch.Tensor]) -> dict:
        return {"hidden_states": self._hidden(self.model, wavs)}


#: s3prl upstream name -> class, registered in ``s3prl.hub`` (the first two replace s3prl's own).
HF_UPSTREAMS: Dict[str, Type[HFUpstream]] = {cls.name: cls for cls in (HFHubert, HFWav2Vec2, HFWavLM, HFData2VecAudio,
                                                                        HFWhisper, HFWhisperTrim, HFAuto)}


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


def hf_feature_extractor(ckpt: str, name: Optional[str] = None) -> Optional[str]:
    """Which feature extractor the ``hf_*`` upstream ``name`` uses for ``ckpt`` (as
    :attr:`HFUpstream.feature_extractor`); None when the files are not here."""
    folder = hf_local_folder(ckpt)
    if folder is None:
        return None
    return HF_UPSTREAMS.get(str(name), HFUpstream).make_extractor(folder)[1]


def frontend_identity(name: str, ckpt: Optional[str]) -> Optional[str]:
    """:func:`frontend_sha256` of the extractor the Hugging Face upstream ``name`` uses for ``ckpt``; None for
    other upstreams and where the files are not here."""
    folder = hf_local_folder(str(ckpt)) if ckpt and name in HF_UPSTREAMS else None
    if folder is None or not (folder / "config.json").is_file():
        return None
    return frontend_sha256(HF_UPSTREAMS[name].make_extractor(folder)[0])


def checkpoint_identity(name: str, ckpt: Optional[str]) -> Tuple[Optional[str], Optional[str]]:
    """(sha256, revision) of an upstream's ``-k``: the file's hash, a Hugging Face model's weights hash and
    hub commit, or None where there is nothing local to hash (no ``-k``, a URL, a hub id not downloaded)."""
    if not ckpt:
        return None, None
    if name in HF_UPSTREAMS:
        return hf_checkpoint_identity(str(ckpt))
    return (sha256_file(ckpt), None) if Path(str(ckpt)).is_file() else (None, None)


# --------------------------------------------------------------------------- names

