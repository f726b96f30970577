package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
	"github.com/ai-rails/state-service/shared/wiring"
)

// browser starts a headless Chromium (Debian's, /usr/bin/chromium, or
// CHROMIUM) for the test. A missing browser skips the test, and fails it
// under CI=true.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path, _ = exec.LookPath("chromium")
	}
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed (apt-get install chromium); CI runs the browser tests")
		}
		t.Skip("chromium is not installed (apt-get install chromium): browser tests skipped")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancelTimeout)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")), "start chromium")
	return ctx
}

// person is a browser context of its own: its own cookies and cache, as
// another person's browser.
func person(t *testing.T, b context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	return ctx
}

// served is the wired service on a real HTTP server whose address is the
// links' PUBLIC_BASE_URL.
func served(t *testing.T) (*servicetest.Env, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	e := servicetest.NewWith(t, upstashtest.Mini(t), func(c *config.Config, _ *wiring.Options) { c.Approvals.PublicBaseURL = base })
	srv.Config.Handler = e.Handler
	srv.Start()
	t.Cleanup(srv.Close)
	return e, base
}

// goTo opens url and returns the answer's status and the page's main text.
func goTo(t *testing.T, ctx context.Context, url string) (int64, string) {
	t.Helper()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	require.NoError(t, err)
	text, err := chromedp.Run(ctx, chromedp.Text("main"))
	require.NoError(t, err)
	return resp.Status, text
}

// press clicks a decision button, after an optional comment, and returns
// the status and text of the page the browser lands on.
func press(t *testing.T, ctx context.Context, decision, comment string) (int64, string) {
	t.Helper()
	if comment != "" {
		require.NoError(t, chromedp.Do(ctx, chromedp.SetValue("#comment", comment)))
	}
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(`button[value="`+decision+`"]`))
	require.NoError(t, err)
	text, err := chromedp.Run(ctx, chromedp.Text("main"))
	require.NoError(t, err)
	return resp.Status, text
}

// The approval page in a real Chromium: a person opens their link, sees the
// request as text (no script in it runs), approves with a comment; two of
// three decide through separate browsers; a veto; tampered and expired
// links; a prefetch decides nothing; a post from another site is refused.
func TestApprovalPageInABrowser(t *testing.T) {
	b := browser(t)
	var dialogs atomic.Int32
	e, _ := served(t)
	a := newApproval(t, e, nil)
	links := a.Body["links"].(map[string]any)
	alice, bob, carol := links["alice"].(string), links["bob"].(string), links["carol"].(string)

	t.Run("open, read, approve with a comment", func(t *testing.T) {
		ctx := person(t, b)
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")))
		opened := chromedp.Events(ctx, page.JavascriptDialogOpening)
		go func() {
			for _, err := range opened {
				if err != nil {
					return
				}
				dialogs.Add(1)
			}
		}()
		status, text := goTo(t, ctx, alice)
		assert.Equal(t, int64(200), status)
		assert.Contains(t, text, "<script>alert(1)</script><img src=x onerror=alert(2)>", "the content shows as text")
		assert.Contains(t, text, "You are voting as alice")
		shoot(t, ctx, "approval-page-phone.png", 390, 844)
		shoot(t, ctx, "approval-page-desktop.png", 1280, 800)
		status, text = press(t, ctx, "approved", "ship it")
		assert.Equal(t, int64(200), status, "303 to the page, which shows the vote")
		assert.Contains(t, text, "alice: approved (ship it)")
		assert.Zero(t, dialogs.Load(), "no script ran: no dialog opened")
	})

	t.Run("two of three, each in their own browser", func(t *testing.T) {
		ctx := person(t, b)
		goTo(t, ctx, bob)
		status, text := press(t, ctx, "approved", "")
		assert.Equal(t, int64(200), status)
		assert.Contains(t, text, "This request is approved")
		ctx3 := person(t, b)
		_, text = goTo(t, ctx3, carol)
		assert.Contains(t, text, "This request is approved")
		assert.NotContains(t, text, "You are voting as", "no form on a final approval")
	})

	t.Run("a veto", func(t *testing.T) {
		e2, _ := served(t)
		v := newApproval(t, e2, map[string]any{"min_approvals": 1})
		ctx := person(t, b)
		goTo(t, ctx, v.Body["links"].(map[string]any)["carol"].(string))
		_, text := press(t, ctx, "rejected", "not today")
		assert.Contains(t, text, "This request is rejected")
	})

	t.Run("a tampered link", func(t *testing.T) {
		ctx := person(t, b)
		i := strings.LastIndex(alice, "/") + 10
		c := "A"
		if alice[i] == 'A' {
			c = "B"
		}
		status, text := goTo(t, ctx, alice[:i]+c+alice[i+1:])
		assert.Equal(t, int64(403), status)
		assert.Contains(t, text, "This link is not valid")
	})

	t.Run("a prefetch decides nothing, and an expired approval says so", func(t *testing.T) {
		e3, _ := served(t)
		x := newApproval(t, e3, map[string]any{"expires_in_seconds": 60})
		link := x.Body["links"].(map[string]any)["alice"].(string)
		before := e3.Snapshot()
		resp, err := http.Get(link) // a chat preview or a link scanner
		require.NoError(t, err)
		resp.Body.Close()
		ctx := person(t, b)
		goTo(t, ctx, link)
		assert.Equal(t, before, e3.Snapshot(), "opening the link changed nothing")
		e3.Clock.Advance(2 * time.Minute)
		status, text := goTo(t, ctx, link)
		assert.Equal(t, int64(410), status)
		assert.Contains(t, text, "This request has expired")
	})

	t.Run("a post from another site is refused", func(t *testing.T) {
		e4, _ := served(t)
		y := newApproval(t, e4, nil)
		link := y.Body["links"].(map[string]any)["alice"].(string)
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte(`<form method="post" action="` + link + `"><input name="decision" value="approved"><button id="go">win</button></form>`))
		}))
		defer evil.Close()
		ctx := person(t, b)
		_, err := chromedp.Run(ctx, chromedp.NavigateResponse(evil.URL))
		require.NoError(t, err)
		resp, err := chromedp.RunResponse(ctx, chromedp.Click("#go"))
		require.NoError(t, err)
		assert.Equal(t, int64(403), resp.Status)
		got := e4.Do(servicetest.Req{Method: "GET", Path: "/api/approval/" + y.Body["approval_id"].(string)})
		assert.Equal(t, []any{}, got.Body["votes"], "no vote was taken")
	})
}

// shoot saves a screenshot of the page at a viewport size under build/.
func shoot(t *testing.T, ctx context.Context, name string, w, h int64) {
	t.Helper()
	require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(w, h)))
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	dir := filepath.Join("..", "..", "build")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
}
