"""The study report: one self-contained HTML file (inline CSS, figures as base64 data URIs) of a results folder:
settings and data, the leaderboard with speaker-level intervals, plain-language verdicts, breakdowns, warnings,
probe results and provenance.

May import ``core`` and ``results`` and jinja2/matplotlib; never torch or s3prl. Builds values
(:mod:`.context`) and renders them (:mod:`.render`); the ``report`` command parses argv and prints.
"""
