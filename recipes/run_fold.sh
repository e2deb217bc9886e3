#!/usr/bin/env bash
# Train and evaluate one fold of crosscorpus_emotion with s3prl's runner:
#   1. train (resumes an interrupted run in the same EXPDIR): from the feature cache with --cache DIR
#      (`s3prl-crosscorpus train-cached`), else with the upstream computed live (`run-downstream -m train`)
#   2. evaluate EXPDIR/dev-best.ckpt on test
#      -> EXPDIR/test_fold<k>_{predict,truth}.txt and RESULTS/<system>/<condition>/<corpus>/fold<k>.json
# e.g. recipes/run_fold.sh --data-dir data --fold 2 --head transformer --cache exp/cache/hubert
# Paths and names go into s3prl's -o through `s3prl-crosscorpus overrides`, which quotes them safely
# (s3prl evaluates -o values and splits them on ',,' and '='; any folder name works).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
source "$HERE/settings.sh"
setting DATA_DIR "" "folder made by \`s3prl-crosscorpus prepare\` (required)"
setting UPSTREAM hubert "s3prl upstream: hubert, hubert_local, wavlm_base_plus, fbank_no_cmvn ..." word
setting CKPT "" "-k: a checkpoint file for *_local upstreams; a hub id or save_pretrained folder for hf_* upstreams"
setting HEAD linear "linear | cnn_selfatt | transformer: sets modelrc.head of CONFIG" "choice linear cnn_selfatt transformer"
setting CONFIG "$ROOT/downstream_configs/paper.yaml" "the runner config"
setting CONDITION matched "matched | extended | loco" "choice matched extended loco"
setting TEST_CORPUS auto "emodb | ravdess | iemocap; empty with extended = every pool corpus (auto: iemocap; extended: empty)"
setting CORPORA "" "corpus pool, comma-separated (empty: every corpus in the manifest)"
setting FOLD 1 "1..5" "choice 1 2 3 4 5"
setting SEED 1337 "--seed of the run (init and data order)" int
setting RESULTS results "result folder"
setting EXPDIR "" "experiment folder (empty: exp/<UPSTREAM>-<HEAD>/<CONDITION>-<TEST_CORPUS|all>/fold<k>)"
setting CACHE "" "feature cache made by \`s3prl-crosscorpus extract\` (empty: the upstream runs live)"
setting DEVICE auto "cuda | cpu (auto: cuda when present)" word
setting SYSTEM_NAME "" "result system name (empty: e.g. HuBERT-Linear)"
setting LAYERS "" "layer selection (modelrc.layers): 6, 4-8 or 0,4,8; the name gets _L6, _L4-8, _L0+4+8 (empty: every layer)" layers
setting EXTRA "" "more s3prl -o overrides, joined with ',,' (s3prl syntax, pasted)"
parse_settings "$@"
: "${DATA_DIR:?set --data-dir to the folder made by s3prl-crosscorpus prepare}"
if [ "$TEST_CORPUS" = auto ]; then
  if [ "$CONDITION" = extended ]; then TEST_CORPUS=; else TEST_CORPUS=iemocap; fi
fi
RUN_NAME=$(run_name "$UPSTREAM" "$CKPT")
EXPDIR=${EXPDIR:-exp/$RUN_NAME-$HEAD/$CONDITION-${TEST_CORPUS:-all}/fold$FOLD}
[ "$DEVICE" = auto ] && DEVICE=$(python3 -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')

absolute() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
DATA_DIR=$(absolute "$DATA_DIR"); RESULTS=$(absolute "$RESULTS"); EXPDIR=$(absolute "$EXPDIR")
if [ -n "$CKPT" ] && [ -e "$CKPT" ]; then CKPT=$(absolute "$CKPT"); fi
if [ -z "$CORPORA" ]; then
  CORPORA=$(python3 -c 'import sys; from s3prl_crosscorpus.study.plan import manifest_corpora as m; print(",".join(m(sys.argv[1])))' "$DATA_DIR")
fi

settings=("data_dir=$DATA_DIR" "condition=$CONDITION" "test_corpus=$TEST_CORPUS" "corpora=$CORPORA" "fold=$FOLD"
  "results_dir=$RESULTS" "head=$HEAD")
[ -n "$SYSTEM_NAME" ] && settings+=("system_name=$SYSTEM_NAME")
[ -n "$LAYERS" ] && settings+=("layers=$LAYERS")
OVERRIDE=$(python3 -m s3prl_crosscorpus overrides "${settings[@]}")
[ -n "$EXTRA" ] && OVERRIDE+=",,$EXTRA"
upstream_args=(-u "$UPSTREAM")
[ -n "$CKPT" ] && upstream_args+=(-k "$CKPT")

echo "== $UPSTREAM $HEAD $CONDITION test=${TEST_CORPUS:-all} fold $FOLD -> $EXPDIR" >&2
if [ -n "$CACHE" ]; then
  python3 -m s3prl_crosscorpus train-cached --cache "$CACHE" "${upstream_args[@]}" -c "$CONFIG" -p "$EXPDIR" -a \
    --device "$DEVICE" --seed "$SEED" -o "$OVERRIDE"
else
  python3 -m s3prl_crosscorpus run-downstream -m train "${upstream_args[@]}" -d crosscorpus_emotion -c "$CONFIG" \
    -p "$EXPDIR" -a --device "$DEVICE" --seed "$SEED" -o "$OVERRIDE"
  python3 -m s3prl_crosscorpus run-downstream -m evaluate -e "$EXPDIR/dev-best.ckpt" -t test --device "$DEVICE"
fi
