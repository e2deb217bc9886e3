#!/usr/bin/env bash
# Train and evaluate folds 1..5 of one (upstream, head, condition, test corpus) with run_fold.sh.
# Resumable: a fold whose result file(s) already exist is skipped; an interrupted fold resumes
# from its last states-*.ckpt. Same settings as run_fold.sh (environment or KEY=value arguments),
# plus FOLDS (default "1 2 3 4 5").
set -euo pipefail
source "$(dirname "$0")/settings.sh" "$@"
HERE="$(cd "$(dirname "$0")" && pwd)"
UPSTREAM=${UPSTREAM:-hubert}
HEAD=${HEAD:-linear}
CONDITION=${CONDITION:-matched}
if [ "$CONDITION" = extended ]; then TEST_CORPUS=${TEST_CORPUS-}; else TEST_CORPUS=${TEST_CORPUS-iemocap}; fi
export UPSTREAM HEAD CONDITION TEST_CORPUS
RESULTS=${RESULTS:-results}
CORPORA=${CORPORA:-emodb,ravdess,iemocap}

for FOLD in ${FOLDS:-1 2 3 4 5}; do
  missing=$(python3 - "$RESULTS" "$UPSTREAM" "$HEAD" "$CONDITION" "$TEST_CORPUS" "$CORPORA" "$FOLD" \
    "${SYSTEM_NAME:-}" "${CKPT:-}" <<'PY'
import sys
from s3prl_crosscorpus.superb.expert import expected_results
results, upstream, head, condition, test, corpora, fold, system, ckpt = sys.argv[1:]
paths = expected_results(results, upstream, head, condition, test or None, corpora.split(","), int(fold), system or None,
                         ckpt or None)
print(" ".join(str(p) for p in paths if not p.exists()))
PY
)
  if [ -z "$missing" ]; then
    echo "== fold $FOLD: results exist, skipped" >&2
    continue
  fi
  FOLD=$FOLD "$HERE/run_fold.sh"
done
