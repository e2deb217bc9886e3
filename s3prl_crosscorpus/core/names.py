"""The one source of names shared by both systems, the recipes and the tables.

Head names, system (leaderboard row) names, the s3prl downstream name, and the builder of
s3prl's ``-o`` override string. Plain strings only: importing this module loads no torch or s3prl.

System names are shell-safe (letters, digits and ``._+-``): a variant's tags follow its base name
after ``_`` (``HuBERT-Linear_corpus-norm_dann``, ``eGeMAPS-SVM_speaker-norm``, ``HuBERT-Linear_L4-8``).
Older versions wrote ``HuBERT-Linear[corpus-norm,dann]``; :func:`safe_system_name` maps those (and any
other name) to the shell-safe form wherever results and bundles are read.
"""
import hashlib
import re
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

#: The downstream name registered with s3prl's runner (``-d crosscorpus_emotion``).
DOWNSTREAM = "crosscorpus_emotion"

#: The three heads of the paper, in table order, and their display names in system names.
HEADS: Tuple[str, ...] = ("linear", "cnn_selfatt", "transformer")
HEAD_DISPLAY: Dict[str, str] = {"linear": "Linear", "cnn_selfatt": "CNNSelfAtt", "transformer": "Transformer"}

#: openSMILE feature set -> the SVM system name its results carry.
SVM_SYSTEMS: Dict[str, str] = {"GeMAPSv01b": "GeMAPS-SVM", "eGeMAPSv02": "eGeMAPS-SVM",
                               "ComParE_2016": "ComParE-SVM"}

#: s3prl upstream name -> name used in system names; others are used as given.
UPSTREAM_DISPLAY: Dict[str, str] = {
    "hubert": "HuBERT", "hubert_base": "HuBERT", "hubert_local": "HuBERT", "hubert_url": "HuBERT",
    "hubert_large_ll60k": "HuBERT-Large", "wavlm": "WavLM", "wavlm_base": "WavLM-Base",
    "wavlm_base_plus": "WavLM-Base+", "wavlm_large": "WavLM-Large", "wav2vec2": "wav2vec2",
    "fbank": "FBANK", "fbank_no_cmvn": "FBANK-noCMVN", "mfcc": "MFCC", "spectrogram": "Spectrogram",
}

#: Hugging Face hub ids -> the upstream's name in system names (that of the same model in s3prl's hub).
HF_DISPLAY: Dict[str, str] = {
    "facebook/hubert-base-ls960": "HuBERT", "facebook/hubert-large-ll60k": "HuBERT-Large",
    "microsoft/wavlm-base": "WavLM-Base", "microsoft/wavlm-base-plus": "WavLM-Base+",
    "microsoft/wavlm-large": "WavLM-Large", "facebook/wav2vec2-base": "wav2vec2",
    "facebook/wav2vec2-large-robust": "wav2vec2-Large-Robust", "facebook/data2vec-audio-base": "data2vec",
    "facebook/data2vec-audio-large": "data2vec-Large", "openai/whisper-base": "Whisper-Base",
    "openai/whisper-small": "Whisper-Small", "openai/whisper-medium": "Whisper-Medium",
    "openai/whisper-large-v2": "Whisper-Large-v2", "openai/whisper-large-v3": "Whisper-Large-v3",
}
#: Model family of each Hugging Face upstream, the prefix of a folder name that does not say it.
HF_FAMILY: Dict[str, str] = {"hf_hubert_custom": "HuBERT", "hf_wav2vec2_custom": "wav2vec2",
                             "hf_wavlm_custom": "WavLM", "hf_data2vec_audio_custom": "data2vec",
                             "hf_whisper_custom": "Whisper", "hf_whisper_trim_custom": "Whisper", "hf_auto": "HF"}
#: Suffix of the upstream label of a Hugging Face upstream whose features differ from its family's default mode.
HF_MODE: Dict[str, str] = {"hf_whisper_trim_custom": "-trim"}


def upstream_label(name: str, ckpt: Optional[str] = None) -> str:
    """The upstream part of a system name: s3prl's name (``core.names`` turns it into e.g. ``HuBERT``), or
    for a Hugging Face upstream the model its ``-k`` holds: a known hub id (or a folder named like one)
    by its model (``WavLM-Large``), any other folder or repository by its name, prefixed with the model
    family unless the name says it (``WavLM-my_finetune``)."""
    if name not in HF_FAMILY or not ckpt:
        return name
    text = str(ckpt).rstrip("/")
    base = Path(text).name
    by_repo = {hub_id.split("/")[-1]: label for hub_id, label in HF_DISPLAY.items()}
    known = HF_DISPLAY.get(text.lower()) or by_repo.get(base.lower())
    if known:
        return known + HF_MODE.get(name, "")
    label = re.sub(r"[^A-Za-z0-9._+-]+", "_", base).strip("._") or "model"
    family = HF_FAMILY[name]
    label = label if family.lower() in re.sub(r"[-_]", "", label.lower()) else f"{family}-{label}"
    return label + HF_MODE.get(name, "")


