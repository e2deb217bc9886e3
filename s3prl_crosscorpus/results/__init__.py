"""Results: the shared result schema (builder, writer, loader), the leaderboard, plots, statistics
and the paper's published numbers.

May import ``core`` and scientific libraries (numpy, scipy, matplotlib, jsonschema); never torch or
s3prl, so both systems and the submission tools can use it.
"""
