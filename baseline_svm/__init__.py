"""The spectral baseline: openSMILE functionals (GeMAPSv01b, eGeMAPSv02, ComParE_2016) + RBF SVM.

``baseline-svm run ...`` (or ``s3prl-crosscorpus svm run ...``); see baseline_svm/README.md.
"""