#: Characters a system name may hold: it needs no quoting in a shell and is a plain file name.
SAFE_NAME_CHARS = "A-Za-z0-9._+-"
#: Between a system's base name and each of its tags.
TAG_SEPARATOR = "_"


def safe_system_name(name: str) -> str:
    """The shell-safe form of a system name: each run of other characters becomes one ``_``, none at the ends,
    no leading dot (``HuBERT-Linear[corpus-norm,dann]`` -> ``HuBERT-Linear_corpus-norm_dann``,
    ``eGeMAPS-SVM [speaker-norm]`` -> ``eGeMAPS-SVM_speaker-norm``); a safe name is returned unchanged."""
    parts = [part for part in re.split(f"[^{SAFE_NAME_CHARS}]+", str(name)) if part]
    safe = TAG_SEPARATOR.join(parts).lstrip(".")
    return safe or "system-" + hashlib.sha256(str(name).encode("utf-8")).hexdigest()[:8]


def tagged_name(base: str, tags: Sequence[str] = ()) -> str:
    """``base`` with its variant tags, shell-safe: ``HuBERT-Linear`` + (corpus-norm, dann) ->
    ``HuBERT-Linear_corpus-norm_dann``. The one place system names get their tags."""
    return safe_system_name(TAG_SEPARATOR.join([base, *tags]))


#: Prefix of every crosscorpus_emotion setting in s3prl's ``-o`` string.
EXPERT_KEY = "config.downstream_expert"


def dnn_system_name(upstream: str, head: str, override: Optional[str] = None, tags: Sequence[str] = (),
                    ckpt: Optional[str] = None) -> str:
    """Table row of a DNN run, e.g. ``HuBERT-Linear``, variants tagged as the SVM's
    (``HuBERT-Linear_corpus-norm_dann``); ``override`` (config ``system_name``) wins, made shell-safe;
    ``ckpt`` (the upstream's ``-k``) names Hugging Face upstreams by the model they load."""
    if override:
        return safe_system_name(override)
    label = upstream_label(upstream, ckpt)
    return tagged_name(f"{UPSTREAM_DISPLAY.get(label, label)}-{HEAD_DISPLAY.get(head, head)}", tags)


def variant_tags(norm: str = "global", dann: bool = False) -> Tuple[str, ...]:
    """System-name tags of the domain variants: ``corpus-norm`` / ``speaker-norm``, ``dann``."""
    return tuple(([f"{norm}-norm"] if norm != "global" else []) + (["dann"] if dann else []))


#: Values of ``modelrc.layers`` that mean every hidden state.
ALL_LAYERS = (None, "", "all")


