"""Everything that touches s3prl: the compatibility workarounds, the ``crosscorpus_emotion``
downstream (dataset, heads, expert), its registration with s3prl's legacy runner, the one runner
entry for live and cached upstreams, and inference from checkpoints.

Importing this package is the one place that patches the stack (:func:`compat.apply`) and
registers the downstream with s3prl (:func:`registration.register`); every module below may then
import s3prl at module level. May import ``core``, ``results``, ``cache.format``, ``domain``
(normalisation statistics, DANN); ``core.normalise`` defines the normalisations.
"""
from . import compat

compat.apply()

from .registration import register  # noqa: E402  (s3prl imports only after the workarounds)

register()
