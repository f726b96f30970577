// Drives the service's MCP server with the official MCP TypeScript SDK's
// client, as an agent would: MCP_URL (http://.../mcp) and API_KEY come from
// the environment (functions/local's TestOfficialMCPClient starts make
// run's stack and sets them). Every check that fails throws; the last line
// printed is a JSON summary for the Go test.
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const url = new URL(process.env.MCP_URL);
const key = process.env.API_KEY;
const api = url.origin;
const wf = "MCP-" + String(Date.now() % 1000000).padStart(6, "0");

function client() {
  return new Client({ name: "mcp-sdk-check", version: "1.0.0" });
}
function transport(k) {
  return new StreamableHTTPClientTransport(url, { requestInit: { headers: k ? { "x-api-key": k } : {} } });
}

// Without the key, nothing: initialize is refused.
await assert.rejects(client().connect(transport("")), /403|Forbidden|forbidden/);

const c = client();
await c.connect(transport(key));
assert.equal(c.getServerVersion().name, "ai-rails-state");
assert.match(c.getInstructions() ?? "", /approval_wait/);

const { tools } = await c.listTools();
const names = tools.map((t) => t.name).sort();
assert.deepEqual(names, ["approval_get", "approval_request", "approval_wait", "failures_similar", "results_record",
  "tests_flaky", "workflow_get", "workflow_history", "workflow_update"]);
for (const t of tools) {
  assert.equal(t.inputSchema.type, "object", t.name);
  assert.equal(t.outputSchema?.type, "object", t.name);
  assert.equal(typeof t.annotations?.readOnlyHint, "boolean", t.name);
  assert.equal(typeof t.annotations?.destructiveHint, "boolean", t.name);
  assert.ok(!/decide|delete/.test(t.name), t.name);
}

// A workflow to work on, made through REST as n8n would.
const made = await fetch(api + "/api/workflow/state", {
  method: "POST", headers: { "x-api-key": key, "Content-Type": "application/json" },
  body: JSON.stringify({ workflow_id: wf, feature_description: "login page" }),
});
assert.equal(made.status, 201);

// The client validates structuredContent against each output schema.
let r = await c.callTool({ name: "workflow_get", arguments: { workflow_id: wf } });
assert.equal(r.isError, undefined ?? r.isError);
assert.equal(r.structuredContent.version, 1);
r = await c.callTool({ name: "workflow_update", arguments: { workflow_id: wf, status: "in_progress", current_stage: "red", expected_version: 1 } });
assert.ok(!r.isError, JSON.stringify(r));
assert.equal(r.structuredContent.version, 2);
r = await c.callTool({ name: "workflow_update", arguments: { workflow_id: wf, current_stage: "green", expected_version: 1 } });
assert.equal(r.isError, true);
assert.equal(JSON.parse(r.content[0].text).type, "urn:ai-rails:problem:precondition-failed");
r = await c.callTool({ name: "workflow_get", arguments: { workflow_id: "nope" } });
assert.equal(r.isError, true);
const problem = JSON.parse(r.content[0].text);
assert.equal(problem.type, "urn:ai-rails:problem:validation");
assert.equal(problem.errors[0].field, "workflow_id");

r = await c.callTool({ name: "workflow_history", arguments: { workflow_id: wf } });
assert.equal(r.structuredContent.events.length, 2);

r = await c.callTool({ name: "approval_request", arguments: {
  workflow_id: wf, request_type: "deploy", content: "Deploy build 42", requester: "agent-7", approvers: ["alice"],
  remind_after_seconds: [600], on_timeout: "rejected" } });
assert.ok(!r.isError, JSON.stringify(r));
const approval = r.structuredContent;
assert.equal(approval.status, "pending");
assert.equal(approval.links, undefined, "the agent never sees a link");
assert.ok(!JSON.stringify(r).includes("/approve/"));

r = await c.callTool({ name: "approval_wait", arguments: { approval_id: approval.approval_id, timeout_seconds: 1 } });
assert.equal(r.structuredContent.final, false);
assert.equal(r.structuredContent.poll_after_ms, 1000);
r = await c.callTool({ name: "approval_get", arguments: { approval_id: approval.approval_id } });
assert.equal(r.structuredContent.on_timeout, "rejected");

r = await c.callTool({ name: "results_record", arguments: { workflow_id: wf, test_suite: "unit", format: "junit",
  report: '<testsuite name="unit"><testcase name="TestA" time="0.1"/><testcase name="TestB" time="0.2"><failure message="boom">expected 1, got 2</failure></testcase></testsuite>' } });
assert.ok(!r.isError, JSON.stringify(r));
assert.equal(r.structuredContent.failed, 1);
r = await c.callTool({ name: "tests_flaky", arguments: { test_suite: "unit" } });
assert.ok(Array.isArray(r.structuredContent.items));
r = await c.callTool({ name: "failures_similar", arguments: { text: "expected 1, got 2" } });
assert.ok(!r.isError, JSON.stringify(r));

// No tool decides: there is none to call.
await assert.rejects(c.callTool({ name: "approval_decide", arguments: { approval_id: approval.approval_id } }), /-32602|not found|unknown/i);

await c.close();
console.log(JSON.stringify({ ok: true, workflow_id: wf, approval_id: approval.approval_id, tools: names.length }));
