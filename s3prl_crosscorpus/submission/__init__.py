"""Submission bundles: the format (``format``), packing results into one zip (``bundle``) and the
validation rules (``validate``). ``bundle`` and ``validate`` both follow ``format``; neither imports the other.

May import ``core`` and ``results``; never torch or s3prl.
"""
