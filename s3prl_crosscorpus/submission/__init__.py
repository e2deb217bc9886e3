"""Submission bundles: the bundle format, packing results into one zip, and the validation rules.

May import ``core`` and ``results``; never torch or s3prl.
"""
