"""The one source of names shared by both systems, the recipes and the tables.

Head names, system (leaderboard row) names, the s3prl downstream name, and the builder of
s3prl's ``-o`` override string. Plain strings only: importing this module loads no torch or s3prl.
"""
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
    "fbank": "FBANK", "mfcc": "MFCC", "spectrogram": "Spectrogram",
}

#: Prefix of every crosscorpus_emotion setting in s3prl's ``-o`` string.
EXPERT_KEY = "config.downstream_expert"


def dnn_system_name(upstream: str, head: str, override: Optional[str] = None, tags: Sequence[str] = ()) -> str:
    """Table row of a DNN run, e.g. ``HuBERT-Linear``, variants tagged as the SVM's
    (``HuBERT-Linear[corpus-norm,dann]``); ``override`` (config ``system_name``) wins."""
    return override or (f"{UPSTREAM_DISPLAY.get(upstream, upstream)}-{HEAD_DISPLAY.get(head, head)}"
                        + (f"[{','.join(tags)}]" if tags else ""))


def variant_tags(norm: str = "global", dann: bool = False) -> Tuple[str, ...]:
    """System-name tags of the domain variants: ``corpus-norm`` / ``speaker-norm``, ``dann``."""
    return tuple(([f"{norm}-norm"] if norm != "global" else []) + (["dann"] if dann else []))


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
