"""The audio of each corpus as published (PROTOCOL.md's corpus table): sample rate and utterance durations.

The one place these documented values live; ``prepare`` compares a corpus copy with them and records the
differences in the manifest meta, so the leaderboard and the report can mark the paper comparison of a copy
unlike the published one (e.g. resampled, or cut short).
"""
from collections import Counter
from dataclasses import dataclass
from typing import Dict, List, Sequence

from .common import Utterance


@dataclass(frozen=True)
class Documented:
    """A corpus' published audio: its sample rate (Hz) and the range of its utterance durations (s)."""

    sample_rate: int
    min_seconds: float
    max_seconds: float


DOCUMENTED: Dict[str, Documented] = {
    "emodb": Documented(16000, 1.2, 9.0),
    "ravdess": Documented(48000, 2.9, 5.3),  # speech, audio-only
    "iemocap": Documented(16000, 0.6, 34.2),
}
#: A copy is "cut" when at least this share of its files (and 5 or more) end within TIE s of its longest file,
#: and that longest file is shorter than 2/3 of the documented longest.
CUT_SHARE = 0.2
TIE = 0.01


def audio_differences(corpus: str, utts: Sequence[Utterance]) -> List[str]:
    """How this copy's audio differs from the documented corpus (sample rates, durations cut short); [] when alike."""
    documented = DOCUMENTED.get(corpus)
    if documented is None or not utts:
        return []
    found = []
    rates = Counter(u.sample_rate for u in utts)
    other = {rate: n for rate, n in rates.items() if rate != documented.sample_rate}
    if other:
        found.append(f"{sum(other.values())} of {len(utts)} files at "
                     + ", ".join(f"{rate} Hz" for rate in sorted(other))
                     + f", documented {documented.sample_rate} Hz (resampled to 16 kHz silently otherwise)")
    seconds = [u.seconds for u in utts]
    longest = max(seconds)
    at_end = sum(s >= longest - TIE for s in seconds)
    if at_end >= 5 and at_end >= CUT_SHARE * len(seconds) and longest < documented.max_seconds * 2 / 3:
        found.append(f"{at_end} of {len(utts)} files end at {longest:.2f} s (cut?), documented durations "
                     f"{documented.min_seconds:g}-{documented.max_seconds:g} s")
    return found
