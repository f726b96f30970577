#!/usr/bin/env bash
# Statement coverage of the product code of every module, from each module's
# own tests. Left out, and why:
#  - test helpers (shared/servicetest, shared/redistest, shared/upstash/upstashtest,
#    shared/lambdatest):
#    they are the tests' own code;
#  - tooling (scripts/tools: the load test and the chaos run): make bench and
#    make chaos run them, and their tests check their figures, not every line;
#  - the four Lambda mains and the CDK app's main: a line each, run as
#    binaries under the emulator and by cdk synth, which coverage does not see.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
exclude='/(servicetest|redistest|upstashtest|lambdatest)$|/functions/(workflow|approval|results)$|/infra$'
total_stmts=0
total_hit=0
for mod in shared functions infra; do
  pkgs=$(cd "$mod" && go list ./... | grep -Ev "$exclude" | paste -sd, -)
  (cd "$mod" && go test -count=1 -coverpkg="$pkgs" -coverprofile="../build/cover-$mod.out" ./... >/dev/null)
  # Each block counts once: hit when any run hit it.
  read -r stmts hit < <(tail -n +2 "build/cover-$mod.out" | awk '{ key=$1; n[key]=$2; if ($3>0) h[key]=1 } END { s=0; c=0; for (k in n) { s+=n[k]; if (k in h) c+=n[k] } print s, c }')
  printf '%-10s %6.1f%%  (%d of %d statements)\n' "$mod" "$(awk -v h="$hit" -v s="$stmts" 'BEGIN{print 100*h/s}')" "$hit" "$stmts"
  total_stmts=$((total_stmts + stmts))
  total_hit=$((total_hit + hit))
done
printf '%-10s %6.1f%%  (%d of %d statements)\n' "all" "$(awk -v h="$total_hit" -v s="$total_stmts" 'BEGIN{print 100*h/s}')" "$total_hit" "$total_stmts"
