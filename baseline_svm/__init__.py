"""The spectral baseline: openSMILE functionals (GeMAPSv01b, eGeMAPSv02, ComParE_2016) + RBF SVM.

Owns feature extraction and its cache (``features``), the scikit-learn estimator and its exact
precomputed-kernel grid search (``model``, ``search``), the normalisation variants (defined once in ``s3prl_crosscorpus.core.normalise``),
the experiment runner (``run``) and its command line (``cli``; ``baseline-svm run ...`` or
``s3prl-crosscorpus svm run ...``). May import only ``s3prl_crosscorpus.core`` and
``s3prl_crosscorpus.results`` and ``s3prl_crosscorpus.augment`` (training-copy augmentation,
``augmented``) of this project, never torch or s3prl. See baseline_svm/README.md.
"""
