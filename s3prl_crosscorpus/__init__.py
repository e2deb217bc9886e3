"""Cross-corpus speech emotion recognition on EmoDB, RAVDESS and IEMOCAP."""
from pathlib import Path

__version__ = (Path(__file__).parent / "VERSION").read_text().strip()
