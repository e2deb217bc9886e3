"""The feature cache of frozen upstreams: its on-disk format, extraction (one pass of an upstream
over the manifest) and the cached upstream that stands in for the live one during training.

``format`` imports only ``core`` and numpy; extraction reaches s3prl's upstreams through ``superb``.
"""
