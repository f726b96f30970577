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
       # go test -fuzz sometimes ends a clean run with "context deadline
       # exceeded" as the time runs out (no failing input written): run it
       # again then; a real failure writes its input to testdata/fuzz.
       for try in 1 2 3; do
         if out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" 2>&1); then
           echo "$out" | tail -1; break
         fi
         if grep -q "Failing input written" <<<"$out" || ! grep -q "context deadline exceeded" <<<"$out" || ((try == 3)); then
           echo "$out"; exit 1
         fi
         echo "   (the fuzzer ended with a deadline error and no failing input; running it again)"
       done
     done
   done)
done
