"""The feature cache of frozen upstreams: its on-disk format and extraction (one pass of an
upstream over the manifest). The cached upstream that stands in for the live one during
training is :mod:`s3prl_crosscorpus.superb.cached` (it subclasses s3prl's classes).

``format`` imports only ``core`` and numpy; ``extract`` builds s3prl's upstreams through
``superb.upstreams``; ``augmented`` (copies of augmented audio, one cache per copy) imports ``augment``.
"""
