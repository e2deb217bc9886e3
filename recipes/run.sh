#!/usr/bin/env bash
# The whole cross-corpus study in one staged recipe (ESPnet/Kaldi style). Every stage resumes and
# skips finished work, so the same command continues an interrupted study.
#   0  prepare the manifest (+ folds summary); without corpus roots: synthesise small corpora first
#   1  openSMILE + SVM grid: feature sets x conditions x folds (Table 3)
#   2  extract the frozen upstream once into a feature cache (skipped with --cache no)
#   3  DNN heads x conditions x test corpora x folds x seeds, from the cache (Table 4)
#   4  leaderboard (md + json), statistics when installed, plots, report.html (the study on one page)
#   5  submission bundle + validate
# Examples:
#   recipes/run.sh                                   # synthetic corpora, tiny random HuBERT: minutes on a CPU
#   recipes/run.sh --emodb E --ravdess R --iemocap I --device cuda --nj 4      # the paper's study
#   recipes/run.sh --emodb E --ravdess R --iemocap I --cmd slurm --nj 20 --sbatch-args "--gres=gpu:1"
#   recipes/run.sh ... --stage 3 --stop-stage 3 --heads linear --conditions "matched extended loco"
#   recipes/run.sh --study study.yaml              # corpora, pool, conditions, systems from one YAML (docs/study-file.md)
# With --study, the file's settings come first; a flag for a setting the file also sets is refused (the bundle
# records the file as the study that ran); other flags (--stage, --out, --nj, --device, ...) work as usual.
#   recipes/run.sh --augment speed,noise --augment-copies 2   # + augmented rows (docs/augmentation.md)
# "auto" defaults: with corpus roots the paper's settings; without them the synthetic default's.
# Outputs, all under --out: corpora/ (synthetic), data/, results/, cache/, exp/, logs/, leaderboard.*,
# plots/, report.html, bundle.zip.
# Each setting's type is checked first (in parentheses below); a bad value: one `error:` line, exit 2.
# Stage 0 is stamped with its input files (DATA/.prepared): other files, and the manifest is made again
# and stages 1-3 redo what was made from the old one. Ctrl-C: one line, exit 130; re-run to resume.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
source "$HERE/settings.sh"
setting STUDY "" "study file (YAML): corpora, pool, conditions, systems, statistics (docs/study-file.md)"
setting STAGE 0 "first stage to run" "choice 0 1 2 3 4 5"
setting STOP_STAGE 5 "last stage to run" "choice 0 1 2 3 4 5"
setting OUT study_out "output root (covered by .gitignore)"
setting DATA_DIR "" "an already prepared DATA_DIR instead of stage 0's OUT/data (stage 0 then does nothing)"
setting EMODB "" "EmoDB root (all three and --data-dir empty: synthetic corpora)"
setting RAVDESS "" "RAVDESS root"
setting IEMOCAP "" "IEMOCAP root"
setting SYNTH_PER_CLASS 2 "synthetic corpora: utterances per speaker and class (1..4)" "choice 1 2 3 4"
setting SYNTH_REGISTRY "" "synthetic corpora: registry corpora written too, comma-separated (synth --registry)"
setting OFFICIAL_PARTITION "" "corpora split by their official partition instead of speaker folds, comma-separated (prepare --official-partition; docs/corpus-registry.md)" word
setting CORPORA "" "training pool, e.g. 'emodb iemocap' (empty: every corpus in the manifest)"
setting CONDITIONS "matched extended" "conditions of both systems (matched extended loco transfer)"
setting TRAIN_POOLS "" "transfer matrix rows, corpora joined by + (empty: each pool corpus, and the whole pool)"
setting SYSTEMS "svm dnn" "systems to run: svm (stage 1), dnn (stages 2-3)"
setting FOLDS "1 2 3 4 5" "folds" ints
setting FEATURE_SETS auto "SVM feature sets (auto: GeMAPSv01b eGeMAPSv02 ComParE_2016; synthetic: eGeMAPSv02)"
setting SVM_GRID auto "SVM C/gamma grid, libsvm or coarse (auto: libsvm; synthetic: coarse)" "choice auto libsvm coarse"
setting UPSTREAM auto "s3prl upstream (auto: hubert; synthetic: hubert_local with a tiny random HuBERT)" word
setting CKPT "" "upstream checkpoint (-k) for *_local / hf_*_custom upstreams"
setting UPSTREAM_NAME "" "upstream's name in system names (empty: from the upstream, e.g. HuBERT)"
setting HEADS "linear cnn_selfatt transformer" "DNN heads"
setting MATCHED_CORPORA iemocap "test corpora of matched DNN runs (the paper's Table 4: iemocap)"
setting SEEDS 1337 "DNN seeds; results of seeds after the first go to RESULTS/seed<S>/ (one cell, mean and spread over seeds)" ints
setting SVM_NORMS global "SVM rows per normalisation: global (the paper's), corpus, speaker (transductive)"
setting VARIANTS plain "DNN rows per domain variant: plain corpus-norm speaker-norm dann corpus-norm+dann speaker-norm+dann"
setting LAYERS "" "DNN layer selection (modelrc.layers): 6, 4-8 or 0,4,8; rows get _L6, _L4-8, _L0+4+8 (empty: every layer, weighted)" layers
setting CONFIG auto "runner config (auto: downstream_configs/paper.yaml; synthetic: smoke.yaml)"
setting STEPS auto "DNN training steps (auto: the config's; synthetic: 150)" 'int|auto'
setting CACHE yes "yes: extract the upstream once and train from the cache; no: upstream computed live" "choice yes no"
setting DEVICE auto "cuda or cpu (auto: cuda when present)" word
setting CMD local "launcher: local (up to --nj jobs here) or slurm (sbatch --wait job arrays)" "choice local slurm"
setting NJ 1 "parallel jobs of a stage (extraction: cache shards)" count
setting AUGMENT "" "augmentation SPEC of the extra augmented rows, e.g. speed,noise (empty: none; docs/augmentation.md)"
setting AUGMENT_COPIES 1 "augmented copies per training utterance" count
setting TEST_DEGRADE "" "rows of both systems tested on degraded audio, one per SPEC, e.g. 'noise:snr=20 noise:snr=10 noise:snr=0 reverb telephone'"
setting SBATCH_ARGS "" "more sbatch options with --cmd slurm, e.g. '--partition=gpu --gres=gpu:1'"
setting STATS_RESAMPLES auto "speaker-bootstrap resamples of the statistics (auto: the commands' default)" 'int|auto'
setting STATS_SEED auto "seed of the statistics' resampling (auto: the commands' default)" 'int|auto'
ARGS=("$@")
parse_settings "$@"
study_prepare=()
if [ -n "$STUDY" ]; then
  # The study file's settings, read by Python (NUL-separated words; no value is pasted into code), then the flags.
  study_words=$(mktemp); trap 'rm -f "$study_words"' EXIT
  python3 -m s3prl_crosscorpus study-file settings "$STUDY" -- "$@" > "$study_words" || exit 2
  mapfile -d '' study_args < "$study_words"
  python3 -m s3prl_crosscorpus study-file prepare-args "$STUDY" > "$study_words" || exit 2
  mapfile -d '' study_prepare < "$study_words"
  parse_settings "${study_args[@]}" "$@"
