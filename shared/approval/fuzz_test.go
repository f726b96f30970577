package approval

import (
	"context"
	"testing"
	"unicode/utf8"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/webhook"
	"github.com/stretchr/testify/assert"
)

// FuzzCreateBody feeds arbitrary bodies through the create decoder and
// validation: what passes is within API.md's limits, and a callback URL
// that passes is https (no resolver is reached for these hosts: the guard
// refuses or resolves through a table).
func FuzzCreateBody(f *testing.F) {
	for _, s := range []string{
		`{"workflow_id":"ABC-123456","request_type":"deploy","content":"x","requester":"ci"}`,
		`{"workflow_id":"ABC-123456","request_type":"test","content":"x","requester":"ci","expires_in_seconds":60,"callback_url":"https://n8n.example.com/w/1"}`,
		`{"workflow_id":"ABC-123456","request_type":"code","content":"","requester":"ci","callback_url":"https://10.0.0.1/x"}`,
		`{"callback_url":"https://2130706433/"}`, `{"expires_in_seconds":1e9}`, `[]`,
		`{"workflow_id":"ABC-123456","request_type":"deploy","content":"x","requester":"ci","remind_after_seconds":[600,60],"on_timeout":"rejected"}`,
		`{"workflow_id":"ABC-123456","request_type":"deploy","content":"x","requester":"ci","remind_after_seconds":[3600,0,-1,7],"on_timeout":"approved"}`,
	} {
		f.Add([]byte(s))
	}
	guard := &webhook.Guard{Resolver: tableResolver{}}
	f.Fuzz(func(t *testing.T, body []byte) {
		var b CreateBody
		if httpkit.Unmarshal(body, &b) != nil {
			return
		}
		r, err := ParseCreate(context.Background(), b, guard)
		if err != nil {
			if apperr.KindOf(err) != apperr.Validation {
				t.Fatalf("kind %d: %v", apperr.KindOf(err), err)
			}
			return
		}
		if _, err := keys.ParseWorkflowID(r.WorkflowID.String()); err != nil {
			t.Fatal("bad workflow id passed")
		}
		if !requestTypes[r.RequestType] || r.ExpiresInSeconds < MinExpiresIn || r.ExpiresInSeconds > MaxExpiresIn {
			t.Fatalf("out of range: %+v", r)
		}
		if n := utf8.RuneCountInString(r.Content); n < 1 || n > MaxContent {
			t.Fatalf("content of %d characters passed", n)
		}
		if r.CallbackURL != nil && (*r.CallbackURL)[:8] != "https://" {
			t.Fatalf("callback %q passed", *r.CallbackURL)
		}
		if len(r.RemindAfterSeconds) > MaxReminders {
			t.Fatalf("%d reminders passed", len(r.RemindAfterSeconds))
		}
		for i, o := range r.RemindAfterSeconds {
			if o < 1 || o >= r.ExpiresInSeconds || (i > 0 && o <= r.RemindAfterSeconds[i-1]) {
				t.Fatalf("reminders %v passed for an expiry of %d s", r.RemindAfterSeconds, r.ExpiresInSeconds)
			}
		}
		if r.OnTimeout != "" && r.OnTimeout != TimeoutRejected && r.OnTimeout != TimeoutApproved {
			t.Fatalf("on_timeout %q passed", r.OnTimeout)
		}
	})
}

// FuzzDecideBody does the same for decisions.
// Without a checker, every callback URL is refused: nothing checks it.
func TestParseCreateWithoutACheckerRefusesCallbacks(t *testing.T) {
	wf, typ, content, who := "ABC-123456", "deploy", "x", "ci-bot"
	for _, u := range []string{"https://n8n.example.com/hook", "http://93.184.216.34/hook", "https://10.0.0.8/hook"} {
		_, err := ParseCreate(context.Background(), CreateBody{WorkflowID: &wf, RequestType: &typ, Content: &content, Requester: &who, CallbackURL: &u}, nil)
		assert.ErrorContains(t, err, "callback_url", u)
	}
}

func FuzzDecideBody(f *testing.F) {
	for _, s := range []string{`{"decision":"approved","approver":"alice","comment":"ok"}`, `{"decision":"maybe"}`, `{"approver":""}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var b DecideBody
		if httpkit.Unmarshal(body, &b) != nil {
			return
		}
		r, err := ParseDecide(b)
		if err != nil {
			return
		}
		if r.Decision != "approved" && r.Decision != "rejected" {
			t.Fatalf("decision %q passed", r.Decision)
		}
		if n := utf8.RuneCountInString(r.Approver); n < 1 || n > MaxApprover {
			t.Fatalf("approver of %d characters passed", n)
		}
		if r.Comment != nil && utf8.RuneCountInString(*r.Comment) > MaxComment {
			t.Fatal("long comment passed")
		}
	})
}
