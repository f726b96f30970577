package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/webhook"
)

// fakeResolver answers from a table, as DNS would.
type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, s := range f[host] {
		out = append(out, netip.MustParseAddr(s))
	}
	if len(out) == 0 {
		return nil, errors.New("no such host")
	}
	return out, nil
}

var dns = fakeResolver{
	"n8n.example.com":       {"93.184.216.34"},
	"hooks.n8n.example.com": {"93.184.216.35"},
	"evil.example.net":      {"10.0.0.5"},
	"sneaky.example.net":    {"93.184.216.34", "169.254.169.254"},
	"v6private.example.net": {"fd00::1"},
	"mapped.example.net":    {"::ffff:127.0.0.1"},
	"other.example.org":     {"93.184.216.36"},
	"localhost":             {"127.0.0.1"},
}

func TestGuardTable(t *testing.T) {
	g := &webhook.Guard{Resolver: dns}
	cases := []struct {
		url string
		ok  bool
	}{
		{"https://n8n.example.com/webhook-waiting/123", true},
		{"https://n8n.example.com:8443/webhook-waiting/123?x=1", true},
		{"http://n8n.example.com/webhook-waiting/123", false},
		{"ftp://n8n.example.com/x", false},
		{"gopher://n8n.example.com/x", false},
		{"file:///etc/passwd", false},
		{"https://user:pw@n8n.example.com/x", false},
		{"/relative/path", false},
		{"https://169.254.169.254/latest/meta-data/", false},
		{"https://[fd00:ec2::254]/latest/meta-data/", false},
		{"https://100.100.100.200/", false},
		{"https://10.1.2.3/", false},
		{"https://172.16.0.1/", false},
		{"https://192.168.1.1/", false},
		{"https://127.0.0.1/", false},
		{"https://[::1]/", false},
		{"https://[fc00::1]/", false},
		{"https://[fe80::1]/", false},
		{"https://0.0.0.0/", false},
		{"https://[::]/", false},
		{"https://100.64.0.1/", false},
		{"https://2130706433/", false},
		{"https://0177.0.0.1/", false},
		{"https://0x7f.0.0.1/", false},
		{"https://0x7f000001/", false},
		{"https://127.1/", false},
		{"https://[::ffff:10.0.0.1]/", false},
		{"https://[64:ff9b::a00:1]/", false},
		{"https://255.255.255.255/", false},
		{"https://224.0.0.1/", false},
		{"https://evil.example.net/", false},
		{"https://sneaky.example.net/", false},
		{"https://v6private.example.net/", false},
		{"https://mapped.example.net/", false},
		{"https://nowhere.invalid/", false},
		{"https://localhost/", false},
		{"http://localhost:5678/webhook", false},
		{"https://93.184.216.34/", true},
	}
	for _, tc := range cases {
		_, err := g.CheckURL(context.Background(), tc.url)
		if tc.ok {
			assert.NoError(t, err, tc.url)
		} else {
			assert.ErrorIs(t, err, webhook.ErrForbidden, tc.url)
		}
	}
}

func TestGuardLocalAndAllowlist(t *testing.T) {
	local := &webhook.Guard{AllowInsecureLoopback: true, Resolver: dns}
	for _, u := range []string{"http://localhost:5678/webhook-waiting/1", "http://127.0.0.1:5678/x", "http://[::1]:5678/x", "https://localhost/x"} {
		_, err := local.CheckURL(context.Background(), u)
		assert.NoError(t, err, u)
	}
	for _, u := range []string{"http://n8n.example.com/x", "https://10.0.0.1/x", "https://evil.example.net/"} {
		_, err := local.CheckURL(context.Background(), u)
		assert.Error(t, err, "only loopback is let through: %s", u)
	}

	narrow := &webhook.Guard{Allowlist: []string{"n8n.example.com", " .other.example.org "}, Resolver: dns}
	for u, ok := range map[string]bool{
		"https://n8n.example.com/x": true, "https://hooks.n8n.example.com/x": true, "https://other.example.org/x": true,
		"https://93.184.216.34/x": false, "https://xn8n.example.com/x": false, "https://n8n.example.com.evil.net/x": false,
	} {
		_, err := narrow.CheckURL(context.Background(), u)
		assert.Equal(t, ok, err == nil, "%s: %v", u, err)
	}
}

// receiver records deliveries and answers with the statuses given, in turn.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	delay    time.Duration
	got      []*http.Request
	bodies   [][]byte
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.got = append(rc.got, r)
	rc.bodies = append(rc.bodies, body)
	status := http.StatusOK
	if len(rc.statuses) > 0 {
		status = rc.statuses[0]
		if len(rc.statuses) > 1 {
			rc.statuses = rc.statuses[1:]
		}
	}
	delay := rc.delay
	rc.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	w.WriteHeader(status)
}

var secret = []byte("whsec-test")

func deliverer(budget time.Duration) *webhook.Deliverer {
	return webhook.NewDeliverer(webhook.Options{Secret: secret, Guard: &webhook.Guard{AllowInsecureLoopback: true},
		Budget: budget, Backoff: 10 * time.Millisecond})
}

