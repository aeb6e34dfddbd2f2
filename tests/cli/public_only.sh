#!/usr/bin/env bash
# The command line is a client of the public API: every file under src/cli/
# includes dtrain.h, its own cli.h and system headers (<...>) only, nothing
# from include/dtrain/ or src/.  Each offending line is listed.
source "$(dirname "$0")/lib.sh"

# the project's own headers a CLI file may include ("..." form)
allowed='^(dtrain\.h|cli\.h)$'
files=$(find "$SRC/src/cli" -name '*.[ch]' | sort)
[[ -n $files ]] || fail "no files under $SRC/src/cli"
for f in $files; do
  bad=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
    sed -E 's/^([0-9]+):.*"([^"]*)".*/\1 \2/' | while read -r line header; do
      [[ $header =~ $allowed ]] || echo "${f#$SRC/}:$line: \"$header\""
    done)
  # a system header by a project path (<dtrain/...>) is an internal one too
  bad+=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<dtrain/' "$f" |
    sed -E "s|^([0-9]+):.*|${f#$SRC/}:\1: internal header|")
  if [[ -n $bad ]]; then
    fail "${f#$SRC/} includes a non-public header:"$'\n'"$bad"
  else
    pass "${f#$SRC/} includes only dtrain.h, cli.h and system headers"
  fi
done
finish
