#!/usr/bin/env bash
# End-to-end run of every flow in events/n8n/ in a real n8n (1.123.x, the
# newest line that runs on Node 20), against the local stack, set up as the
# README says: the credentials imported first from credentials.example.json
# (its placeholders filled in), then the flows.
#
# The approval flow is run, at once, as:
#   approved, rejected   decided through the API;
#   expired              nobody decides, and the service's expiry webhook is
#                        held back (SWEEP_INTERVAL=10m): the Wait node's time
#                        limit, a minute past the expiry, resumes it;
#   forged               resumes without the service's JWT, with one signed by
#                        another secret and with an expired one are refused,
#                        and the run waits on until the real decision;
#   failure              the state changes while the run waits, so recording
#                        the decision fails (412, after three tries) and the
#                        error branch marks the workflow failed;
#   quorum               three approvers, mailed their links by the
#                        notification flow (to a local SMTP sink); two vote.
# and the triage, MCP-client and notification flows are checked too.
#
# About 3 minutes once n8n is installed; installing it (about 1.8 GB of npm
# packages) takes about 3 more. make test-n8n runs it; .ci/run calls that.
# Usage: scripts/n8n-e2e.sh [n8n folder, default /tmp/n8n]
set -euo pipefail
cd "$(dirname "$0")/.."
n8n_dir=${1:-/tmp/n8n}
work=$(mktemp -d)
api=http://127.0.0.1:3000
hook=http://localhost:5678

if [[ ! -x $n8n_dir/node_modules/.bin/n8n ]]; then
  mkdir -p "$n8n_dir"
  cat > "$n8n_dir/package.json" <<'JSON'
{ "private": true, "dependencies": { "n8n": "1.123.81" }, "overrides": { "xlsx": "0.18.5" } }
JSON
  (cd "$n8n_dir" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error && npm rebuild sqlite3 --loglevel=error)
fi

# A stack or n8n left running from before would answer in place of ours.
for port in 3000 5678 2525; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    echo "FAIL: something already listens on 127.0.0.1:$port (an earlier make run or n8n?); stop it first"; exit 1
  fi
done

