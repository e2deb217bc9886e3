#!/usr/bin/env bash
# One openSMILE + RBF-SVM experiment, then the leaderboard of RESULTS_DIR.
# usage: recipes/svm_fold.sh DATA_DIR RESULTS_DIR FEATURE_SET CONDITION TEST_CORPUS FOLD [baseline-svm run options]
#   FEATURE_SET  GeMAPSv01b | eGeMAPSv02 | ComParE_2016
#   CONDITION    matched | extended | loco
#   TEST_CORPUS  emodb | ravdess | iemocap | all
#   FOLD         1..5 | all   (all skips folds whose result already exists)
# e.g. recipes/svm_fold.sh data results eGeMAPSv02 matched emodb 1 --grid coarse
set -euo pipefail
if [ $# -lt 6 ]; then
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
DATA_DIR=$1 RESULTS_DIR=$2 FEATURE_SET=$3 CONDITION=$4 TEST_CORPUS=$5 FOLD=$6
shift 6
PY=${PYTHON:-python3}
"$PY" -m s3prl_crosscorpus svm run --data "$DATA_DIR" --out "$RESULTS_DIR" --feature-set "$FEATURE_SET" \
    --condition "$CONDITION" --test-corpus "$TEST_CORPUS" --fold "$FOLD" "$@"
"$PY" -m s3prl_crosscorpus leaderboard "$RESULTS_DIR"
