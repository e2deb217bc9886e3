"""Everything that touches s3prl: the compatibility workarounds, the ``crosscorpus_emotion``
downstream (dataset, heads, expert), its registration with s3prl's legacy runner, the one runner
entry for live and cached upstreams, and inference from checkpoints.

May import ``core``, ``results``, ``cache`` (format and cached upstream), torch and s3prl. It is the
only package that imports s3prl.
"""
