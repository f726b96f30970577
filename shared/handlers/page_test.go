package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/handlers"
	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
	"github.com/ai-rails/state-service/shared/wiring"
)

const hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>\nsecond line"

// newApproval creates a workflow and an approval for alice, bob and carol,
// two of whom must approve, and returns its answer.
func newApproval(t *testing.T, e *servicetest.Env, extra map[string]any) servicetest.Answer {
	t.Helper()
	require.Equal(t, http.StatusCreated, e.Do(servicetest.Req{Method: "POST", Path: "/api/workflow/state",
		Body: map[string]any{"workflow_id": "ABC-123456", "feature_description": "x"}}).Status)
	body := map[string]any{"workflow_id": "ABC-123456", "request_type": "deploy", "content": hostile, "requester": "ci-bot",
		"approvers": []string{"alice", "bob", "carol"}, "min_approvals": 2}
	for k, v := range extra {
		body[k] = v
	}
	a := e.Do(servicetest.Req{Method: "POST", Path: "/api/approval", Body: body, Header: map[string]string{"Idempotency-Key": "ask-1"}})
	require.Equal(t, http.StatusCreated, a.Status, "%s", a.Raw)
	return a
}

// linkPath is the path of an approver's link (links are absolute URLs).
func linkPath(t *testing.T, a servicetest.Answer, who string) string {
	t.Helper()
	u, err := url.Parse(a.Body["links"].(map[string]any)[who].(string))
	require.NoError(t, err)
	return u.Path
}

func vote(e *servicetest.Env, path, decision, comment string, header map[string]string) servicetest.Answer {
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin", "x-api-key": ""}
	for k, v := range header {
		h[k] = v
	}
	form := url.Values{"decision": {decision}}
	if comment != "" {
		form.Set("comment", comment)
	}
	return e.Do(servicetest.Req{Method: "POST", Path: path, Body: form.Encode(), Header: h})
}

func open(e *servicetest.Env, path string) servicetest.Answer {
	return e.Do(servicetest.Req{Method: "GET", Path: path, Header: map[string]string{"x-api-key": ""}})
}

