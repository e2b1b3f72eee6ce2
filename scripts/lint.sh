#!/usr/bin/env bash
# Formatting (clang-format-14, .clang-format and bpf/.clang-format) and, with
# --tidy, clang-tidy (.clang-tidy) over the pure-decision libraries.
#   scripts/lint.sh --check      fails listing the files clang-format would change
#   scripts/lint.sh --fix        rewrites them in place
#   scripts/lint.sh --tidy DIR   clang-tidy over the decision libraries, with DIR's
#                                compile_commands.json (a configured build tree)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
format=clang-format-14
tidy=clang-tidy-14

sources() { git ls-files -- '*.cc' '*.h' '*.c'; }

case "$mode" in
  --check)
    bad=()
    while IFS= read -r f; do
      "$format" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
    done < <(sources)
    if [ ${#bad[@]} -gt 0 ]; then
      printf 'lint: not formatted (run scripts/lint.sh --fix):\n' >&2
      printf '  %s\n' "${bad[@]}" >&2
      exit 1
    fi
    ;;
  --fix)
    sources | xargs -r "$format" -i
    ;;
  --tidy)
    build=${2:?"usage: scripts/lint.sh --tidy BUILD_DIR (a configured tree with compile_commands.json)"}
    # The pure decisions: cheap to parse, and where a wrong branch is a wrong verdict.
    files=$(git ls-files -- 'authz/*.cc' 'state/*.cc' 'tunnel/proxy/decisions.cc' \
                            'waypoint/proxy/request_*.cc')
    # A unity build (WARREN_UNITY) lists its batches, not the sources, in
    # compile_commands.json: give clang-tidy each batch's sources with the batch's
    # command.
    db=$(mktemp -d)
    trap 'rm -rf "$db"' EXIT
    jq -c '.[]' "$build/compile_commands.json" | while IFS= read -r entry; do
      file=$(jq -r .file <<<"$entry")
      case "$file" in
        */Unity/unity_*_cxx.cxx)
          sed -n 's/^#include "\(.*\)"$/\1/p' "$file" | while IFS= read -r src; do
            jq -c --arg batch "$file" --arg src "$src" \
              '.file = $src | .command = (.command | split($batch) | join($src))' <<<"$entry"
          done ;;
        *) echo "$entry" ;;
      esac
    done | jq -s . >"$db/compile_commands.json"
    # shellcheck disable=SC2086
    "$tidy" -p "$db" --quiet --warnings-as-errors='*' $files
    ;;
  *)
    echo "usage: scripts/lint.sh --check | --fix | --tidy BUILD_DIR" >&2
    exit 2
    ;;
esac
