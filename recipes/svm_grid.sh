#!/usr/bin/env bash
# The full SVM grid of the paper: 3 feature sets x 2 conditions (matched, extended) x 3 test corpora
# x 5 folds, then the leaderboard of RESULTS_DIR. Resumable: finished folds are skipped.
# Extended trains one model per fold and writes the results of all three test corpora.
# usage: recipes/svm_grid.sh DATA_DIR RESULTS_DIR [baseline-svm run options, e.g. --n-jobs 8]
set -euo pipefail
if [ $# -lt 2 ]; then
    sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
DATA_DIR=$1 RESULTS_DIR=$2
shift 2
PY=${PYTHON:-python3}
for FEATURE_SET in GeMAPSv01b eGeMAPSv02 ComParE_2016; do
    for CONDITION in matched extended; do
        echo "== $FEATURE_SET $CONDITION"
        "$PY" -m s3prl_crosscorpus svm run --data "$DATA_DIR" --out "$RESULTS_DIR" --feature-set "$FEATURE_SET" \
            --condition "$CONDITION" --test-corpus all --fold all "$@"
    done
done
"$PY" -m s3prl_crosscorpus leaderboard "$RESULTS_DIR"