fi
for system in $SYSTEMS; do
  case "$system" in svm|dnn) ;; *) echo "$(basename "$0"): error: --systems takes svm and/or dnn, got '$system'" >&2; exit 2 ;; esac
done
runs() { [[ " $SYSTEMS " == *" $1 "* ]]; }
stats_args=()
[ "$STATS_RESAMPLES" != auto ] && stats_args+=(--resamples "$STATS_RESAMPLES")
[ "$STATS_SEED" != auto ] && stats_args+=(--seed "$STATS_SEED")
if [ "$STAGE" -gt "$STOP_STAGE" ]; then
  echo "$(basename "$0"): error: --stage $STAGE is after --stop-stage $STOP_STAGE: nothing to run" >&2; exit 2
fi
# A bad --augment SPEC (unknown name or parameter, empty noise folder...): one error line before any work.
if [ -n "$AUGMENT" ]; then
  cacheable=(); [ "$CACHE" = yes ] && cacheable=(--cacheable)
  python3 -m s3prl_crosscorpus augment "$AUGMENT" --copies "$AUGMENT_COPIES" "${cacheable[@]}" >/dev/null || exit 2
fi
for spec in $TEST_DEGRADE; do
  python3 -m s3prl_crosscorpus augment "$spec" --degrade >/dev/null || exit 2
done
# Ctrl-C: one line (unless the interrupted command already said it) and exit 130; every stage resumes.
trap 'code=$?; [ "$code" = 130 ] || echo "interrupted; finished work is kept; re-run the same command to resume" >&2; exit 130' INT

