#!/usr/bin/env bash
# End-to-end run of events/n8n/approval-flow.json, approval-links-flow.json,
# approval-notify-flow.json, failure-triage-flow.json and agent-mcp-flow.json
# (imported) in a real n8n (1.123.x, the newest line that runs on Node 20): the local
# stack, n8n importing the workflows and their credentials, one run approved
# and one rejected through the API, and one decided by two of three
# approvers through the links n8n emailed them (to a local SMTP sink).
# Heavy (n8n is about 1.8 GB of npm packages), so it is not part of
# make test. Usage: scripts/n8n-e2e.sh [n8n folder, default /tmp/n8n]
set -euo pipefail
cd "$(dirname "$0")/.."
n8n_dir=${1:-/tmp/n8n}
work=$(mktemp -d)
api=http://127.0.0.1:3000

if [[ ! -x $n8n_dir/node_modules/.bin/n8n ]]; then
  mkdir -p "$n8n_dir"
  cat > "$n8n_dir/package.json" <<'JSON'
{ "private": true, "dependencies": { "n8n": "1.123.81" }, "overrides": { "xlsx": "0.18.5" } }
JSON
  (cd "$n8n_dir" && npm install --no-audit --no-fund --ignore-scripts && npm rebuild sqlite3)
fi

# A stack or n8n left running from before would answer in place of ours.
for port in 3000 5678 2525; do
  if (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
    echo "FAIL: something already listens on 127.0.0.1:$port (an earlier make run or n8n?); stop it first"; exit 1
  fi
done

cleanup() { kill "${stack_pid:-}" "${n8n_pid:-}" "${sink_pid:-}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/local" ./functions/local
# n8n's key may read and write, not decide; the agent's may also use MCP.
# The default key (every scope) decides, as a person would.
n8nkey=n8n-$(openssl rand -hex 16) agentkey=agent-$(openssl rand -hex 16)
DATA_DIR=$work/data LOG_LEVEL=warn APPROVAL_NOTIFY_URL=http://127.0.0.1:5678/webhook/ai-rails-approval-notify \
  API_KEYS="[{\"name\":\"n8n\",\"key\":\"$n8nkey\",\"scopes\":[\"read\",\"write\"]},{\"name\":\"agent\",\"key\":\"$agentkey\",\"scopes\":[\"read\",\"write\",\"mcp\"]}]" \
  "$work/local" > "$work/stack.out" 2>&1 &
stack_pid=$!
for _ in $(seq 50); do [[ -f $work/data/secrets.json ]] && curl -sf -o /dev/null "$api/api/openapi.json" -H "x-api-key: $(jq -r .api_key "$work/data/secrets.json")" && break; sleep 0.2; done
key=$(jq -r .api_key "$work/data/secrets.json")

export N8N_USER_FOLDER=$work/n8n N8N_EXPRESSION_ENGINE=legacy N8N_RUNNERS_ENABLED=false \
       N8N_DIAGNOSTICS_ENABLED=false N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS=false AI_RAILS_URL=$api
n8n=$n8n_dir/node_modules/.bin/n8n
printf '[{"id":"airails-api-key","name":"AI Rails API key","type":"httpHeaderAuth","data":{"name":"x-api-key","value":"%s"}},{"id":"airails-agent-key","name":"AI Rails agent key","type":"httpHeaderAuth","data":{"name":"x-api-key","value":"%s"}}]' "$n8nkey" "$agentkey" > "$work/creds.json"
"$n8n" import:credentials --input="$work/creds.json" >/dev/null
"$n8n" import:workflow --input=events/n8n/approval-flow.json >/dev/null
"$n8n" update:workflow --id=AiRailsApproval1 --active=true >/dev/null 2>&1
# The links flow mails through the placeholder credential, pointed here at a
# local SMTP sink that keeps each message in $work/mail.
python3 -W ignore scripts/smtp-sink.py 2525 "$work/mail" &
sink_pid=$!
printf '[{"id":"smtp-placeholder","name":"SMTP (placeholder: set your server)","type":"smtp","data":{"user":"","password":"","host":"127.0.0.1","port":2525,"secure":false,"disableStartTls":true}}]' > "$work/smtp.json"
"$n8n" import:credentials --input="$work/smtp.json" >/dev/null
"$n8n" import:workflow --input=events/n8n/approval-links-flow.json >/dev/null
"$n8n" update:workflow --id=AiRailsLinks0001 --active=true >/dev/null 2>&1

# The failure-triage flow, run once from the CLI before n8n starts: it
# stores a run and finds its failure seen before in another workflow, with
# that workflow's status.
curl -sf -o /dev/null -H "x-api-key: $key" -H 'Content-Type: application/json' "$api/api/workflow/state" \
  -d '{"workflow_id":"XYZ-000001","feature_description":"orders","status":"completed"}'
curl -sf -o /dev/null -H "x-api-key: $key" -H 'Content-Type: application/json' "$api/api/results" \
  -d '{"workflow_id":"XYZ-000001","test_suite":"unit","cases":[{"name":"test_orders","classname":"tests.db","outcome":"failed","message":"E       ConnectionRefusedError: [Errno 111] Connection refused to db:6543"}]}'
"$n8n" import:workflow --input=events/n8n/failure-triage-flow.json >/dev/null
"$n8n" execute --id=AiRailsFailureTriage1 2>/dev/null | sed -n '/^{/,$p' > "$work/triage.json"
seen=$(jq -r '.data.resultData.runData.Triage[0].data.main[0][0].json.seen_in' "$work/triage.json")
[[ $seen == "XYZ-000001 (completed)" ]] || { echo "FAIL: the triage flow says the failure was seen in '$seen'"; exit 1; }
echo "ok   the triage flow stored a run and found its failure seen before in $seen"
# n8n's own MCP client (the MCP Client node) calls workflow_get on /mcp
# with the API key credential.
cat > "$work/mcp-client.json" <<JSON
{"id":"AiRailsMcpClient1","name":"MCP client check","active":false,"settings":{"executionOrder":"v1"},
 "connections":{"Run":{"main":[[{"node":"MCP","type":"main","index":0}]]}},
 "nodes":[{"parameters":{},"id":"run","name":"Run","type":"n8n-nodes-base.manualTrigger","typeVersion":1,"position":[0,0]},
  {"parameters":{"endpointUrl":"$api/mcp","serverTransport":"httpStreamable","authentication":"headerAuth",
    "tool":{"__rl":true,"mode":"id","value":"workflow_get"},"inputMode":"json","jsonInput":"{\"workflow_id\":\"XYZ-000001\"}","options":{}},
   "id":"mcp","name":"MCP","type":"@n8n/n8n-nodes-langchain.mcpClient","typeVersion":1,"position":[220,0],
   "credentials":{"httpHeaderAuth":{"id":"airails-agent-key","name":"AI Rails agent key"}}}]}
JSON
"$n8n" import:workflow --input="$work/mcp-client.json" >/dev/null
"$n8n" execute --id=AiRailsMcpClient1 2>/dev/null | sed -n '/^{/,$p' > "$work/mcp-client.out"
status=$(jq -r '.data.resultData.runData.MCP[0].data.main[0][0].json.content[0].text.status // empty' "$work/mcp-client.out")
[[ $status == completed ]] || { echo "FAIL: n8n's MCP Client node did not read XYZ-000001 through /mcp"; head -c 2000 "$work/mcp-client.out"; exit 1; }
echo "ok   n8n's MCP Client node called workflow_get on /mcp: XYZ-000001 is $status"

# The agent flow imports (its chat model needs an API this machine cannot
# reach, so it is not run); the notification flow mails approvers their
# links.
printf '[{"id":"anthropic-placeholder","name":"Anthropic (placeholder: set your key)","type":"anthropicApi","data":{"apiKey":"placeholder"}}]' > "$work/anthropic.json"
"$n8n" import:credentials --input="$work/anthropic.json" >/dev/null
"$n8n" import:workflow --input=events/n8n/agent-mcp-flow.json >/dev/null
"$n8n" import:workflow --input=events/n8n/approval-notify-flow.json >/dev/null
"$n8n" update:workflow --id=AiRailsNotify001 --active=true >/dev/null 2>&1
NODE_FUNCTION_ALLOW_BUILTIN=crypto AI_RAILS_WEBHOOK_SECRET=$(jq -r .webhook_secret "$work/data/secrets.json") \
  "$n8n" start > "$work/n8n.log" 2>&1 &
n8n_pid=$!
for _ in $(seq 90); do curl -sf -o /dev/null http://localhost:5678/healthz && break; sleep 1; done

run() { # workflow id, decision, expected stage
  # The trigger's webhook is registered a little after n8n reports healthy.
  for _ in $(seq 60); do
    curl -sf -X POST -H 'Content-Type: application/json' -d "{\"workflow_id\":\"$1\",\"feature_description\":\"e2e\"}" \
      http://localhost:5678/webhook/ai-rails-approval-flow >/dev/null && break
    sleep 0.5
  done
  local aid=""
  for _ in $(seq 50); do
    aid=$(curl -s -H "x-api-key: $key" "$api/api/approval?workflow_id=$1" | jq -r '.items[0].approval_id // empty')
    [[ -n $aid ]] && break; sleep 0.2
  done
  [[ -n $aid ]] || { echo "FAIL: n8n requested no approval for $1"; return 1; }
  curl -sf -H "x-api-key: $key" -H 'Content-Type: application/json' -d "{\"decision\":\"$2\",\"approver\":\"e2e\"}" \
    "$api/api/approval/$aid/decision" >/dev/null
  local stage=""
  for _ in $(seq 50); do
    stage=$(curl -s -H "x-api-key: $key" "$api/api/workflow/state/$1" | jq -r .current_stage)
    [[ $stage == "$3" ]] && break; sleep 0.2
  done
  [[ $stage == "$3" ]] || { echo "FAIL: $1 is at stage '$stage', want '$3'"; return 1; }
  curl -s -H "x-api-key: $key" "$api/api/approval/$aid/audit" | jq -e '[.events[].type] | index("webhook_delivered")' >/dev/null \
    || { echo "FAIL: no webhook_delivered in the audit of $aid"; return 1; }
  echo "ok   $1: $2, n8n resumed and set stage $3"
}
run NEN-000001 approved approved
run NEN-000002 rejected rejected

# Two of three approvers, through the links n8n emailed them.
for _ in $(seq 60); do
  curl -sf -X POST -H 'Content-Type: application/json' -d '{"workflow_id":"NEN-000003","feature_description":"e2e links"}' \
    http://localhost:5678/webhook/ai-rails-approval-links-flow >/dev/null && break
  sleep 0.5
done
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
[[ -n $links && $(wc -l <<< "$links") -eq 3 ]] || { echo "FAIL: n8n mailed no three links: '$links'"; ls "$work/mail" 2>&1; tail -40 "$work/n8n.log"; exit 1; }
echo "ok   n8n mailed each approver their own link"
for who in alice bob; do
  link=$(grep "^$who@" <<< "$links" | cut -d' ' -f2)
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Origin: null' -d decision=approved "$link")
  [[ $code == 303 ]] || { echo "FAIL: $who's vote answered $code"; exit 1; }
done
stage=""
for _ in $(seq 50); do
  stage=$(curl -s -H "x-api-key: $key" "$api/api/workflow/state/NEN-000003" | jq -r .current_stage)
  [[ $stage == approved ]] && break; sleep 0.2
done
[[ $stage == approved ]] || { echo "FAIL: NEN-000003 is at stage '$stage', want 'approved'"; exit 1; }
echo "ok   NEN-000003: two of three approved through their links, n8n resumed and set stage approved"

# Every write the flow made carried an Idempotency-Key (a run key made in
# the Inputs node, then the node's name): four writes a run, each recorded.
rest=$(awk '/Upstash REST/{print $3}' "$work/stack.out")
records=$(curl -s -H "Authorization: Bearer $(jq -r .rest_token "$work/data/secrets.json")" "$rest/keys/ai_rails_idempotency_*" | jq '.result | length')
[[ $records -ge 9 ]] || { echo "FAIL: $records idempotency records, want at least 9 (3 writes a run, 3 runs)"; exit 1; }
echo "ok   $records writes were made with an Idempotency-Key"

# An agent asks for approval through MCP; the service sends the signed
# approval.requested to the agent flow's webhook, which checks the signature
# and mails each approver their link. A forged request mails nothing.
curl -sf -o /dev/null -H "x-api-key: $key" -H 'Content-Type: application/json' "$api/api/workflow/state" \
  -d '{"workflow_id":"NEN-000004","feature_description":"agent deploy"}'
mcp_call=$(curl -s -H "x-api-key: $agentkey" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' "$api/mcp" \
  -d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"approval_request","arguments":{"workflow_id":"NEN-000004","request_type":"deploy","content":"Deploy NEN-000004","requester":"agent-7","approvers":["dave@example.com","erin@example.com"]}}}')
jq -e '.result.isError != true' <<< "$mcp_call" >/dev/null || { echo "FAIL: approval_request: $mcp_call"; exit 1; }
! grep -q '/approve/' <<< "$mcp_call" || { echo "FAIL: the agent saw a link"; exit 1; }
curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -H 'X-AIRails-Signature-256: sha256=00' \
  -d '{"event":"approval.requested","approval_id":"x","links":{"mallory@example.com":"http://evil.example/approve/x"}}' \
  http://localhost:5678/webhook/ai-rails-approval-notify
agent_links=""
for _ in $(seq 100); do
  agent_links=$( (grep -lE '^To: (dave|erin)@example.com' "$work"/mail/*.eml 2>/dev/null || true) | wc -l)
  [[ $agent_links -ge 2 ]] && break; sleep 0.2
done
[[ $agent_links -eq 2 ]] || { echo "FAIL: the agent flow mailed $agent_links links, want 2"; tail -40 "$work/n8n.log"; exit 1; }
! grep -lq 'mallory@example.com' "$work"/mail/*.eml || { echo "FAIL: a forged approval.requested was mailed"; exit 1; }
echo "ok   an agent's approval_request: the notification flow checked the signature and mailed dave and erin their links; a forged one mailed nothing"
# n8n's key cannot decide.
code=$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $n8nkey" -H 'Content-Type: application/json' \
  -d '{"decision":"approved","approver":"n8n"}' "$api/api/approval/$(jq -r .result.structuredContent.approval_id <<< "$mcp_call")/decision")
[[ $code == 403 ]] || { echo "FAIL: n8n's key decided ($code)"; exit 1; }
echo "ok   n8n's key (read, write) cannot decide: 403"
