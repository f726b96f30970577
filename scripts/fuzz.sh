#!/usr/bin/env bash
# Runs every fuzz target in the workspace for the given time each (default
# 10s). The corpus each run finds stays in testdata/fuzz beside the target,
# to be committed as seeds when it holds a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-10s}
for mod in shared functions; do
  (cd "$mod"
   for pkg in $(go list ./...); do
     for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
       echo "== $pkg $target ($fuzztime)"
       go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
     done
   done)
done