func TestDeliverSignsAndRetries(t *testing.T) {
	rc := &receiver{statuses: []int{500, 502, 200}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	body := []byte(`{"approval_id":"x","event":"approval.decided"}`)
	attempts := deliverer(2*time.Second).Deliver(context.Background(),
		webhook.Delivery{ID: "dlv-1", Event: "approval.decided", URL: srv.URL + "/webhook-waiting/1", Body: body})
	require.Len(t, attempts, 3)
	assert.Equal(t, []int{500, 502, 200}, []int{attempts[0].StatusCode, attempts[1].StatusCode, attempts[2].StatusCode})
	assert.True(t, attempts[2].Delivered)
	for i, r := range rc.got {
		assert.Equal(t, "dlv-1", r.Header.Get(webhook.HeaderDelivery), "the delivery id is stable across retries (%d)", i)
		assert.Equal(t, "approval.decided", r.Header.Get(webhook.HeaderEvent))
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		assert.True(t, webhook.Verify(secret, rc.bodies[i], r.Header.Get(webhook.HeaderSignature)), "the signature verifies")
		assert.False(t, webhook.Verify([]byte("other"), rc.bodies[i], r.Header.Get(webhook.HeaderSignature)))
		assert.Equal(t, body, rc.bodies[i])
	}
}

func TestDeliverOutcomes(t *testing.T) {
	for _, tc := range []struct {
		statuses  []int
		delivered bool
		tries     int
	}{
		{[]int{409}, true, 1},
		{[]int{204}, true, 1},
		{[]int{500}, false, 3},
		{[]int{404}, false, 3},
		{[]int{301}, false, 3},
	} {
		rc := &receiver{statuses: tc.statuses}
		srv := httptest.NewServer(rc)
		attempts := deliverer(2*time.Second).Deliver(context.Background(), webhook.Delivery{ID: "d", Event: "e", URL: srv.URL, Body: []byte("{}")})
		srv.Close()
		assert.Len(t, attempts, tc.tries, "%v", tc.statuses)
		assert.Equal(t, tc.delivered, attempts[len(attempts)-1].Delivered, "%v", tc.statuses)
	}
}

// n8n answers 409 in three cases (packages/cli/src/webhooks/waiting-webhooks.ts
// in n8n 1.123): the execution has finished, has failed, or is running. Only
// the last can change: the execution has not reached its Wait node yet, or is
// between two waits, so the delivery is tried again; the others are final.
func TestN8nConflictWhileRunningIsRetried(t *testing.T) {
	for _, tc := range []struct {
		body      string
		delivered bool
		tries     int
	}{
		{`{"code":409,"message":"The execution \"41\" is running already."}`, false, 3},
		{`{"code":409,"message":"The execution \"41 has finished already."}`, true, 1},
		{`{"code":409,"message":"The execution \"41\" has finished with error."}`, true, 1},
		{``, true, 1},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, tc.body)
		}))
		attempts := deliverer(2*time.Second).Deliver(context.Background(), webhook.Delivery{ID: "d", Event: "e", URL: srv.URL, Body: []byte("{}")})
		srv.Close()
		assert.Len(t, attempts, tc.tries, tc.body)
		last := attempts[len(attempts)-1]
		assert.Equal(t, tc.delivered, last.Delivered, tc.body)
		if !tc.delivered {
			assert.Equal(t, "answered 409: the execution is still running", last.Error)
		}
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	target := &receiver{}
	dst := httptest.NewServer(target)
	defer dst.Close()
	src := httptest.NewServer(http.RedirectHandler(dst.URL, http.StatusTemporaryRedirect))
	defer src.Close()
	attempts := deliverer(time.Second).Deliver(context.Background(), webhook.Delivery{ID: "d", Event: "e", URL: src.URL, Body: []byte("{}")})
	assert.False(t, attempts[0].Delivered)
	assert.Equal(t, http.StatusTemporaryRedirect, attempts[0].StatusCode)
	assert.Empty(t, target.got)
}

func TestSlowReceiverStaysWithinBudget(t *testing.T) {
	rc := &receiver{delay: 5 * time.Second}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	start := time.Now()
	attempts := deliverer(300*time.Millisecond).Deliver(context.Background(), webhook.Delivery{ID: "d", Event: "e", URL: srv.URL, Body: []byte("{}")})
	assert.Less(t, time.Since(start), 2*time.Second, "the budget bounds the wait")
	require.NotEmpty(t, attempts)
	assert.False(t, attempts[len(attempts)-1].Delivered)
	assert.Contains(t, attempts[0].Error, "budget")
}

// flipping answers a public address first and loopback after, as a
// rebinding attacker's DNS does.
type flipping struct {
	mu    sync.Mutex
	calls int
}

func (f *flipping) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls == 1 {
		return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
	}
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}

