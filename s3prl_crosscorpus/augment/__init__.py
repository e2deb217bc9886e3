"""Signal-level data augmentation of training audio, shared by both systems, and test-audio degradation.

Owns the augmentation SPEC language (``spec``: names, parameters, defaults, the canonical form that goes
into system names and provenance), the signal effects (``effects``: speed perturbation by resampling,
additive noise, babble, reverberation with pyroomacoustics rooms or a RIR folder, telephone channel, pitch
shift via audiomentations) and the deterministic, fold-safe draw of each copy (``plan``: one seeded plan per
utterance and copy; babble only from training speakers of the same split). May import the standard library,
numpy, scipy, soundfile, audiomentations, pyroomacoustics and ``s3prl_crosscorpus.core``; never torch or
s3prl, so the SVM can use it.
"""
