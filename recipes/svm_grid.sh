#!/usr/bin/env bash
# The SVM grid of the paper (Table 3): feature sets x conditions x test corpora x folds, then the
# leaderboard: stage 1 of recipes/run.sh on a prepared DATA_DIR, plus the table. Resumable: finished
# folds are skipped. Extended trains one model per fold and writes the results of every test corpus.
#   recipes/svm_grid.sh --data-dir data --nj 3
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/settings.sh"
setting DATA_DIR "" "folder made by \`s3prl-crosscorpus prepare\` (required)"
setting OUT study_out "output root (results/, logs/)"
setting FEATURE_SETS "GeMAPSv01b eGeMAPSv02 ComParE_2016" "openSMILE feature sets"
setting CONDITIONS "matched extended" "conditions (matched extended loco)"
setting FOLDS "1 2 3 4 5" "folds" ints
setting SVM_GRID libsvm "C/gamma grid: libsvm or coarse" "choice libsvm coarse"
setting CMD local "launcher: local | slurm" "choice local slurm"
setting NJ 1 "parallel jobs" count
setting SBATCH_ARGS "" "more sbatch options with --cmd slurm"
parse_settings "$@"
: "${DATA_DIR:?set --data-dir to the folder made by s3prl-crosscorpus prepare}"
"$HERE/run.sh" --data-dir "$DATA_DIR" --out "$OUT" --stage 1 --stop-stage 1 --feature-sets "$FEATURE_SETS" \
  --conditions "$CONDITIONS" --folds "$FOLDS" --svm-grid "$SVM_GRID" --cmd "$CMD" --nj "$NJ" \
  --sbatch-args "$SBATCH_ARGS"
python3 -m s3prl_crosscorpus leaderboard "$OUT/results"
