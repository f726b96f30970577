package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// The headers of a delivery.
const (
	HeaderEvent    = "X-AIRails-Event"
	HeaderDelivery = "X-AIRails-Delivery"
	// HeaderSignature is the signature of the body alone. Deprecated:
	// kept for one release beside the Standard Webhooks headers, which also
	// sign the delivery id and a timestamp, so that a captured delivery
	// cannot be replayed.
	HeaderSignature = "X-AIRails-Signature-256"
	// The Standard Webhooks headers (standardwebhooks.com): the delivery id
	// (the same across retries), the attempt's Unix time in seconds, and
	// "v1,<base64 HMAC-SHA256 of id.timestamp.body>". Receivers configure
	// the secret as "whsec_" and the base64 of WEBHOOK_SECRET
	// (StandardSecret), and verify with any Standard Webhooks library.
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// SignStandard returns the Standard Webhooks signature of a delivery:
// "v1," and the base64 HMAC-SHA256, under secret, of "id.timestamp.body".
func SignStandard(secret []byte, id string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(id + "." + strconv.FormatInt(timestamp, 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// StandardSecret is secret as Standard Webhooks receivers take it:
// "whsec_" and its base64.
func StandardSecret(secret []byte) string {
	return "whsec_" + base64.StdEncoding.EncodeToString(secret)
}

// Sign returns the signature header value of body under secret:
// "sha256=" and the hex HMAC-SHA256.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is body's signature under secret, comparing
// in constant time; receivers use it.
func Verify(secret, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(sig))
}

// Delivery is one webhook to deliver; its ID stays the same across retries.
// Subject is what it is about (the approval id), the JWT's sub.
type Delivery struct {
	ID      string
	Event   string
	URL     string
	Body    []byte
	Subject string
}

// Attempt is the outcome of one try.
type Attempt struct {
	At         time.Time
	StatusCode int    // 0 when no answer came
	Error      string // why it failed, if it did
	Delivered  bool
}

// Options configures a Deliverer.
type Options struct {
	Secret []byte
	// JWTSecret, when set (CALLBACK_JWT_SECRET), adds Authorization:
	// Bearer and an HS256 JWT (MintJWT) to every attempt, so that a
	// receiver such as n8n's Wait node takes resumes from the service only.
	JWTSecret []byte
	Guard     *Guard
	// Budget bounds all tries of one Deliver call, so that a slow or dead
	// receiver cannot hold up the API answer. Default 2 s.
	Budget time.Duration
	// MaxAttempts bounds the tries of one Deliver call. Default 3.
	MaxAttempts int
	// Backoff is the wait before the second try, doubled after. Default
	// 100 ms.
	Backoff time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Deliverer posts signed webhooks through a client that dials only
// addresses the guard allows, follows no redirects and uses no proxy.
type Deliverer struct {
	opts   Options
	client *http.Client
}

// NewDeliverer returns a Deliverer.
func NewDeliverer(o Options) *Deliverer {
	if o.Guard == nil {
		o.Guard = &Guard{}
	}
	if o.Budget <= 0 {
		o.Budget = 2 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.Backoff <= 0 {
		o.Backoff = 100 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           o.Guard.DialContext,
		TLSHandshakeTimeout:   2 * time.Second,
		ResponseHeaderTimeout: 5 * time.Second,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &Deliverer{opts: o, client: &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// delivered reports whether an answer counts as delivered: any 2xx, and
// 409, which n8n's Wait node answers when the execution was already resumed
// ("has finished already", "has finished with error"), but not its 409 "The
// execution "<id>" is running already.": the execution has not reached its
// Wait node yet (a decision made the moment the approval was requested) or
// is between two waits (a flow that read a reminder and is going back to
// waiting), so the delivery is tried again. answer is the start of the
// answer's body.
func delivered(status int, answer []byte) bool {
	if status == http.StatusConflict {
		return !bytes.Contains(answer, n8nRunning)
	}
	return status >= 200 && status < 300
}

var n8nRunning = []byte("is running already")

// Deliver tries d until it is delivered, MaxAttempts are spent or the budget
// runs out, and returns every attempt.
func (dl *Deliverer) Deliver(ctx context.Context, d Delivery) []Attempt {
	ctx, cancel := context.WithTimeout(ctx, dl.opts.Budget)
	defer cancel()
	var attempts []Attempt
	wait := dl.opts.Backoff
	for i := 0; i < dl.opts.MaxAttempts; i++ {
		a, refused := dl.try(ctx, d)
		attempts = append(attempts, a)
		if a.Delivered || refused || ctx.Err() != nil || i == dl.opts.MaxAttempts-1 {
			break
		}
		select {
		case <-ctx.Done():
			return attempts
		case <-time.After(wait):
		}
		wait *= 2
	}
	return attempts
}

// try makes one attempt. refused is true when the guard refused the URL,
// which a retry a moment later would not change.
func (dl *Deliverer) try(ctx context.Context, d Delivery) (a Attempt, refused bool) {
	a = Attempt{At: dl.opts.Now()}
	if _, err := dl.opts.Guard.CheckURL(ctx, d.URL); err != nil {
		a.Error = err.Error()
		return a, true
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		a.Error = err.Error()
		return a, true
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ai-rails-state-service/1")
	req.Header.Set(HeaderEvent, d.Event)
	req.Header.Set(HeaderDelivery, d.ID)
	req.Header.Set(HeaderSignature, Sign(dl.opts.Secret, d.Body))
	// The receiver checks the timestamp and the JWT's exp against its own
	// clock: the wall clock's, not the service's (a test's may be set).
	now := time.Now()
	if len(dl.opts.JWTSecret) > 0 {
		req.Header.Set("Authorization", "Bearer "+MintJWT(dl.opts.JWTSecret, d, now))
	}
	ts := now.Unix()
	req.Header.Set(HeaderWebhookID, d.ID)
	req.Header.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderWebhookSignature, SignStandard(dl.opts.Secret, d.ID, ts, d.Body))
	resp, err := dl.client.Do(req)
	if err != nil {
		a.Error = describe(err)
		return a, errors.Is(err, ErrForbidden)
	}
	var answer []byte
	if resp.StatusCode == http.StatusConflict {
		answer, _ = io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	a.StatusCode = resp.StatusCode
	a.Delivered = delivered(resp.StatusCode, answer)
	switch {
	case a.Delivered:
	case resp.StatusCode == http.StatusConflict:
		a.Error = "answered 409: the execution is still running"
	default:
		a.Error = fmt.Sprintf("answered %d", resp.StatusCode)
	}
	return a, false
}

func describe(err error) string {
	switch {
	case errors.Is(err, ErrForbidden):
		return "refused: " + err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer within the time budget"
	}
	return err.Error()
}
