#!/usr/bin/env bash
# Train and evaluate one fold of crosscorpus_emotion with s3prl's runner:
#   1. s3prl-crosscorpus run-downstream -m train  (resumes an interrupted run in the same EXPDIR)
#   2. s3prl-crosscorpus run-downstream -m evaluate -e EXPDIR/dev-best.ckpt -t test
#      -> EXPDIR/test_fold<k>_{predict,truth}.txt and RESULTS/<system>/<condition>/<corpus>/fold<k>.json
#
# Settings come from the environment (or KEY=value arguments, e.g. `run_fold.sh FOLD=2 HEAD=transformer`):
#   DATA_DIR     folder made by `s3prl-crosscorpus prepare`                          (required)
#   UPSTREAM     s3prl upstream: hubert, hubert_local, wavlm_large, hf_wavlm_custom, fbank ... (default hubert)
#   CKPT         -k: a checkpoint file for *_local upstreams; a hub id or a save_pretrained folder
#                for hf_hubert_custom, hf_wav2vec2_custom, hf_wavlm_custom, hf_data2vec_audio_custom (default none)
#   HEAD         linear | cnn_selfatt | transformer: sets modelrc.head of CONFIG     (default linear)
#   CONFIG       the runner config                          (default downstream_configs/paper.yaml)
#   CONDITION    matched | extended | loco                                          (default matched)
#   TEST_CORPUS  emodb | ravdess | iemocap; empty with extended = all pool corpora  (default iemocap;
#                empty by default when CONDITION=extended)
#   CORPORA      corpus pool, comma-separated                                       (default all three)
#   FOLD         1..5                                                               (default 1)
#   SEED         --seed of the run (init and data order)                            (default 1337, s3prl's)
#   RESULTS      result folder                                                      (default results)
#   EXPDIR       experiment folder       (default exp/<UPSTREAM>-<HEAD>/<CONDITION>-<TEST_CORPUS|all>/fold<k>;
#                hf_* upstreams: exp/<UPSTREAM>-<basename of CKPT>-<HEAD>/..., one folder per model)
#   DEVICE       cuda | cpu                                                         (default cuda if present)
#   SYSTEM_NAME  result system name                                                 (default e.g. HuBERT-Linear)
#   EXTRA        more s3prl -o overrides, joined with ',,' (s3prl syntax, pasted)   (default none)
# Paths and names go into s3prl's -o through `s3prl-crosscorpus overrides`, which quotes them safely
# (s3prl evaluates -o values and splits them on ',,' and '='; any folder name works).
set -euo pipefail
source "$(dirname "$0")/settings.sh" "$@"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
: "${DATA_DIR:?set DATA_DIR to the folder made by s3prl-crosscorpus prepare}"
UPSTREAM=${UPSTREAM:-hubert}
HEAD=${HEAD:-linear}
CONFIG=${CONFIG:-$ROOT/downstream_configs/paper.yaml}
CONDITION=${CONDITION:-matched}
if [ "$CONDITION" = extended ]; then TEST_CORPUS=${TEST_CORPUS-}; else TEST_CORPUS=${TEST_CORPUS-iemocap}; fi
CORPORA=${CORPORA:-emodb,ravdess,iemocap}
FOLD=${FOLD:-1}
SEED=${SEED:-1337}
RESULTS=${RESULTS:-results}
RUN_NAME=$UPSTREAM
case "$UPSTREAM" in hf_*) RUN_NAME="$UPSTREAM-$(basename "${CKPT:-none}")" ;; esac
EXPDIR=${EXPDIR:-exp/$RUN_NAME-$HEAD/$CONDITION-${TEST_CORPUS:-all}/fold$FOLD}
DEVICE=${DEVICE:-$(python3 -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')}

absolute() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
DATA_DIR=$(absolute "$DATA_DIR"); RESULTS=$(absolute "$RESULTS"); EXPDIR=$(absolute "$EXPDIR")
if [ -n "${CKPT:-}" ] && [ -e "$CKPT" ]; then CKPT=$(absolute "$CKPT"); fi

settings=("data_dir=$DATA_DIR" "condition=$CONDITION" "test_corpus=$TEST_CORPUS" "corpora=$CORPORA" "fold=$FOLD"
  "results_dir=$RESULTS" "head=$HEAD")
[ -n "${SYSTEM_NAME:-}" ] && settings+=("system_name=$SYSTEM_NAME")
OVERRIDE=$(s3prl-crosscorpus overrides "${settings[@]}")
[ -n "${EXTRA:-}" ] && OVERRIDE+=",,$EXTRA"
upstream_args=(-u "$UPSTREAM")
[ -n "${CKPT:-}" ] && upstream_args+=(-k "$CKPT")

echo "== $UPSTREAM $HEAD $CONDITION test=${TEST_CORPUS:-all} fold $FOLD -> $EXPDIR" >&2
s3prl-crosscorpus run-downstream -m train "${upstream_args[@]}" -d crosscorpus_emotion -c "$CONFIG" \
  -p "$EXPDIR" -a --device "$DEVICE" --seed "$SEED" -o "$OVERRIDE"
s3prl-crosscorpus run-downstream -m evaluate -e "$EXPDIR/dev-best.ckpt" -t test --device "$DEVICE"
