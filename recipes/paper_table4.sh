#!/usr/bin/env bash
# Table 4 of the paper: frozen HuBERT base + {Linear, CNNSelfAtt, Transformer} heads,
# matched (train and test on IEMOCAP) and extended (train on the pooled fold-k training data of
# EmoDB + RAVDESS + IEMOCAP, test on each corpus), 5 folds each, then the paper-style table.
#   DATA_DIR=... recipes/paper_table4.sh          (GPU strongly advised: 30 runs x 30000 steps)
# Any run_fold.sh setting can be given (e.g. UPSTREAM=hubert_local CKPT=/path/hubert_base_ls960.pt
# for an offline copy of the weights, RESULTS=..., DEVICE=...). Resumable: finished folds are skipped.
set -euo pipefail
source "$(dirname "$0")/settings.sh" "$@"
HERE="$(cd "$(dirname "$0")" && pwd)"
: "${DATA_DIR:?set DATA_DIR to the folder made by s3prl-crosscorpus prepare}"
export UPSTREAM=${UPSTREAM:-hubert}
export RESULTS=${RESULTS:-results}

for HEAD in linear cnn_selfatt transformer; do
  HEAD=$HEAD CONDITION=matched TEST_CORPUS=iemocap "$HERE/run_all_folds.sh"
  HEAD=$HEAD CONDITION=extended TEST_CORPUS= "$HERE/run_all_folds.sh"
done
s3prl-crosscorpus leaderboard "$RESULTS"
