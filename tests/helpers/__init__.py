"""Shared test code (not tests): synthetic result files (``resultgen``), openSMILE-shaped data and broken
audio (``svm``), features with a per-corpus offset (``domain_data``), metrics by hand (``truth``), bundles
unpacked and repacked with an edit (``bundles``)."""
