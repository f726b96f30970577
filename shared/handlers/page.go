package handlers

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/approval"
	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/results"
)

var (
	//go:embed page.html
	pageHTML string
	// page is parsed on first use, not at every cold start: only the
	// approval function serves it.
	page = sync.OnceValue(func() *template.Template { return template.Must(template.New("page").Parse(pageHTML)) })
)

// pageStyle is the page's only style, inline, allowed by its hash in the
// Content-Security-Policy: nothing is loaded from anywhere.
const pageStyle = `body{font:1.05rem/1.5 system-ui,sans-serif;margin:0;color:#111;background:#fff}
main{max-width:40rem;margin:0 auto;padding:1rem}
dt{font-weight:600}dd{margin:0 0 .5rem 0}
.content{white-space:pre-wrap;overflow-wrap:anywhere;border-left:4px solid #555;padding-left:.75rem}
.message{border:2px solid #111;padding:.5rem}
label{display:block;font-weight:600;margin-top:1rem}
textarea{width:100%;box-sizing:border-box;font:inherit}
.buttons{display:flex;gap:1rem;margin-top:1rem}
button{font:inherit;padding:.6rem 1.2rem;border:2px solid #111;background:#fff;color:#111;cursor:pointer}
button:focus{outline:3px solid #0645ad;outline-offset:2px}`

var pageCSP = sync.OnceValue(func() string {
	sum := sha256.Sum256([]byte(pageStyle))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
})

// MaxVoteForm bounds a vote's form body.
const MaxVoteForm = 16 << 10

// formTypes is what a vote's body may be.
var formTypes = map[string]bool{"application/x-www-form-urlencoded": true}

// approvalPage serves an approver's link: GET shows the approval and a
// form, and never changes anything; POST records the approver's vote.
type approvalPage struct {
	svc     *approval.Service
	results results.Service
	origin  string // PUBLIC_BASE_URL's origin, the page's own; "" for the request's host
}

// originOf returns the scheme and host of a base URL, or "".
func originOf(base string) string {
	if u, err := url.Parse(base); err == nil && u.Host != "" {
		return u.Scheme + "://" + u.Host
	}
	return ""
}

func (h approvalPage) routes() map[string]httpkit.HandlerFunc {
	return map[string]httpkit.HandlerFunc{"approve.page": h.get, "approve.vote": h.vote}
}

type pageData struct {
	Title, Message, Approver string
	Style                    template.CSS
	Approval                 *approval.Approval
	Results                  *results.Summary
	Form                     bool
}

// render writes the page with its headers.
func render(w http.ResponseWriter, status int, d pageData) error {
	d.Style = template.CSS(pageStyle)
	var buf bytes.Buffer
	if err := page().Execute(&buf, d); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP())
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// refusal renders what an error means to the person who opened the link.
func refusal(w http.ResponseWriter, err error, a *approval.Approval) error {
	switch apperr.KindOf(err) {
	case apperr.Forbidden:
		return render(w, http.StatusForbidden, pageData{Title: "This link is not valid", Message: "Ask for a new link."})
	case apperr.Gone:
		return render(w, http.StatusGone, pageData{Title: "This request has expired", Approval: a})
	case apperr.Conflict:
		return render(w, http.StatusConflict, pageData{Title: "Your vote was not taken", Message: err.Error(), Approval: a})
	}
	return err
}

// open reads the approval of the link in the request.
func (h approvalPage) open(r *http.Request) (approval.Approval, int, error) {
	a, i, err := h.svc.OpenLink(r.Context(), r.PathValue("token"))
	if err == nil && a.Status == approval.Expired {
		return a, i, apperr.New(apperr.Gone, "approval %s expired at %s", a.ApprovalID, a.ExpiresAt)
	}
	return a, i, err
}

func (h approvalPage) get(w http.ResponseWriter, r *http.Request) error {
	a, i, err := h.open(r)
	if err != nil {
		return refusal(w, err, &a)
	}
	d := pageData{Title: "Approval requested", Approval: &a, Approver: a.Approvers[i], Form: a.Status == approval.Pending}
	if !d.Form {
		d.Title = "This request is " + string(a.Status)
		if a.Decision != nil && a.Decision.By == approval.ByTimeout {
			d.Title += ": nobody decided in time"
			d.Message = "It ran out at " + a.ExpiresAt + ", and its requester had asked that silence mean " + string(a.Status) + "."
		}
	}
	if wid, err := keys.ParseWorkflowID(a.WorkflowID); err == nil && h.results != nil {
		if p, err := h.results.List(r.Context(), results.ListQuery{Workflow: wid, Limit: 1}); err == nil && p.Summary.Runs > 0 {
			d.Results = &p.Summary
		}
	}
	return render(w, http.StatusOK, d)
}

func (h approvalPage) vote(w http.ResponseWriter, r *http.Request) error {
	if !h.sameOrigin(r) {
		return render(w, http.StatusForbidden, pageData{Title: "Vote refused", Message: "Votes are taken only from this page."})
	}
	// A form is small: its limit is tighter than the API's.
	r.Body = http.MaxBytesReader(w, r.Body, MaxVoteForm)
	body, _, err := httpkit.ReadBody(w, r, formTypes)
	if err != nil {
		return err
	}
	in, err := ParseVoteForm(body)
	if err != nil {
		return err
	}
	a, i, err := h.open(r)
	if err != nil {
		return refusal(w, err, &a)
	}
	id, _ := keys.ParseApprovalID(a.ApprovalID)
	if a, err = h.svc.Vote(r.Context(), id, i, in); err != nil {
		stands := &a
		var e *apperr.Error
		if errors.As(err, &e) {
			if cur, ok := e.Extra["approval"].(approval.Approval); ok {
				stands = &cur
			}
		}
		return refusal(w, err, stands)
	}
	http.Redirect(w, r, r.URL.Path, http.StatusSeeOther)
	return nil
}

// sameOrigin refuses cross-site posts: with Sec-Fetch-Site, anything but
// same-origin; without it, an Origin that is present, not "null" (which
// Chromium sends on the page's own post under no-referrer) and not this
// service's.
func (h approvalPage) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return true
	}
	own := h.origin
	switch {
	case own != "":
	case r.TLS != nil:
		own = "https://" + r.Host
	default:
		own = "http://" + r.Host
	}
	return origin == own
}

// ParseVoteForm reads a vote form: decision, approved or rejected, and an
// optional comment of at most approval.MaxComment characters.
func ParseVoteForm(body []byte) (approval.VoteRequest, error) {
	q, err := url.ParseQuery(string(body))
	if err != nil {
		return approval.VoteRequest{}, apperr.Invalid(apperr.Field("form", "is not a form"))
	}
	var errs apperr.Collector
	var in approval.VoteRequest
	switch d := q["decision"]; {
	case len(d) != 1 || (d[0] != string(approval.Approved) && d[0] != string(approval.Rejected)):
		errs.Add("decision", "must be approved or rejected")
	default:
		in.Decision = d[0]
	}
	if c := q["comment"]; len(c) > 1 {
		errs.Add("comment", "is given once")
	} else if len(c) == 1 && strings.TrimSpace(c[0]) != "" {
		if !utf8.ValidString(c[0]) || utf8.RuneCountInString(c[0]) > approval.MaxComment {
			errs.Add("comment", "must be UTF-8, at most %d characters", approval.MaxComment)
		}
		in.Comment = &c[0]
	}
	return in, errs.Err()
}
