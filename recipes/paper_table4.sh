#!/usr/bin/env bash
# Table 4 of the paper: frozen HuBERT base + {Linear, CNNSelfAtt, Transformer} heads, matched (train and
# test on IEMOCAP) and extended (train on the pooled fold-k training data, test on each corpus), 5 folds
# each, then the leaderboard: stages 2-4 of recipes/run.sh on a prepared DATA_DIR. The upstream runs
# once into a feature cache (--cache no: live). GPU strongly advised: 30 runs x 30000 steps.
#   recipes/paper_table4.sh --data-dir data --device cuda --nj 2
# Resumable: finished runs are skipped.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/settings.sh"
setting DATA_DIR "" "folder made by \`s3prl-crosscorpus prepare\` (required)"
setting OUT study_out "output root (results/, cache/, exp/, leaderboard.md)"
setting UPSTREAM hubert "s3prl upstream (hubert_local --ckpt FILE for an offline copy of the weights)" word
setting CKPT "" "upstream checkpoint (-k)"
setting HEADS "linear cnn_selfatt transformer" "heads"
setting FOLDS "1 2 3 4 5" "folds" ints
setting SEEDS 1337 "seeds" ints
setting STEPS auto "training steps (auto: the config's, 30000)" 'int|auto'
setting CACHE yes "yes: extract once and train from the cache; no: upstream live" "choice yes no"
setting DEVICE auto "cuda | cpu (auto: cuda when present)" word
setting CMD local "launcher: local | slurm" "choice local slurm"
setting NJ 1 "parallel jobs" count
setting SBATCH_ARGS "" "more sbatch options with --cmd slurm"
parse_settings "$@"
: "${DATA_DIR:?set --data-dir to the folder made by s3prl-crosscorpus prepare}"
exec "$HERE/run.sh" --data-dir "$DATA_DIR" --out "$OUT" --stage 2 --stop-stage 4 --upstream "$UPSTREAM" \
  --ckpt "$CKPT" --heads "$HEADS" --folds "$FOLDS" --seeds "$SEEDS" --steps "$STEPS" --cache "$CACHE" \
  --device "$DEVICE" --cmd "$CMD" --nj "$NJ" --sbatch-args "$SBATCH_ARGS" --conditions "matched extended" \
  --matched-corpora iemocap