def parse_layers(value: Any) -> Optional[Tuple[int, ...]]:
    """``modelrc.layers`` as a tuple of hidden-state indices (None: every layer); ValueError when malformed."""
    if value in ALL_LAYERS:
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int):
            layers: Sequence[int] = [value]
        elif isinstance(value, (list, tuple)):
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
                raise ValueError
            layers = list(value)
        else:
            text = str(value).replace(" ", "")
            if "-" in text and "," not in text:
                first, last = (int(part) for part in text.split("-"))
                if last < first:
                    raise ValueError
                layers = list(range(first, last + 1))
            else:
                layers = [int(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"modelrc.layers={value!r}: give one layer (6), a range ('4-8') or a list ([0, 4, 8] "
                         "or '0,4,8') of hidden-state indices") from None
    if not layers or min(layers) < 0 or len(set(layers)) != len(layers):
        raise ValueError(f"modelrc.layers={value!r}: layer indices must be distinct and 0 or more")
    return tuple(layers)


def layers_tag(layers: Optional[Sequence[int]] = None) -> Tuple[str, ...]:
    """System-name tag of a ``modelrc.layers`` selection: ``L6``, ``L4-8`` (a range), ``L0+4+8``; none for all."""
    if not layers:
        return ()
    layers = list(layers)
    if len(layers) > 1 and layers == list(range(layers[0], layers[-1] + 1)):
        return (f"L{layers[0]}-{layers[-1]}",)
    return ("L" + "+".join(str(k) for k in layers),)


#: Prefixes of the system-name tags of training augmentation and of a degraded test.
AUGMENT_TAG, DEGRADE_TAG = "aug-", "test-"


def augment_tags(augment: str = "", copies: int = 1, degrade: str = "") -> Tuple[str, ...]:
    """System-name tags of signal augmentation, ``aug-speed+noise-x2`` (``augment`` is the SPEC's short form,
    ``copies`` per training utterance), and of a degraded test, ``test-noise-snr10``: their own rows and cells."""
    return tuple(([f"{AUGMENT_TAG}{augment}-x{copies}"] if augment else [])
                 + ([f"{DEGRADE_TAG}{degrade}"] if degrade else []))


def without_augment(system: str) -> str:
    """The system a row with an ``aug-...`` tag augments: the same name without that tag (tags in brackets,
    ``X[corpus-norm,aug-speed-x2]``, or after ``_``, ``X_corpus-norm_aug-speed-x2``)."""
    match = re.fullmatch(r"(.*)\[(.*)\]", system)
    if match:
        tags = [t for t in match.group(2).split(",") if not t.startswith(AUGMENT_TAG)]
        return match.group(1) + (f"[{','.join(tags)}]" if tags else "")
    return "_".join(part for part in system.split("_") if not part.startswith(AUGMENT_TAG))


def add_tags(system: str, tags: Sequence[str]) -> str:
    """``system`` with ``tags`` added after its own (``HuBERT-Linear_dann`` + ``test-noise`` ->
    ``HuBERT-Linear_dann_test-noise``; an old bracket name is made shell-safe first); tags it already holds are
    not repeated."""
    safe = safe_system_name(system)
    held = safe.split(TAG_SEPARATOR)
    return tagged_name(safe, [t for t in tags if t not in held])


def svm_system_name(feature_set: str, norm: str = "global", select: str = "dev",
                    augment: Sequence[str] = ()) -> str:
    """SVM leaderboard row: ``eGeMAPS-SVM`` for the paper's protocol, variants tagged, e.g.
    ``eGeMAPS-SVM_speaker-norm``, ``eGeMAPS-SVM_group-cv``, ``eGeMAPS-SVM_aug-speed+noise-x2``
    (``augment``: :func:`augment_tags`)."""
    tags = list(variant_tags(norm)) + ([select] if select != "dev" else []) + list(augment)
    return tagged_name(SVM_SYSTEMS.get(feature_set, feature_set), tags)


#: Domain variants of the study's extra rows: name -> (normalisation, DANN). ``plain`` is the paper's system.
VARIANTS: Dict[str, Tuple[str, bool]] = {
    "plain": ("global", False), "corpus-norm": ("corpus", False), "speaker-norm": ("speaker", False),
    "dann": ("global", True), "corpus-norm+dann": ("corpus", True), "speaker-norm+dann": ("speaker", True),
}


def override_value(value: Any) -> str:
    """A Python expression that s3prl's ``-o`` parser evaluates back to ``value``.

    s3prl splits the string on ``,,`` and each option on ``=``, strips spaces, then ``eval``s the
    value. A string holding any character beyond a safe set (quotes, ``=``, commas, spaces,
    non-ASCII...) is therefore written as ``bytes.fromhex('..').decode()``: it cannot break the
    split and cannot be executed as code, whatever the folder name.
    """
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, str):
        if value and all(c.isascii() and (c.isalnum() or c in "/._-+:@~") for c in value):
            return repr(value)
        return f"bytes.fromhex('{value.encode('utf-8').hex()}').decode('utf-8')"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(override_value(v) for v in value) + "]"
    raise TypeError(f"cannot pass {type(value).__name__} {value!r} through s3prl's -o overrides")


def s3prl_overrides(settings: Mapping[str, Any]) -> str:
    """``{"config.a.b": 1, ...}`` -> ``config.a.b=1,,...``, every value quoted safely."""
    for key in settings:
        if not key.startswith(("config.", "args.")) or any(c in key for c in "=, '\""):
            raise ValueError(f"not an s3prl override key: {key!r}")
    return ",,".join(f"{key}={override_value(value)}" for key, value in settings.items())


def expert_overrides(datarc: Optional[Mapping[str, Any]] = None, **expert: Any) -> Dict[str, Any]:
    """Override keys of the crosscorpus_emotion expert: ``datarc`` settings and top-level ones
    (``results_dir``, ``system_name``, ``modelrc.head`` as ``modelrc={'head': ...}``)."""
    keys: Dict[str, Any] = {}
    for name, value in (datarc or {}).items():
        keys[f"{EXPERT_KEY}.datarc.{name}"] = value
    for name, value in expert.items():
        if isinstance(value, Mapping):
            keys.update({f"{EXPERT_KEY}.{name}.{sub}": v for sub, v in value.items()})
        else:
            keys[f"{EXPERT_KEY}.{name}"] = value
    return keys
