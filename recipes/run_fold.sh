#!/usr/bin/env bash
# Train and evaluate one fold of crosscorpus_emotion with s3prl's runner:
#   1. s3prl-crosscorpus run-downstream -m train  (resumes an interrupted run in the same EXPDIR)
#   2. s3prl-crosscorpus run-downstream -m evaluate -e EXPDIR/dev-best.ckpt -t test
#      -> EXPDIR/test_fold<k>_{predict,truth}.txt and RESULTS/<system>/<condition>/<corpus>/fold<k>.json
#
# Settings come from the environment (or KEY=value arguments, e.g. `run_fold.sh FOLD=2 HEAD=transformer`):
#   DATA_DIR     folder made by `s3prl-crosscorpus prepare`                          (required)
#   UPSTREAM     s3prl upstream: hubert, hubert_local, wavlm_base_plus, fbank ...   (default hubert)
#   CKPT         upstream checkpoint for *_local upstreams (-k)                      (default none)
#   HEAD         linear | cnn_selfatt | transformer: picks downstream_configs/HEAD.yaml (default linear)
#   CONFIG       a config file instead of HEAD's                                    (default by HEAD)
#   CONDITION    matched | extended | loco                                          (default matched)
#   TEST_CORPUS  emodb | ravdess | iemocap; empty with extended = all pool corpora  (default iemocap;
#                empty by default when CONDITION=extended)
#   CORPORA      corpus pool, comma-separated                                       (default all three)
#   FOLD         1..5                                                               (default 1)
#   SEED         --seed of the run (init and data order)                            (default 1337, s3prl's)
#   RESULTS      result folder                                                      (default results)
#   EXPDIR       experiment folder       (default exp/<UPSTREAM>-<HEAD>/<CONDITION>-<TEST_CORPUS|all>/fold<k>)
#   DEVICE       cuda | cpu                                                         (default cuda if present)
#   SYSTEM_NAME  result system name                                                 (default e.g. HuBERT-Linear)
#   EXTRA        more s3prl -o overrides, joined with ',,'                          (default none)
set -euo pipefail
source "$(dirname "$0")/settings.sh" "$@"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
: "${DATA_DIR:?set DATA_DIR to the folder made by s3prl-crosscorpus prepare}"
UPSTREAM=${UPSTREAM:-hubert}
HEAD=${HEAD:-linear}
CONFIG=${CONFIG:-$ROOT/downstream_configs/$HEAD.yaml}
CONDITION=${CONDITION:-matched}
if [ "$CONDITION" = extended ]; then TEST_CORPUS=${TEST_CORPUS-}; else TEST_CORPUS=${TEST_CORPUS-iemocap}; fi
CORPORA=${CORPORA:-emodb,ravdess,iemocap}
FOLD=${FOLD:-1}
SEED=${SEED:-1337}
RESULTS=${RESULTS:-results}
EXPDIR=${EXPDIR:-exp/$UPSTREAM-$HEAD/$CONDITION-${TEST_CORPUS:-all}/fold$FOLD}
DEVICE=${DEVICE:-$(python3 -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')}

absolute() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
DATA_DIR=$(absolute "$DATA_DIR"); RESULTS=$(absolute "$RESULTS"); EXPDIR=$(absolute "$EXPDIR")
if [ -n "${CKPT:-}" ] && [ -f "$CKPT" ]; then CKPT=$(absolute "$CKPT"); fi

if [ -n "$TEST_CORPUS" ]; then TEST_VALUE="'$TEST_CORPUS'"; else TEST_VALUE=None; fi
pool="[$(echo "$CORPORA" | sed "s/[^,][^,]*/'&'/g")]"
d=config.downstream_expert
OVERRIDE="$d.datarc.data_dir='$DATA_DIR',,$d.datarc.condition='$CONDITION',,$d.datarc.test_corpus=$TEST_VALUE"
OVERRIDE+=",,$d.datarc.corpora=$pool,,$d.datarc.fold=$FOLD,,$d.results_dir='$RESULTS',,$d.modelrc.head='$HEAD'"
[ -n "${SYSTEM_NAME:-}" ] && OVERRIDE+=",,$d.system_name='$SYSTEM_NAME'"
[ -n "${EXTRA:-}" ] && OVERRIDE+=",,$EXTRA"
upstream_args=(-u "$UPSTREAM")
[ -n "${CKPT:-}" ] && upstream_args+=(-k "$CKPT")

echo "== $UPSTREAM $HEAD $CONDITION test=${TEST_CORPUS:-all} fold $FOLD -> $EXPDIR" >&2
s3prl-crosscorpus run-downstream -m train "${upstream_args[@]}" -d crosscorpus_emotion -c "$CONFIG" \
  -p "$EXPDIR" -a --device "$DEVICE" --seed "$SEED" -o "$OVERRIDE"
s3prl-crosscorpus run-downstream -m evaluate -e "$EXPDIR/dev-best.ckpt" -t test --device "$DEVICE"