// An approval with approvers answers each one's link on create and on its
// replay, never on GET, and cannot be decided through the API.
func TestApproversGetLinks(t *testing.T) {
	e := servicetest.New(t, upstashtest.Mini(t))
	a := newApproval(t, e, nil)
	links := a.Body["links"].(map[string]any)
	require.Len(t, links, 3)
	for _, who := range []string{"alice", "bob", "carol"} {
		assert.Regexp(t, `/approve/[A-Za-z0-9_-]{66}$`, links[who])
	}
	assert.NotEqual(t, links["alice"], links["bob"])
	again := e.Do(servicetest.Req{Method: "POST", Path: "/api/approval", Header: map[string]string{"Idempotency-Key": "ask-1"},
		Body: map[string]any{"workflow_id": "ABC-123456", "request_type": "deploy", "content": hostile, "requester": "ci-bot",
			"approvers": []string{"alice", "bob", "carol"}, "min_approvals": 2}})
	assert.Equal(t, links, again.Body["links"], "the replay answers the same links")

	id := a.Body["approval_id"].(string)
	got := e.Do(servicetest.Req{Method: "GET", Path: "/api/approval/" + id})
	assert.NotContains(t, got.Body, "links")
	assert.Equal(t, []any{"alice", "bob", "carol"}, got.Body["approvers"])
	assert.Equal(t, float64(2), got.Body["min_approvals"])
	assert.Equal(t, []any{}, got.Body["votes"])

	d := e.Do(servicetest.Req{Method: "POST", Path: "/api/approval/" + id + "/decision", Body: map[string]any{"decision": "approved", "approver": "alice"}})
	assert.Equal(t, http.StatusForbidden, d.Status)
	assert.Equal(t, "urn:ai-rails:problem:forbidden", d.Body["type"])

	for name, body := range map[string]map[string]any{
		"the requester":  {"approvers": []string{"alice", "CI-Bot"}},
		"twice":          {"approvers": []string{"alice", "Alice"}},
		"min over count": {"min_approvals": 4},
		"min, no list":   {"approvers": nil, "min_approvals": 1},
		"twenty-one":     {"approvers": strings.Split(strings.Repeat("a,", 20)+"b", ",")},
	} {
		b := map[string]any{"workflow_id": "ABC-123456", "request_type": "deploy", "content": "x", "requester": "ci-bot",
			"approvers": []string{"alice", "bob", "carol"}, "min_approvals": 2}
		for k, v := range body {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		r := e.Do(servicetest.Req{Method: "POST", Path: "/api/approval", Body: b})
		assert.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", name, r.Raw)
	}
}

// The page shows the request as text, with its headers; opening it changes
// nothing; two of three approve through their links; a vote is taken once.
func TestTwoOfThreeThroughThePage(t *testing.T) {
	e := servicetest.New(t, upstashtest.Mini(t))
	a := newApproval(t, e, nil)
	alice, bob, carol := linkPath(t, a, "alice"), linkPath(t, a, "bob"), linkPath(t, a, "carol")

	before := e.Snapshot()
	p := open(e, alice)
	require.Equal(t, http.StatusOK, p.Status)
	assert.Equal(t, before, e.Snapshot(), "opening a link changes nothing")
	page := string(p.Raw)
	assert.Contains(t, page, "&lt;script&gt;alert(1)&lt;/script&gt;")
	assert.NotContains(t, page, "<script>")
	assert.NotContains(t, page, "<img")
	assert.Contains(t, page, `name="decision" value="approved"`)
	assert.Contains(t, page, "You are voting as <strong>alice</strong>")
	assert.Contains(t, p.Header.Get("Content-Type"), "text/html")
	csp := p.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'sha256-", "form-action 'self'", "frame-ancestors 'none'"} {
		assert.Contains(t, csp, want)
	}
	assert.Equal(t, "no-referrer", p.Header.Get("Referrer-Policy"))
	assert.Equal(t, "nosniff", p.Header.Get("X-Content-Type-Options"))
	assert.Equal(t, "no-store", p.Header.Get("Cache-Control"))

	v := vote(e, alice, "approved", "ship it", nil)
	require.Equal(t, http.StatusSeeOther, v.Status, "%s", v.Raw)
	assert.Equal(t, alice, v.Header.Get("Location"))
	assert.Equal(t, http.StatusSeeOther, vote(e, alice, "approved", "ship it", nil).Status, "the same vote again stands")
	assert.Equal(t, http.StatusConflict, vote(e, alice, "rejected", "", nil).Status, "another vote by the same approver")
	assert.Contains(t, string(open(e, alice).Raw), "alice: approved (ship it)")

	require.Equal(t, http.StatusSeeOther, vote(e, bob, "approved", "", nil).Status)
	final := open(e, carol)
	assert.Contains(t, string(final.Raw), "This request is approved")
	assert.NotContains(t, string(final.Raw), "<form")
	late := vote(e, carol, "rejected", "", nil)
	assert.Equal(t, http.StatusConflict, late.Status)
	assert.Contains(t, string(late.Raw), "approved")

	got := e.Do(servicetest.Req{Method: "GET", Path: "/api/approval/" + a.Body["approval_id"].(string)})
	assert.Equal(t, "approved", got.Body["status"])
	assert.Equal(t, "bob", got.Body["decision"].(map[string]any)["approver"])
}

// Links that are not the service's, or that were changed, open nothing; an
// expired approval's page says so; a vote from another site is refused.
func TestLinksAndPostsThatAreRefused(t *testing.T) {
	e := servicetest.New(t, upstashtest.Mini(t))
	a := newApproval(t, e, map[string]any{"expires_in_seconds": 60})
	alice := linkPath(t, a, "alice")
	tok := strings.TrimPrefix(alice, "/approve/")
	flipped := []byte(tok)
	if flipped[40] == 'A' {
		flipped[40] = 'B'
	} else {
		flipped[40] = 'A'
	}
	for name, path := range map[string]string{
		"tampered": "/approve/" + string(flipped), "garbage": "/approve/nope",
		"unknown approval": "/approve/" + strings.Repeat("A", 66),
	} {
		r := open(e, path)
		assert.Equal(t, http.StatusForbidden, r.Status, name)
		assert.Contains(t, string(r.Raw), "This link is not valid", name)
	}
	before := e.Snapshot()
	for name, h := range map[string]map[string]string{
		"cross-site":     {"Sec-Fetch-Site": "cross-site"},
		"same-site":      {"Sec-Fetch-Site": "same-site"},
		"another origin": {"Sec-Fetch-Site": "", "Origin": "https://evil.example"},
	} {
		r := vote(e, alice, "approved", "", h)
		assert.Equal(t, http.StatusForbidden, r.Status, name)
	}
	assert.Equal(t, before, e.Snapshot(), "no refused post wrote anything")
	// Chromium's own post under no-referrer carries Origin: null.
	assert.Equal(t, http.StatusSeeOther, vote(e, alice, "approved", "", map[string]string{"Sec-Fetch-Site": "", "Origin": "null"}).Status)

	e.Clock.Advance(2 * time.Minute)
	bob := linkPath(t, a, "bob")
	assert.Equal(t, http.StatusGone, open(e, bob).Status)
	assert.Equal(t, http.StatusGone, vote(e, bob, "approved", "", nil).Status)
}

