"""The speaker of each test utterance, which the speaker-level statistics resample and swap.

Where it comes from, first found wins: the ``speaker`` recorded per prediction in the result file
(written by :func:`..results.schema.make_result` since schema 1 added it as an optional field), a
given id -> speaker map (the corpus manifest of ``--data``, or a bundle's ``speakers.txt``), or the
corpus' own naming convention of utterance ids (manifest ids are ``<corpus>_<file stem>``), read with
the corpus readers' patterns: ``emodb_03a01Fa`` -> ``03``, ``ravdess_03-01-05-01-01-01-12`` ->
``Actor_12``, ``iemocap_Ses01F_impro01_M003`` -> ``Ses01M`` (the bare stems work too). These are
the speaker names the manifest holds.
"""
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from ..core.corpora.emodb import EMODB_SPEAKERS, NAME as EMODB_NAME
from ..core.corpora.iemocap import iemocap_speaker
from ..core.corpora.ravdess import NAME as RAVDESS_NAME

#: How a speaker was found, in order of precedence.
FROM_RESULT, FROM_MAP, FROM_ID = "result file", "given map", "utterance id"


class SpeakerError(ValueError):
    """Test utterances whose speaker cannot be found; the message names the source and example ids."""


def speaker_from_id(corpus: str, utt_id: str) -> Optional[str]:
    """The speaker an utterance id names by its corpus' convention, or None when the id does not follow it."""
    if utt_id.startswith(f"{corpus}_"):
        utt_id = utt_id[len(corpus) + 1:]
    if corpus == "emodb":
        match = EMODB_NAME.match(f"{utt_id}.wav")
        return match["speaker"] if match and match["speaker"] in EMODB_SPEAKERS else None
    if corpus == "ravdess":
        match = RAVDESS_NAME.match(f"{utt_id}.wav")
        return f"Actor_{int(match['actor']):02d}" if match else None
    if corpus == "iemocap":
        try:
            return iemocap_speaker(utt_id)[0]
        except ValueError:
            return None
    return None


def speakers_from_ids(corpus: str, ids: Sequence[str]) -> Optional[List[str]]:
    """Every id's speaker by the corpus convention, or None unless all of them follow it."""
    found = [speaker_from_id(corpus, utt) for utt in ids]
    return None if any(s is None for s in found) else found


def manifest_speakers(data_dir: Path) -> Dict[str, str]:
    """utterance id -> speaker from the corpus manifest in ``data_dir`` (raises ManifestError, naming the file)."""
    from ..core.manifest import load_manifest

    return {u.id: u.speaker for u in load_manifest(data_dir)}


def documented_differences(data_dir: Path) -> Dict[str, List[str]]:
    """corpus -> how its copy in ``data_dir`` differs from the published corpus (``prepare``'s manifest meta)."""
    from ..core.io_utils import read_json
    from ..core.manifest import META

    path = Path(data_dir) / META
    try:
        return dict(read_json(path).get("documented_differences") or {}) if path.is_file() else {}
    except ValueError:
        return {}  # load_manifest names a broken meta file


def resolve_speakers(rows: Sequence[Mapping], corpus: str, given: Optional[Mapping[str, str]] = None,
                     given_name: str = FROM_MAP, source: str = "result") -> Tuple[List[str], List[str]]:
    """(speaker per prediction row, how they were found); :class:`SpeakerError` names ``source`` when any is unknown."""
    speakers, how, unknown = [], set(), []
    for row in rows:
        if row.get("speaker"):
            speakers.append(row["speaker"])
            how.add(FROM_RESULT)
        elif given is not None and row["id"] in given:
            speakers.append(given[row["id"]])
            how.add(given_name)
        else:
            found = speaker_from_id(corpus, row["id"])
            speakers.append(found)
            if found:
                how.add(FROM_ID)
            else:
                unknown.append(row["id"])
    if unknown:
        shown = ", ".join(unknown[:3]) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
        raise SpeakerError(f"{source}: the speaker of {len(unknown)} test utterance(s) is unknown ({shown}): they "
                           f"record no 'speaker', their ids do not follow {corpus}'s naming, and no manifest "
                           f"names them (pass --data DATA_DIR)")
    return speakers, [name for name in (FROM_RESULT, given_name, FROM_ID) if name in how]
