#!/usr/bin/env bash
# Install s3prl-crosscorpus and its dependencies into the current Python.
# torch is installed first at 2.13.0 so that no later requirement pulls a CUDA build;
# pass TORCH_SPEC="torch==X" to choose another build (e.g. a CUDA one on a GPU cluster).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -m pip install -q "${TORCH_SPEC:-torch==2.13.0}"
"$PY" -m pip install -q -e ".[test]"
