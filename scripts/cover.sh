#!/usr/bin/env bash
# Statement coverage of the product code of every module, from each module's
# own tests. Left out, and why:
#  - test helpers (shared/servicetest, shared/redistest, shared/upstash/upstashtest,
#    shared/lambdatest, shared/awssecrets/secretstest):
#    they are the tests' own code;
#  - tooling (scripts/tools: the load test and the chaos run): make bench and
#    make chaos run them, and their tests check their figures, not every line;
#  - process entry points: the three HTTP Lambda mains and the CDK app's main
#    (a line each), and the body of every other func main and of
#    lambdahttp.Start. They run as binaries (under the emulator, by make run,
#    by cdk synth), which are killed rather than exit, so coverage never
#    sees them; what they call is covered from the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
exclude='/(servicetest|redistest|upstashtest|lambdatest|secretstest)$|/functions/(workflow|approval|results)$|/infra$'
total_stmts=0
total_hit=0
for mod in shared functions infra; do
  if [ -z "${COVER_REUSE:-}" ]; then # COVER_REUSE=1 sums the last run's profiles again
    pkgs=$(cd "$mod" && go list ./... | grep -Ev "$exclude" | paste -sd, -)
    (cd "$mod" && go test -count=1 -coverpkg="$pkgs" -coverprofile="../build/cover-$mod.out" ./... >/dev/null)
  fi
  # The lines of the entry points' bodies, as "file start end".
  entry=$(for f in $(cd "$mod" && ls */main.go */*/main.go 2>/dev/null); do
      awk -v f="$f" '/^func main\(\)/ { s = NR } s && /^}/ { print f, s, NR; s = 0 }' "$mod/$f"
    done
    if [ "$mod" = functions ]; then
      awk '/^func Start\(/ { s = NR } s && /^}/ { print "internal/lambdahttp/lambdahttp.go", s, NR; s = 0 }' functions/internal/lambdahttp/lambdahttp.go
    fi)
  # Each block counts once: hit when any run hit it.
  read -r stmts hit < <(tail -n +2 "build/cover-$mod.out" | awk -v entry="$entry" '
    BEGIN { n_e = split(entry, lines, "\n"); for (i = 1; i <= n_e; i++) { split(lines[i], p, " "); ef[i] = p[1]; es[i] = p[2]; ee[i] = p[3] } }
    {
      key = $1; split(key, fl, ":"); split(fl[2], rng, "."); line = rng[1] + 0
      for (i = 1; i <= n_e; i++) if (ef[i] != "" && index(fl[1], "/" ef[i]) && line >= es[i] && line <= ee[i]) next
      n[key] = $2; if ($3 > 0) h[key] = 1
    }
    END { s = 0; c = 0; for (k in n) { s += n[k]; if (k in h) c += n[k] } print s, c }')
  printf '%-10s %6.1f%%  (%d of %d statements)\n' "$mod" "$(awk -v h="$hit" -v s="$stmts" 'BEGIN{print 100*h/s}')" "$hit" "$stmts"
  total_stmts=$((total_stmts + stmts))
  total_hit=$((total_hit + hit))
done
printf '%-10s %6.1f%%  (%d of %d statements)\n' "all" "$(awk -v h="$total_hit" -v s="$total_stmts" 'BEGIN{print 100*h/s}')" "$total_hit" "$total_stmts"