// FuzzParseVoteForm: any form body decodes to a valid vote or is refused.
func FuzzParseVoteForm(f *testing.F) {
	for _, s := range []string{"decision=approved", "decision=rejected&comment=no", "decision=maybe", "", "decision=approved&decision=rejected",
		"comment=%ZZ", "decision=approved&comment=" + strings.Repeat("x", 5000), "decision=approved&comment=%FF"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := handlers.ParseVoteForm(body)
		if err != nil {
			return
		}
		if v.Decision != "approved" && v.Decision != "rejected" {
			t.Fatalf("decision %q", v.Decision)
		}
		if v.Comment != nil && len([]rune(*v.Comment)) > 4096 {
			t.Fatalf("comment of %d characters", len([]rune(*v.Comment)))
		}
	})
}

// The page shows the workflow's latest test results; a vote that is not a
// form, or too big, or that gives its comment twice, is refused; without
// the link secret, approvers are refused at create; with PUBLIC_BASE_URL,
// its origin is the page's own.
func TestPageDetails(t *testing.T) {
	e := servicetest.NewWith(t, upstashtest.Mini(t), func(c *config.Config, _ *wiring.Options) {
		c.Approvals.PublicBaseURL = "https://approve.example.com"
	})
	a := newApproval(t, e, nil)
	require.Equal(t, http.StatusCreated, e.Do(servicetest.Req{Method: "POST", Path: "/api/results", Body: map[string]any{
		"test_id": "run-1", "workflow_id": "ABC-123456", "test_suite": "unit", "passed": 41, "failed": 1, "skipped": 2, "duration_seconds": 3.5,
	}}).Status)
	alice := linkPath(t, a, "alice")
	assert.True(t, strings.HasPrefix(a.Body["links"].(map[string]any)["alice"].(string), "https://approve.example.com/approve/"))
	assert.Contains(t, string(open(e, alice).Raw), "1 runs kept: 41 passed, 1 failed, 2 skipped; latest run run-1.")

	assert.Equal(t, http.StatusUnsupportedMediaType, vote(e, alice, "approved", "", map[string]string{"Content-Type": "application/json"}).Status)
	big := vote(e, alice, "approved", strings.Repeat("x", handlers.MaxVoteForm), nil)
	assert.Equal(t, http.StatusRequestEntityTooLarge, big.Status)
	twice := e.Do(servicetest.Req{Method: "POST", Path: alice, Body: "decision=approved&comment=a&comment=b",
		Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin"}})
	assert.Equal(t, http.StatusBadRequest, twice.Status)
	assert.Equal(t, http.StatusForbidden, vote(e, alice, "approved", "", map[string]string{"Sec-Fetch-Site": "", "Origin": "http://example.com"}).Status)
	assert.Equal(t, http.StatusSeeOther, vote(e, alice, "approved", "", map[string]string{"Sec-Fetch-Site": "", "Origin": "https://approve.example.com"}).Status)

	none := servicetest.NewWith(t, upstashtest.Mini(t), func(c *config.Config, _ *wiring.Options) { c.Approvals.LinkSecret = "" })
	require.Equal(t, http.StatusCreated, none.Do(servicetest.Req{Method: "POST", Path: "/api/workflow/state",
		Body: map[string]any{"workflow_id": "ABC-123456", "feature_description": "x"}}).Status)
	r := none.Do(servicetest.Req{Method: "POST", Path: "/api/approval", Body: map[string]any{"workflow_id": "ABC-123456",
		"request_type": "deploy", "content": "x", "requester": "ci-bot", "approvers": []string{"alice"}}})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, string(r.Raw), "APPROVAL_LINK_SECRET")
}

// An approval whose on_timeout decided it shows the outcome, says why, and
// has no form; a vote on it is refused.
func TestPageAfterATimeoutOutcome(t *testing.T) {
	e := servicetest.New(t, upstashtest.Mini(t))
	a := newApproval(t, e, map[string]any{"on_timeout": "rejected", "expires_in_seconds": 60})
	alice := linkPath(t, a, "alice")
	e.Clock.Advance(time.Minute)
	p := open(e, alice)
	require.Equal(t, http.StatusOK, p.Status)
	page := string(p.Raw)
	assert.Contains(t, page, "This request is rejected: nobody decided in time")
	assert.NotContains(t, page, "<form")
	before := e.Snapshot()
	v := vote(e, alice, "approved", "", nil)
	assert.Equal(t, http.StatusConflict, v.Status)
	assert.Equal(t, before, e.Snapshot())
}