cleanup() { kill "${stack_pid:-}" "${n8n_pid:-}" "${sink_pid:-}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -30 "$work/n8n.log" 2>/dev/null || true; exit 1; }

go build -o "$work/local" ./functions/local
# n8n's key may read and write, not decide; the agent's may also use MCP.
# The default key (every scope) decides, as a person would.
n8nkey=n8n-$(openssl rand -hex 16) agentkey=agent-$(openssl rand -hex 16)
DATA_DIR=$work/data LOG_LEVEL=warn SWEEP_INTERVAL=10m \
  APPROVAL_NOTIFY_URL=$hook/webhook/ai-rails-approval-notify \
  API_KEYS="[{\"name\":\"n8n\",\"key\":\"$n8nkey\",\"scopes\":[\"read\",\"write\"]},{\"name\":\"agent\",\"key\":\"$agentkey\",\"scopes\":[\"read\",\"write\",\"mcp\"]}]" \
  "$work/local" > "$work/stack.out" 2>&1 &
stack_pid=$!
for _ in $(seq 50); do [[ -f $work/data/secrets.json ]] && curl -sf -o /dev/null "$api/api/health" && break; sleep 0.2; done
key=$(jq -r .api_key "$work/data/secrets.json")
jwt_secret=$(jq -r .callback_jwt_secret "$work/data/secrets.json")
[[ -n $jwt_secret && $jwt_secret != null ]] || fail "the local stack made no callback_jwt_secret"
auth=(-H "x-api-key: $key")

export N8N_USER_FOLDER=$work/n8n N8N_EXPRESSION_ENGINE=legacy N8N_RUNNERS_ENABLED=false \
       N8N_DIAGNOSTICS_ENABLED=false N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS=false \
       N8N_BLOCK_ENV_ACCESS_IN_NODE=true
n8n=$n8n_dir/node_modules/.bin/n8n

# The README's order: the credentials first, from the example with its
# placeholders filled in, then the flows, which find them by name. $env is
# blocked (as on n8n Cloud), so the flows' base URL is their Settings node's.
jq --arg n8n "$n8nkey" --arg agent "$agentkey" --arg jwt "$jwt_secret" '
  map(if .id == "airails-api-key" then .data.value = $n8n
      elif .id == "airails-agent-key" then .data.value = $agent
      elif .id == "airails-callback-jwt" then .data.secret = $jwt
      elif .type == "smtp" then .data += {host: "127.0.0.1", port: 2525, disableStartTls: true}
      else . end)' events/n8n/credentials.example.json > "$work/creds.json"
! grep -q REPLACE "$work/creds.json" || grep REPLACE "$work/creds.json" | grep -q apiKey || fail "a placeholder is left in the credentials"
"$n8n" import:credentials --input="$work/creds.json" >/dev/null
mkdir "$work/flows"
cp events/n8n/*-flow.json "$work/flows/"
# n8n's own MCP client (the MCP Client node) calls workflow_get on /mcp
# with the agent's credential.
cat > "$work/flows/mcp-client.json" <<JSON
{"id":"AiRailsMcpClient1","name":"MCP client check","active":false,"settings":{"executionOrder":"v1"},
 "connections":{"Run":{"main":[[{"node":"MCP","type":"main","index":0}]]}},
 "nodes":[{"parameters":{},"id":"run","name":"Run","type":"n8n-nodes-base.manualTrigger","typeVersion":1,"position":[0,0]},
  {"parameters":{"endpointUrl":"$api/mcp","serverTransport":"httpStreamable","authentication":"headerAuth",
    "tool":{"__rl":true,"mode":"id","value":"workflow_get"},"inputMode":"json","jsonInput":"{\"workflow_id\":\"XYZ-000001\"}","options":{}},
   "id":"mcp","name":"MCP","type":"@n8n/n8n-nodes-langchain.mcpClient","typeVersion":1,"position":[220,0],
   "credentials":{"httpHeaderAuth":{"id":"airails-agent-key","name":"AI Rails agent key"}}}]}
JSON
"$n8n" import:workflow --separate --input="$work/flows" >/dev/null
for id in AiRailsApproval1 AiRailsNotify001; do "$n8n" update:workflow --id=$id --active=true >/dev/null 2>&1; done

# The failure-triage flow, run once from the CLI before n8n starts: it
# stores a run and finds its failure seen before in another workflow, with
# that workflow's status.
curl -sf -o /dev/null "${auth[@]}" -H 'Content-Type: application/json' "$api/api/workflow/state" \
  -d '{"workflow_id":"XYZ-000001","feature_description":"orders","status":"completed"}'
curl -sf -o /dev/null "${auth[@]}" -H 'Content-Type: application/json' "$api/api/results" \
  -d '{"workflow_id":"XYZ-000001","test_suite":"unit","cases":[{"name":"test_orders","classname":"tests.db","outcome":"failed","message":"E       ConnectionRefusedError: [Errno 111] Connection refused to db:6543"}]}'
"$n8n" execute --id=AiRailsFailureTriage1 2>/dev/null | sed -n '/^{/,$p' > "$work/triage.json"
seen=$(jq -r '.data.resultData.runData.Triage[0].data.main[0][0].json.seen_in' "$work/triage.json")
[[ $seen == "XYZ-000001 (completed)" ]] || fail "the triage flow says the failure was seen in '$seen'"
echo "ok   the triage flow stored a run and found its failure seen before in $seen"
"$n8n" execute --id=AiRailsMcpClient1 2>/dev/null | sed -n '/^{/,$p' > "$work/mcp-client.out"
status=$(jq -r '.data.resultData.runData.MCP[0].data.main[0][0].json.content[0].text.status // empty' "$work/mcp-client.out")
[[ $status == completed ]] || { head -c 2000 "$work/mcp-client.out"; fail "n8n's MCP Client node did not read XYZ-000001 through /mcp"; }
echo "ok   n8n's MCP Client node called workflow_get on /mcp: XYZ-000001 is $status"

python3 -W ignore scripts/smtp-sink.py 2525 "$work/mail" &
sink_pid=$!
"$n8n" start > "$work/n8n.log" 2>&1 &
n8n_pid=$!
for _ in $(seq 90); do curl -sf -o /dev/null $hook/healthz && break; sleep 1; done

start() { # workflow id, then extra JSON members of the flow's input
  # The trigger's webhook is registered a little after n8n reports healthy.
  for _ in $(seq 60); do
    curl -sf -X POST -H 'Content-Type: application/json' -d "{\"workflow_id\":\"$1\",\"feature_description\":\"e2e\"${2:+,$2}}" \
      $hook/webhook/ai-rails-approval-flow >/dev/null && return
    sleep 0.5
  done
  fail "n8n did not start a run for $1"
}
approval() { # workflow id: its approval, once n8n has requested it and waits on it
  local a=""
  for _ in $(seq 100); do
    a=$(curl -s "${auth[@]}" "$api/api/approval?workflow_id=$1" | jq -c '.items[0] // empty')
    [[ -n $a ]] && break; sleep 0.2
  done
  [[ -n $a ]] || fail "n8n requested no approval for $1"
  echo "$a"
}
decide() { # approval id, decision
  curl -sf "${auth[@]}" -H 'Content-Type: application/json' -d "{\"decision\":\"$2\",\"approver\":\"e2e\"}" \
    "$api/api/approval/$1/decision" >/dev/null
}
state() { curl -s "${auth[@]}" "$api/api/workflow/state/$1"; }
settles() { # workflow id, jq test of its state, seconds
  for _ in $(seq $(($3 * 5))); do state "$1" | jq -e "$2" >/dev/null && return; sleep 0.2; done
  fail "$1 never reached $2: $(state "$1")"
}
delivered() { # approval id
  curl -s "${auth[@]}" "$api/api/approval/$1/audit" | jq -e '[.events[].type] | index("webhook_delivered")' >/dev/null \
    || fail "no webhook_delivered in the audit of $1"
}

# The expired run first: it takes longest (60 s, the shortest expiry, and
# the minute past it that the Wait node waits).
start NEN-000005 '"expires_in_seconds":60'
start NEN-000001; start NEN-000002; start NEN-000006; start NEN-000007; start NEN-000008
start NEN-000003 '"approvers":["alice@example.com","bob@example.com","carol@example.com"],"min_approvals":2'

a1=$(approval NEN-000001 | jq -r .approval_id); decide "$a1" approved
a2=$(approval NEN-000002 | jq -r .approval_id); decide "$a2" rejected
settles NEN-000001 '.current_stage == "approved" and .status == "in_progress" and .metadata.approver == "e2e"' 20
delivered "$a1"
echo "ok   NEN-000001: approved, n8n resumed, read the approval back and set stage approved"
settles NEN-000002 '.current_stage == "rejected" and .status == "failed"' 20
delivered "$a2"
echo "ok   NEN-000002: rejected, n8n resumed, read the approval back and set stage rejected"

# Forged resumes: the resume URL is the approval's callback_url.
forged=$(approval NEN-000006)
a6=$(jq -r .approval_id <<< "$forged") resume=$(jq -r .callback_url <<< "$forged")
jwt() { # secret, seconds from now to exp
  node -e 'const c=require("crypto"),[s,e]=process.argv.slice(1),b=o=>Buffer.from(JSON.stringify(o)).toString("base64url"),n=Math.floor(Date.now()/1e3);
    const h=b({alg:"HS256",typ:"JWT"})+"."+b({iss:"ai-rails-state-service",sub:"x",event:"approval.decided",iat:n,exp:n+Number(e)});
    console.log(h+"."+c.createHmac("sha256",s).update(h).digest("base64url"))' "$1" "$2"
}
body='{"event":"approval.decided","approval_id":"'$a6'","status":"approved","decision":{"decision":"approved","approver":"mallory"}}'
for try in "none:" "another secret:Bearer $(jwt "not-$jwt_secret" 300)" "expired:Bearer $(jwt "$jwt_secret" -60)"; do
  hdr=(); [[ -n ${try#*:} ]] && hdr=(-H "Authorization: ${try#*:}")
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' "${hdr[@]}" -d "$body" "$resume")
  [[ $code == 401 || $code == 403 ]] || fail "a forged resume (JWT: ${try%%:*}) answered $code"
done
sleep 1
state NEN-000006 | jq -e '.current_stage == "awaiting_approval" and .status == "in_progress"' >/dev/null || fail "a forged resume moved NEN-000006: $(state NEN-000006)"
decide "$a6" approved
settles NEN-000006 '.current_stage == "approved" and .metadata.approver == "e2e"' 20
echo "ok   NEN-000006: resumes without the JWT, with another secret's and with an expired one were refused (401/403); the run waited on for the real decision"

# A resume with the service's own token but no decision behind it (as a
# reminder is, or a token stolen with its body rewritten) moves nothing: the
# flow reads the approval (pending, after ?wait=25) and goes back to waiting.
a8=$(approval NEN-000008 | jq -r .approval_id) resume8=$(approval NEN-000008 | jq -r .callback_url)
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $(jwt "$jwt_secret" 300)" \
  -d "${body//$a6/$a8}" "$resume8")
[[ $code == 200 ]] || fail "a resume with the service's JWT answered $code"
resumed8=$SECONDS

# A failure after the Wait node: the state changes while the run waits, so
# the flow's If-Match fails three times and its error branch records it.
a7=$(approval NEN-000007 | jq -r .approval_id)
curl -sf -o /dev/null -X PATCH "${auth[@]}" -H 'Content-Type: application/json' -d '{"metadata":{"note":"changed while waiting"}}' "$api/api/workflow/state/NEN-000007"
decide "$a7" approved
settles NEN-000007 '.status == "failed" and .metadata.approval_status == "approved" and (.metadata.outcome_error | test("412|recondition"))' 40
echo "ok   NEN-000007: recording the decision failed (412 after three tries); the error branch marked the workflow failed: $(state NEN-000007 | jq -c '.metadata | {approval_status, outcome_error}')"

# Two of three approvers, through the links the notification flow mailed.
links=""
for _ in $(seq 100); do
  links=$(python3 -c '
import email, glob, re, sys
for f in sorted(glob.glob(sys.argv[1] + "/*.eml")):
    m = email.message_from_binary_file(open(f, "rb"))
    part = next((p for p in m.walk() if p.get_content_type() == "text/plain"), m)
    body = part.get_payload(decode=True).decode()
    print(m["To"], re.search(r"http://\S+/approve/[A-Za-z0-9_-]+", body).group(0))
' "$work/mail" 2>/dev/null | grep -E '^(alice|bob|carol)@' | sort -u || true)
  [[ $(wc -l <<< "$links") -ge 3 ]] && break; sleep 0.2
done
[[ -n $links && $(wc -l <<< "$links") -eq 3 ]] || fail "n8n mailed no three links: '$links'"
echo "ok   the notification flow (JWT checked) mailed each approver their own link"
for who in alice bob; do
  link=$(grep "^$who@" <<< "$links" | cut -d' ' -f2)
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: null' -d decision=approved "$link")
  [[ $code == 303 ]] || fail "$who's vote answered $code"
done
settles NEN-000003 '.current_stage == "approved"' 20
echo "ok   NEN-000003: two of three approved through their links, n8n resumed and set stage approved"

# A forged approval.requested mails nothing: the notification flow's webhook
# wants the service's JWT.
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  -d '{"event":"approval.requested","approval_id":"x","links":{"mallory@example.com":"http://evil.example/approve/x"}}' \
  $hook/webhook/ai-rails-approval-notify)
[[ $code == 401 || $code == 403 ]] || fail "a forged approval.requested answered $code"
! grep -lq 'mallory@example.com' "$work"/mail/*.eml || fail "a forged approval.requested was mailed"
echo "ok   a forged approval.requested was refused ($code) and mailed nothing"

# Every write the flows made carried an Idempotency-Key built from the
# workflow id, the run's random key (kept in the state's metadata as n8n_run)
# and the step: replaying NEN-000001's first write under its key answers
# the first answer (version 1), not a new write.
run=$(state NEN-000001 | jq -r .metadata.n8n_run)
replay=$(curl -s "${auth[@]}" -H 'Content-Type: application/json' -H "Idempotency-Key: NEN-000001:$run:save-state" "$api/api/workflow/state" \
  -d "{\"workflow_id\":\"NEN-000001\",\"feature_description\":\"e2e\",\"status\":\"in_progress\",\"current_stage\":\"awaiting_approval\",\"metadata\":{\"n8n_run\":\"$run\"}}")
[[ $(jq -r .version <<< "$replay") == 1 && $(state NEN-000001 | jq -r .version) -ge 2 ]] || fail "replaying NEN-000001:$run:save-state answered $replay"
echo "ok   the flow's writes carry Idempotency-Key <workflow>:<run>:<step>: replaying NEN-000001:$run:save-state answered its first answer"

# An agent asks for approval through MCP: the service sends approval.requested
# to the notification flow, which mails dave and erin their links; the agent
# sees none.
curl -sf -o /dev/null "${auth[@]}" -H 'Content-Type: application/json' "$api/api/workflow/state" \
  -d '{"workflow_id":"NEN-000004","feature_description":"agent deploy"}'
mcp_call=$(curl -s -H "x-api-key: $agentkey" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' "$api/mcp" \
  -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"approval_request","arguments":{"workflow_id":"NEN-000004","request_type":"deploy","content":"Deploy NEN-000004","requester":"agent-7","approvers":["dave@example.com","erin@example.com"]}}}')
jq -e '.result.isError != true' <<< "$mcp_call" >/dev/null || fail "approval_request: $mcp_call"
! grep -q '/approve/' <<< "$mcp_call" || fail "the agent saw a link"
mailed=0
for _ in $(seq 100); do
  mailed=$( (grep -lE '^To: (dave|erin)@example.com' "$work"/mail/*.eml 2>/dev/null || true) | wc -l)
  [[ $mailed -ge 2 ]] && break; sleep 0.2
done
[[ $mailed -eq 2 ]] || fail "the notification flow mailed $mailed links for the agent's approval, want 2"
echo "ok   an agent's approval_request through MCP: the notification flow mailed dave and erin their links; the agent saw none"

# n8n's key cannot decide.
code=$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $n8nkey" -H 'Content-Type: application/json' \
  -d '{"decision":"approved","approver":"n8n"}' "$api/api/approval/$a1/decision")
[[ $code == 403 ]] || fail "n8n's key decided ($code)"
echo "ok   n8n's key (read, write) cannot decide: 403"

sleep $((resumed8 + 30 - SECONDS > 0 ? resumed8 + 30 - SECONDS : 0))
state NEN-000008 | jq -e '.current_stage == "awaiting_approval" and .status == "in_progress"' >/dev/null || fail "a resume that came with no decision moved NEN-000008: $(state NEN-000008)"
decide "$a8" approved
settles NEN-000008 '.current_stage == "approved" and .metadata.approver == "e2e"' 20
echo "ok   NEN-000008: a resume with the service's JWT but no decision (mallory's body) moved nothing; the run read the approval (pending), went back to waiting, and took the real decision"

# The expired run: no webhook comes (the sweeper is held back); the Wait
# node's time limit resumes it, and the approval read back says expired.
settles NEN-000005 '.current_stage == "expired" and .status == "failed"' 150
echo "ok   NEN-000005: nobody decided; the Wait node's time limit resumed the run, which read the approval back (expired) and set stage expired"
echo "ok   all in ${SECONDS} s"
