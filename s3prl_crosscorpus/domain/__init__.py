"""Domain mismatch between corpora (issue 14): the corpus probe (``probe``), per-layer normalisation
statistics of cached upstream frames (``frames``), and domain-adversarial training pieces for the
DNN heads (``dann``: gradient reversal, corpus classifier, lambda schedule).

May import ``core``, ``results`` (plots), ``cache.format`` and ``core.normalise`` (the one
definition of the normalisations) / ``baseline_svm.features`` (openSMILE); ``probe`` and ``frames``
load no torch, ``dann`` is torch only. Argument parsing lives in ``commands.probe``.
"""
