#!/usr/bin/env bash
# Train and evaluate several folds of one (upstream, head, condition, test corpus) with run_fold.sh,
# by default from a feature cache: the upstream runs once over the manifest (`s3prl-crosscorpus
# extract`, resumable) and each fold trains the head from it; --cache no computes the upstream live.
# Resumable: a fold whose result file(s) already exist is skipped; an interrupted fold resumes from
# its last states-*.ckpt. The other settings are run_fold.sh's.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
source "$HERE/settings.sh"
setting DATA_DIR "" "folder made by \`s3prl-crosscorpus prepare\` (required)"
setting FOLDS "1 2 3 4 5" "folds to run" ints
setting CACHE auto "feature cache folder, or no (upstream live) (auto: exp/cache/<UPSTREAM>)"
setting UPSTREAM hubert "s3prl upstream" word
setting CKPT "" "-k: a checkpoint file for *_local upstreams; a hub id or save_pretrained folder for hf_* upstreams"
setting HEAD linear "linear | cnn_selfatt | transformer" "choice linear cnn_selfatt transformer"
setting CONFIG "$ROOT/downstream_configs/paper.yaml" "the runner config"
setting CONDITION matched "matched | extended | loco" "choice matched extended loco"
setting TEST_CORPUS auto "test corpus (auto: iemocap; extended: every pool corpus)"
setting CORPORA "" "corpus pool, comma-separated (empty: every corpus in the manifest)"
setting SEED 1337 "--seed of the runs" int
setting RESULTS results "result folder"
setting DEVICE auto "cuda | cpu (auto: cuda when present)" word
setting SYSTEM_NAME "" "result system name (empty: e.g. HuBERT-Linear)"
setting LAYERS "" "layer selection (modelrc.layers): 6, 4-8 or 0,4,8 (empty: every layer)" layers
setting EXTRA "" "more s3prl -o overrides (s3prl syntax, pasted)"
parse_settings "$@"
: "${DATA_DIR:?set --data-dir to the folder made by s3prl-crosscorpus prepare}"
if [ "$TEST_CORPUS" = auto ]; then
  if [ "$CONDITION" = extended ]; then TEST_CORPUS=; else TEST_CORPUS=iemocap; fi
fi
if [ -z "$CORPORA" ]; then
  CORPORA=$(python3 -c 'import sys; from s3prl_crosscorpus.study.plan import manifest_corpora as m; print(",".join(m(sys.argv[1])))' "$DATA_DIR")
fi
RUN_NAME=$(run_name "$UPSTREAM" "$CKPT")
[ "$CACHE" = auto ] && CACHE=exp/cache/$RUN_NAME
[ "$CACHE" = no ] && CACHE=
if [ -n "$CACHE" ]; then
  python3 -m s3prl_crosscorpus extract -u "$UPSTREAM" ${CKPT:+-k "$CKPT"} --data "$DATA_DIR" --out "$CACHE" --quick-check
fi

for FOLD in $FOLDS; do
  missing=$(python3 - "$RESULTS" "$UPSTREAM" "$HEAD" "$CONDITION" "$TEST_CORPUS" "$CORPORA" "$FOLD" \
    "$SYSTEM_NAME" "$CKPT" "$LAYERS" <<'PY'
import sys
from s3prl_crosscorpus.core.names import dnn_system_name, layers_tag, parse_layers
from s3prl_crosscorpus.results.schema import result_path
results, upstream, head, condition, test, corpora, fold, system, ckpt, layers = sys.argv[1:]
name = dnn_system_name(upstream, head, system or None, layers_tag(parse_layers(layers)), ckpt=ckpt or None)
paths = [result_path(results, name, condition, c, int(fold)) for c in ([test] if test else corpora.split(","))]
print(" ".join(str(p) for p in paths if not p.exists()))
PY
)
  if [ -z "$missing" ]; then
    echo "== fold $FOLD: results exist, skipped" >&2
    continue
  fi
  "$HERE/run_fold.sh" --data-dir "$DATA_DIR" --upstream "$UPSTREAM" --ckpt "$CKPT" --head "$HEAD" --config "$CONFIG" \
    --condition "$CONDITION" --test-corpus "$TEST_CORPUS" --corpora "$CORPORA" --fold "$FOLD" --seed "$SEED" \
    --results "$RESULTS" --cache "$CACHE" --device "$DEVICE" --system-name "$SYSTEM_NAME" --layers "$LAYERS" --extra "$EXTRA"
done
