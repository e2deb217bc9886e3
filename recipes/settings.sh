# Sourced by the DNN recipes: export each KEY=value argument as a setting.
#   source "$(dirname "$0")/settings.sh" "$@"
for assignment in "$@"; do
  case "$assignment" in
    *=*) export "${assignment?}" ;;
    *) echo "$(basename "$0"): arguments are KEY=value settings, got '$assignment'" >&2; exit 2 ;;
  esac
done
