"""Benchmark scripts (``python -m s3prl_crosscorpus.benchmarks.<name>``): each prints ratios measured
in one run. Out of the library's way: may import every package, nothing imports it.
"""