S3X=(python3 -m s3prl_crosscorpus)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
DATA=${DATA_DIR:-$OUT/data} RESULTS=$OUT/results LOGS=$OUT/logs
SYNTHETIC=no
[ -z "$EMODB$RAVDESS$IEMOCAP$DATA_DIR" ] && [ ${#study_prepare[@]} -eq 0 ] && SYNTHETIC=yes
pick() { if [ "$1" != auto ]; then echo "$1"; elif [ $SYNTHETIC = yes ]; then echo "$3"; else echo "$2"; fi; }
FEATURE_SETS=$(pick "$FEATURE_SETS" "GeMAPSv01b eGeMAPSv02 ComParE_2016" eGeMAPSv02)
SVM_GRID=$(pick "$SVM_GRID" libsvm coarse)
STEPS=$(pick "$STEPS" "" 150)
CONFIG=$(pick "$CONFIG" "$ROOT/downstream_configs/paper.yaml" "$ROOT/downstream_configs/smoke.yaml")
if [ "$UPSTREAM" = auto ] && [ $SYNTHETIC = yes ]; then
  UPSTREAM=hubert_local CKPT=${CKPT:-$OUT/upstream/tiny_random_hubert.pt} UPSTREAM_NAME=${UPSTREAM_NAME:-TinyRandomHuBERT}
elif [ "$UPSTREAM" = auto ]; then
  UPSTREAM=hubert
fi
[ "$DEVICE" = auto ] && DEVICE=$(python3 -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')
case "$CACHE" in yes|no) ;; *) echo "$(basename "$0"): --cache is yes or no, got '$CACHE'" >&2; exit 2 ;; esac
CACHE_DIR=$OUT/cache/$UPSTREAM${CKPT:+-$(basename "$CKPT" | sed 's/\.[^.]*$//')}
launcher=(--cmd "$CMD" --nj "$NJ" --sbatch-args "$SBATCH_ARGS")
pool=(); [ -n "$CORPORA" ] && pool=(--corpora "$CORPORA")
augment=(); [ -n "$AUGMENT" ] && augment=(--augment "$AUGMENT" --augment-copies "$AUGMENT_COPIES")
# Workers inside each SVM job: the cores shared among the parallel jobs.
# (NJ is a checked whole number >= 1; the arithmetic is bash's, no value is pasted into code.)
CORES=$(nproc 2>/dev/null || echo 1)
SVM_WORKERS=$(( CORES / NJ > 1 ? CORES / NJ : 1 ))

stage() { [ "$STAGE" -le "$1" ] && [ "$STOP_STAGE" -ge "$1" ]; }
say() { echo "=== stage $*" >&2; }
# Whether $1 exists and is newer than every result file (and than the other files given).
up_to_date() {
  local target=$1; shift
  [ -e "$target" ] || return 1
  [ -z "$(find "$RESULTS" -name 'fold*.json' -newer "$target" -print -quit 2>/dev/null)" ] || return 1
  local f; for f in "$@"; do [ "$f" -nt "$target" ] && return 1; done
  return 0
}
# inputs_stamp --emodb ROOT --csv NAME=FILE --audformat NAME=DIR ...: a digest of the arguments and of every input
# file: each file under a root or an audformat database by its path, size and mtime, and by content the CSV
# table and the audformat header and tables (db.yaml, db.*), so an edit that keeps size and mtime counts too.
inputs_stamp() {
  {
    printf '%s\n' "$@"
    while [ $# -gt 0 ]; do
      local path=$2
      case "$1" in --csv|--audformat) path=${2#*=} ;; esac  # NAME=PATH: the path
      if [ -f "$path" ]; then
        sha256sum < "$path"
      else
        find -L "$path" -type f -printf '%P\t%s\t%T@\n' 2>/dev/null | LC_ALL=C sort
        [ "$1" = --audformat ] && find -L "$path" -maxdepth 1 -type f -name 'db.*' -print0 2>/dev/null \
          | LC_ALL=C sort -z | xargs -0r sha256sum
      fi
      shift 2
    done
  } | sha256sum | cut -d' ' -f1
}
ensure_upstream() {  # the synthetic default's tiny random HuBERT, written once
  if [ "$UPSTREAM_NAME" = TinyRandomHuBERT ] && [ ! -e "$CKPT" ]; then
    python3 -m s3prl_crosscorpus.commands.random_hubert "$CKPT" --size tiny >&2
  fi
}

if stage 0 && [ -n "$DATA_DIR" ]; then
  say "0: using the prepared $DATA_DIR"
elif stage 0; then
  if [ $SYNTHETIC = yes ]; then
    say "0: synthetic EmoDB, RAVDESS, IEMOCAP${SYNTH_REGISTRY:+ and $SYNTH_REGISTRY} ($SYNTH_PER_CLASS per speaker and class) in $OUT/corpora"
    stamp=$OUT/corpora/.complete
    synth_more=(); [ -n "$SYNTH_REGISTRY" ] && synth_more=(--registry "$SYNTH_REGISTRY")
    if [ "$(cat "$stamp" 2>/dev/null)" != "${SYNTH_PER_CLASS}${SYNTH_REGISTRY:+ $SYNTH_REGISTRY}" ]; then
      rm -f "$stamp"
      # --no-next: synth's hint would name its own DATA_DIR; this recipe prepares $DATA itself, below
      "${S3X[@]}" synth --out "$OUT/corpora" --utterances-per-class "$SYNTH_PER_CLASS" "${synth_more[@]}" --no-next >&2
      echo "${SYNTH_PER_CLASS}${SYNTH_REGISTRY:+ $SYNTH_REGISTRY}" > "$stamp"
    fi
    EMODB=$OUT/corpora/emodb RAVDESS=$OUT/corpora/ravdess IEMOCAP=$OUT/corpora/iemocap
  fi
  roots=()
  [ -n "$EMODB" ] && roots+=(--emodb "$EMODB")
  [ -n "$RAVDESS" ] && roots+=(--ravdess "$RAVDESS")
  [ -n "$IEMOCAP" ] && roots+=(--iemocap "$IEMOCAP")
  roots+=("${study_prepare[@]}")  # a study's other corpora (registry roots, --csv, --audformat)
  if [ $SYNTHETIC = yes ] && [ -n "$SYNTH_REGISTRY" ]; then
    IFS=, read -ra synth_names <<< "$SYNTH_REGISTRY"
    for name in "${synth_names[@]}"; do roots+=("--$name" "$OUT/corpora/$name"); done
  fi
  say "0: manifest $DATA"
  # The stamp is the content of stage 0's inputs: the roots, and every file under them with its size and
  # mtime (a wav added, removed or re-made, or the corpora re-synthesised, changes it), and this recipe's
  # version of prepare. Another stamp: the manifest is made again, and stages 1-3 redo what is older than it.
  stamp=$(inputs_stamp "${roots[@]}")${OFFICIAL_PARTITION:+ official $OFFICIAL_PARTITION}
  [ -n "$OFFICIAL_PARTITION" ] && roots+=(--official-partition "$OFFICIAL_PARTITION")
  if [ "$(cat "$DATA/.prepared" 2>/dev/null)" = "$stamp" ] && [ -e "$DATA/manifest.jsonl" ] \
      && [ -e "$OUT/folds.txt" ]; then
    echo "manifest made from the same input files (stamp $DATA/.prepared): kept" >&2
  else
    rm -f "$DATA/.prepared"
    "${S3X[@]}" prepare "${roots[@]}" --out "$DATA" >&2
    "${S3X[@]}" folds --data "$DATA" > "$OUT/folds.txt"
    echo "$stamp" > "$DATA/.prepared"
  fi
  cat "$OUT/folds.txt" >&2
fi

if stage 1 && runs svm; then
  say "1: SVM ($FEATURE_SETS; $CONDITIONS; grid $SVM_GRID)"
  "${S3X[@]}" study svm --data "$DATA" --results "$RESULTS" "${pool[@]}" --folds "$FOLDS" \
    --conditions "$CONDITIONS" --feature-sets "$FEATURE_SETS" --grid "$SVM_GRID" --n-jobs "$SVM_WORKERS" \
    --svm-norms "$SVM_NORMS" --train-pools "$TRAIN_POOLS" "${augment[@]}" ${TEST_DEGRADE:+--test-degrade "$TEST_DEGRADE"} \
    --logs "$LOGS/stage1" "${launcher[@]}"
fi

if stage 2 && [ "$CACHE" = yes ] && runs dnn; then
  say "2: extract $UPSTREAM once into $CACHE_DIR"
  ensure_upstream
  "${S3X[@]}" study extract --data "$DATA" --cache "$CACHE_DIR" --upstream "$UPSTREAM" ${CKPT:+--ckpt "$CKPT"} \
    --device "$DEVICE" "${augment[@]}" --logs "$LOGS/stage2" "${launcher[@]}"
fi

if stage 3 && runs dnn; then
  say "3: DNN heads ($HEADS; $CONDITIONS; seeds $SEEDS) on $UPSTREAM, $([ "$CACHE" = yes ] && echo "from the cache" || echo "live")"
  ensure_upstream
  dnn=(--upstream "$UPSTREAM" --config "$CONFIG" --heads "$HEADS" --conditions "$CONDITIONS" --folds "$FOLDS"
       --seeds "$SEEDS" --matched-corpora "$MATCHED_CORPORA" --exp "$OUT/exp" --device "$DEVICE"
       --variants "$VARIANTS" --train-pools "$TRAIN_POOLS")
  [ -n "$CKPT" ] && dnn+=(--ckpt "$CKPT")
  [ -n "$UPSTREAM_NAME" ] && dnn+=(--upstream-name "$UPSTREAM_NAME")
  [ -n "$STEPS" ] && dnn+=(--steps "$STEPS")
  [ -n "$LAYERS" ] && dnn+=(--layers "$LAYERS")
  [ "$CACHE" = yes ] && dnn+=(--cache "$CACHE_DIR")
  dnn+=("${augment[@]}")
  [ -n "$TEST_DEGRADE" ] && dnn+=(--test-degrade "$TEST_DEGRADE")
  "${S3X[@]}" study dnn --data "$DATA" --results "$RESULTS" "${pool[@]}" "${dnn[@]}" --logs "$LOGS/stage3" \
    "${launcher[@]}"
fi

if stage 4; then
  say "4: leaderboard, statistics, plots, report"
  if up_to_date "$OUT/leaderboard.md" && up_to_date "$OUT/report.html" "$OUT/leaderboard.md"; then
    echo "leaderboard newer than every result: kept" >&2
  else
    stats=()
    "${S3X[@]}" leaderboard --help | grep -q -- '--stats' && stats=(--stats --data "$DATA" "${stats_args[@]}")
    "${S3X[@]}" leaderboard "$RESULTS" "${stats[@]}" --format json -o "$OUT/leaderboard.json"
    "${S3X[@]}" plot "$RESULTS" --out "$OUT/plots" >&2
    "${S3X[@]}" leaderboard "$RESULTS" "${stats[@]}" -o "$OUT/leaderboard.md"
    "${S3X[@]}" report "$RESULTS" --data "$DATA" --out "$OUT/report.html"
  fi
  echo "report: $OUT/report.html (open it in a browser; it works offline)" >&2
  cat "$OUT/leaderboard.md"
fi

all_folds() {  # true when $FOLDS names each of the five folds
  [ "$(printf '%s\n' $FOLDS | sort -nu | tr '\n' ' ')" = "1 2 3 4 5 " ]
}

if stage 5 && ! all_folds; then
  say "5: submission bundle and validation"
  echo "note: bundle skipped: a submission needs folds 1-5 of every cell, this study runs fold(s) $FOLDS" >&2
elif stage 5; then
  say "5: submission bundle and validation"
  # One check and one fold-file warning: submit validates the bundle it writes (against the manifest too);
  # a bundle kept from an earlier run is validated again.
  if up_to_date "$OUT/bundle.zip" "$OUT/leaderboard.md"; then
    echo "bundle newer than every result: kept" >&2
    "${S3X[@]}" validate "$OUT/bundle.zip" --data "$DATA"
  else
    study=(); [ -n "$STUDY" ] && study=(--study "$STUDY")
    "${S3X[@]}" submit "$RESULTS" -o "$OUT/bundle.zip" --data "$DATA" "${stats_args[@]}" "${study[@]}"
  fi
fi

# Stopped before the last stage: the command that continues, i.e. the same settings from the next stage.
if [ "$STOP_STAGE" -lt 5 ]; then
  next=$0 skip=no
  for arg in "${ARGS[@]}"; do
    if [ $skip = yes ]; then skip=no; continue; fi
    case "$arg" in
      --stage|--stop-stage) skip=yes ;;
      --stage=*|--stop-stage=*) ;;
      *) next+=" $(printf '%q' "$arg")" ;;
    esac
  done
  echo "next: $next --stage $((STOP_STAGE + 1))" >&2
fi