func TestDialTimeCheckDefeatsRebinding(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	res := &flipping{}
	g := &webhook.Guard{Resolver: res}
	dl := webhook.NewDeliverer(webhook.Options{Secret: secret, Guard: g, Budget: time.Second, MaxAttempts: 1})
	attempts := dl.Deliver(context.Background(), webhook.Delivery{ID: "d", Event: "e",
		URL: fmt.Sprintf("https://rebind.example.com:%d/", port), Body: []byte("{}")})
	require.Len(t, attempts, 1)
	assert.False(t, attempts[0].Delivered)
	assert.Contains(t, attempts[0].Error, "loopback", "the check at dial time saw the new answer")
	assert.Equal(t, 2, res.calls, "resolved at check time and again at dial time")
	assert.Empty(t, rc.got)

	assert.ErrorIs(t, g.Control("tcp", "[::ffff:169.254.169.254]:80", nil), webhook.ErrForbidden)
	assert.ErrorIs(t, g.Control("tcp", "garbage", nil), webhook.ErrForbidden)
	assert.NoError(t, g.Control("tcp", "93.184.216.34:443", nil))
}

// A callback cannot reach the service's own listeners (the local REST
// endpoint, with a _token, could write to the store), nor carry a store
// credential.
func TestGuardRefusesTheServicesOwnListeners(t *testing.T) {
	g := &webhook.Guard{AllowInsecureLoopback: true, Resolver: dns,
		Own: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:8079"), netip.MustParseAddrPort("127.0.0.1:3000")}}
	for _, u := range []string{
		"http://127.0.0.1:8079/set/k/v", "http://localhost:8079/", "http://[::1]:8079/", "http://127.0.0.2:8079/",
		"http://127.0.0.1:3000/api/workflow/state", "http://localhost:5678/x?_token=abc", "http://localhost:5678/x?_TOKEN=abc",
		"http://user:pw@localhost:5678/x",
	} {
		_, err := g.CheckURL(context.Background(), u)
		assert.ErrorIs(t, err, webhook.ErrForbidden, u)
	}
	for _, u := range []string{"http://localhost:5678/webhook-waiting/1", "http://127.0.0.1:8080/x", "http://localhost:5678/x?token=ok"} {
		_, err := g.CheckURL(context.Background(), u)
		assert.NoError(t, err, u)
	}
	// At dial time too, whatever a name resolved to before.
	assert.ErrorIs(t, g.Control("tcp", "127.0.0.1:8079", nil), webhook.ErrForbidden)
	assert.ErrorIs(t, g.Control("tcp", "[::1]:3000", nil), webhook.ErrForbidden)
	assert.NoError(t, g.Control("tcp", "127.0.0.1:5678", nil))

	wild := &webhook.Guard{AllowInsecureLoopback: true, Own: []netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:8079")}}
	assert.ErrorIs(t, wild.Control("tcp", "127.0.0.1:8079", nil), webhook.ErrForbidden)
	assert.NoError(t, wild.Control("tcp", "93.184.216.34:8079", nil), "another host's port")
}

// What a callback URL or a dial names that cannot be used is refused: ports
// out of range, names that do not resolve, addresses that do not parse.
func TestGuardRefusesWhatItCannotRead(t *testing.T) {
	g := &webhook.Guard{AllowInsecureLoopback: true, Resolver: dns}
	for _, u := range []string{"http://localhost:99999/x", "http://localhost:0/x", "https://nowhere.invalid/x"} {
		_, err := g.CheckURL(context.Background(), u)
		assert.ErrorIs(t, err, webhook.ErrForbidden, u)
	}
	for _, addr := range []string{"localhost:99999", "nowhere.invalid:443", "no-port"} {
		_, err := g.DialContext(context.Background(), "tcp", addr)
		assert.Error(t, err, addr)
	}
	// A dial to a refused address is refused before it connects.
	strict := &webhook.Guard{Resolver: dns}
	_, err := strict.DialContext(context.Background(), "tcp", "127.0.0.1:9")
	assert.ErrorIs(t, err, webhook.ErrForbidden)
}

// A URL the guard refuses is not tried again: a moment later it would be
// refused the same way. Nothing is sent.
func TestARefusedURLIsTriedOnce(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	strict := webhook.NewDeliverer(webhook.Options{Secret: secret, Budget: time.Second, Backoff: 10 * time.Millisecond})
	attempts := strict.Deliver(context.Background(), webhook.Delivery{ID: "d", Event: "e", URL: srv.URL, Body: []byte("{}")})
	require.Len(t, attempts, 1)
	assert.False(t, attempts[0].Delivered)
	assert.Contains(t, attempts[0].Error, "https")
	assert.Empty(t, rc.got)
}

// A delivery whose context ends while it waits to retry stops there.
func TestDeliveryStopsWhenItsContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cancel()
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	slow := webhook.NewDeliverer(webhook.Options{Secret: secret, Guard: &webhook.Guard{AllowInsecureLoopback: true},
		Budget: 10 * time.Second, Backoff: 5 * time.Second})
	start := time.Now()
	attempts := slow.Deliver(ctx, webhook.Delivery{ID: "d", Event: "e", URL: srv.URL, Body: []byte("{}")})
	assert.Len(t, attempts, 1)
	assert.Less(t, time.Since(start), 4*time.Second, "it did not wait out the backoff")
}
