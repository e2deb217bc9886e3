# The one settings parser of the recipes (ESPnet's parse_options.sh convention: `--name value`).
# A recipe declares each setting with its default and help, then parses its arguments:
#   source "$(dirname "$0")/settings.sh"
#   setting DATA_DIR "" "folder made by \`s3prl-crosscorpus prepare\` (required)"
#   setting FOLDS "1 2 3 4 5" "folds to run" ints
#   parse_settings "$@"
# The optional 4th word is the setting's type, checked by parse_settings (one `error:` line, exit 2;
# a value is never pasted into code): int (whole number >= 0), count (whole number >= 1), ints (space/comma-separated ints),
# int|auto, "choice a b c" (one of the words), word (no blanks, quotes or shell metacharacters),
# layers (empty, one hidden-state index 6, a range 4-8 or a list 0,4,8), text (anything; default).
# `--data-dir DIR` or `--data-dir=DIR` sets DATA_DIR; settings not given take their default (the
# environment is not read). `--help` prints the recipe's header comment and every setting with its
# default; an unknown setting or a bare word is an error naming it (exit 2).
_SETTING_NAMES=()
_SETTING_DEFAULTS=()
_SETTING_HELPS=()
_SETTING_TYPES=()

setting() {  # NAME DEFAULT HELP [TYPE]
  _SETTING_NAMES+=("$1"); _SETTING_DEFAULTS+=("$2"); _SETTING_HELPS+=("$3"); _SETTING_TYPES+=("${4:-text}")
}

# A whole number as bash arithmetic reads it: no leading zero (octal), at most 9 digits (no overflow).
_INT='(0|[1-9][0-9]{0,8})'

# setting_check OPTION TYPE VALUE: nothing when VALUE has TYPE, else the error message.
setting_check() {
  local opt=$1 type=$2 value=$3 w
  case "$type" in
    count) [[ "$value" =~ ^[1-9][0-9]{0,8}$ ]] || echo "$opt must be a whole number >= 1 (digits, no leading 0), got '$value'" ;;
    int) [[ "$value" =~ ^$_INT$ ]] || echo "$opt must be a whole number >= 0 (digits, no leading 0), got '$value'" ;;
    int\|auto) [[ "$value" = auto || "$value" =~ ^$_INT$ ]] || echo "$opt must be a whole number or auto, got '$value'" ;;
    ints) [[ "$value" =~ ^$_INT([\ ,]+$_INT)*$ ]] || echo "$opt must be whole numbers separated by spaces, got '$value'" ;;
    layers) [[ -z "$value" || "$value" =~ ^$_INT(-$_INT|(,$_INT)+)?$ ]] || echo "$opt must be one layer (6), a range (4-8) or a list (0,4,8) of hidden states, got '$value'" ;;
    word) [[ "$value" =~ ^[A-Za-z0-9_.:/+@%-]*$ ]] || echo "$opt must be one word of letters, digits and _.:/+@%-, got '$value'" ;;
    choice\ *)
      for w in ${type#choice }; do [ "$value" = "$w" ] && return 0; done
      echo "$opt must be one of: ${type#choice }; got '$value'" ;;
    text) ;;
    *) echo "setting type '$type' of $opt is not known (int, count, ints, int|auto, choice ..., word, layers, text)" ;;
  esac
}

setting_option() {  # DATA_DIR -> --data-dir
  local lower
  lower=$(printf '%s' "$1" | tr '[:upper:]_' '[:lower:]-')
  printf -- '--%s' "$lower"
}

settings_help() {
  # The header: comment lines after the shebang, up to the first line that is not a comment.
  awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
  echo
  echo "settings (--name value or --name=value; default in brackets):"
  local k
  for k in "${!_SETTING_NAMES[@]}"; do
    printf '  %-20s %s [%s] (%s)\n' "$(setting_option "${_SETTING_NAMES[$k]}")" "${_SETTING_HELPS[$k]}" \
      "${_SETTING_DEFAULTS[$k]}" "${_SETTING_TYPES[$k]}"
  done
}

_setting_index() {  # OPTION -> index of the setting, or nothing
  local k
  for k in "${!_SETTING_NAMES[@]}"; do
    if [ "$(setting_option "${_SETTING_NAMES[$k]}")" = "$1" ]; then echo "$k"; return 0; fi
  done
  return 0
}

parse_settings() {
  local k opt value index
  local given=()
  for k in "${!_SETTING_NAMES[@]}"; do printf -v "${_SETTING_NAMES[$k]}" '%s' "${_SETTING_DEFAULTS[$k]}"; done
  while [ $# -gt 0 ]; do
    case "$1" in
      -h|--help) settings_help; exit 0 ;;
      --*=*) opt=${1%%=*}; value=${1#*=}; shift ;;
      --*)
        opt=$1
        if [ $# -lt 2 ]; then echo "$(basename "$0"): setting $opt needs a value (see --help)" >&2; exit 2; fi
        value=$2; shift 2 ;;
      *) echo "$(basename "$0"): settings are given as --name value; got '$1' (see --help)" >&2; exit 2 ;;
    esac
    index=$(_setting_index "$opt")
    if [ -z "$index" ]; then
      local known=""
      for k in "${!_SETTING_NAMES[@]}"; do known+=" $(setting_option "${_SETTING_NAMES[$k]}")"; done
      echo "$(basename "$0"): unknown setting $opt; known settings:$known" >&2
      exit 2
    fi
    printf -v "${_SETTING_NAMES[$index]}" '%s' "$value"
  done
  local problem
  for k in "${!_SETTING_NAMES[@]}"; do
    problem=$(setting_check "$(setting_option "${_SETTING_NAMES[$k]}")" "${_SETTING_TYPES[$k]}" "${!_SETTING_NAMES[$k]}")
    if [ -n "$problem" ]; then echo "$(basename "$0"): error: $problem" >&2; exit 2; fi
  done
  for k in "${!_SETTING_NAMES[@]}"; do export "${_SETTING_NAMES[$k]}"; done
}

# run_name UPSTREAM CKPT: the folder name of an upstream's experiments and cache; an hf_* upstream loads
# whatever model -k names, so each model gets its own (hf_wavlm_custom-wavlm-large).
run_name() {
  case "$1" in hf_*) echo "$1-$(basename "${2:-none}")" ;; *) echo "$1" ;; esac
}
