"""The staged study of ``recipes/run.sh``: the jobs of each stage (``plan``) and the launcher that runs
them locally or as slurm job arrays (``launch``).

May import ``core``, ``results``, ``augment`` (SPEC names of the augmented rows) (and ``cache`` lazily, for the extraction stage's done-check);
never torch or s3prl at import time: the jobs themselves are ``s3prl-crosscorpus`` command lines.
"""
