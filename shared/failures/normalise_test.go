package failures

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/stretchr/testify/assert"
)

func TestNormalise(t *testing.T) {
	for name, tc := range map[string]struct{ in, want string }{
		"pytest assertion": {
			"E       AssertionError: expected 401\nE       assert 500 == 401\nE        +  where 500 = <Response [500]>.status_code",
			"E AssertionError: expected <n>\nE assert <n> == <n>\nE + where <n> = <Response [<n>]>.status_code",
		},
		"pytest tmp_path": {
			"FileNotFoundError: [Errno 2] No such file or directory: '/tmp/pytest-of-runner/pytest-17/test_upload0/data.csv'",
			"FileNotFoundError: [Errno <n>] No such file or directory: '<tmp>'",
		},
		"pytest object repr": {
			"assert <app.models.User object at 0x7f3a2c1e4d90> == None",
			"assert <app.models.User object at <hex>> == None",
		},
		"jest": {
			"Error: expect(received).toBe(expected) // Object.is equality\n\nExpected: 401\nReceived: 500\n\n    at Object.<anonymous> (/home/runner/work/app/src/login.test.js:27:31)",
			"Error: expect(received).toBe(expected) // Object.is equality\nExpected: <n>\nReceived: <n>\nat Object.<anonymous> (/home/runner/work/app/src/login.test.js:<pos>)",
		},
		"jest timeout": {
			"thrown: \"Exceeded timeout of 5000 ms for a test.\"",
			"thrown: \"Exceeded timeout of <n> ms for a test.\"",
		},
		"go test": {
			"    login_test.go:27: status = 500, want 401\n    login_test.go:31: request 7c9e6679-7425-40de-944b-e07fc1f90ae7 took 1.25s",
			"login_test.go:<pos>: status = <n>, want <n>\nlogin_test.go:<pos>: request <uuid> took <n>s",
		},
		"go temp dir": {
			"open /tmp/TestUpload123456789/001/data.csv: no such file or directory",
			"open <tmp>: no such file or directory",
		},
		"go panic": {
			"panic: runtime error: invalid memory address or nil pointer dereference [recovered]\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4f1a2b]",
			"panic: runtime error: invalid memory address or nil pointer dereference [recovered]\n[signal SIGSEGV: segmentation violation code=<hex> addr=<hex> pc=<hex>]",
		},
		"surefire": {
			"expected: <401> but was: <500>\norg.opentest4j.AssertionFailedError: expected: <401> but was: <500>\n\tat com.example.auth.LoginServiceTest.rejectsBadPassword(LoginServiceTest.java:42)",
			"expected: <<n>> but was: <<n>>\norg.opentest4j.AssertionFailedError: expected: <<n>> but was: <<n>>\nat com.example.auth.LoginServiceTest.rejectsBadPassword(LoginServiceTest.java:<pos>)",
		},
		"timestamps": {
			"token expired at 2026-11-26T10:04:05.123Z (now 2026-11-26 10:09:00, log 10:09:00.5)",
			"token expired at <time> (now <time>, log <time>)",
		},
		"hashes and names": {
			"commit 3f2a9c1b7e not found; int64 overflow in sha256 of user42",
			"commit <hex> not found; int64 overflow in sha256 of user42",
		},
		"windows temp": {
			`C:\Users\runner\AppData\Local\Temp\pytest-3\out.txt is locked`,
			`<tmp> is locked`,
		},
		"numbers": {
			"took 1.5e3 ms; -42 left; port 127.0.0.1:54321",
			"took <n> ms; -<n> left; port <n>.<n>:<n>", // an address reads as two decimals
		},
	} {
		t.Run(name, func(t *testing.T) {
			got := Normalise(tc.in)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, got, Normalise(got), "normalising twice changes nothing")
		})
	}
}

func TestNormaliseIsBounded(t *testing.T) {
	got := Normalise(strings.Repeat("é", MaxNormalised))
	assert.LessOrEqual(t, len(got), MaxNormalised)
	assert.Equal(t, "a\uFFFDb", Normalise("a\xffb"))
}

func TestFingerprint(t *testing.T) {
	same := [][2]string{
		// pytest: one failure in two runs, with other numbers, paths and code.
		{"E       ConnectionRefusedError: [Errno 111] Connection refused\n\nconn = <urllib3.connection.HTTPConnection object at 0x7f1c2d3e4f50>\n>       sock.connect(sa)",
			"    def test_b():\n>       sock.connect(sa)\nE       ConnectionRefusedError: [Errno 111] Connection refused\n\n/usr/lib/python3.12/socket.py:836: ConnectionRefusedError"},
		// jest, with other line numbers and stack frames.
		{"Error: expect(received).toEqual(expected)\n\n  25 |   const res = await login();\n> 26 |   expect(res.status).toEqual(200);\n    at Object.<anonymous> (src/a.test.js:26:22)",
			"Error: expect(received).toEqual(expected)\n\n  90 |   const r = await call();\n> 91 |   expect(r.status).toEqual(200);\n    at Object.<anonymous> (src/a.test.js:91:7)\n    at processTicksAndRejections (node:internal/process/task_queues:95:5)"},
		// Java, with other stack depths.
		{"Connection reset\njava.net.SocketException: Connection reset\n\tat java.base/sun.nio.ch.NioSocketImpl.implRead(NioSocketImpl.java:318)",
			"Connection reset\njava.net.SocketException: Connection reset\n\tat java.base/sun.nio.ch.NioSocketImpl.implRead(NioSocketImpl.java:320)\n\tat java.base/java.net.Socket$SocketInputStream.read(Socket.java:966)\n\t... 42 more"},
		// Go, with another request id and time.
		{"    store_test.go:88: lock 7c9e6679-7425-40de-944b-e07fc1f90ae7 held after 3.5s",
			"    store_test.go:102: lock 16fd2706-8baf-433b-82eb-8c7fada847da held after 12s"},
	}
	for i, p := range same {
		assert.Equal(t, Fingerprint("a", p[0]), Fingerprint("b", p[1]), "pair %d: %q", i, Signature("", p[0]))
		assert.True(t, IsFingerprint(Fingerprint("a", p[0])))
	}
	different := [][2]string{
		{"java.net.SocketException: Connection reset", "java.net.ConnectException: Connection refused"},
		{"KeyError: 'user_id'", "KeyError: 'session_id'"},
		{"E   AssertionError: expected 401", "E   TimeoutError: expected 401"},
	}
	for i, p := range different {
		assert.NotEqual(t, Fingerprint("a", p[0]), Fingerprint("a", p[1]), "pair %d", i)
	}
	// A failure that says nothing is named by its test.
	assert.Equal(t, Fingerprint("TestA", ""), Fingerprint("TestA", "   \n"))
	assert.NotEqual(t, Fingerprint("TestA", ""), Fingerprint("TestB", ""))
	assert.False(t, IsFingerprint("0123456789abcdeg"))
	assert.False(t, IsFingerprint("0123"))
}

// FuzzNormalise: Normalise never panics, is bounded, and normalising twice
// is normalising once; a fingerprint always has its form.
func FuzzNormalise(f *testing.F) {
	for _, s := range []string{"", "E   x 1", "0x1f 2026-01-01T00:00:00Z /tmp/a 1.5e3 a.go:1:2", "\xff\xfe", "1.", "1e", "9e+", "<n>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalise(s)
		if len(n) > MaxNormalised+MaxNormalised/2 {
			t.Fatalf("normalised to %d bytes", len(n))
		}
		if again := Normalise(n); again != n {
			t.Fatalf("not idempotent:\n%q\n%q", n, again)
		}
		if !IsFingerprint(Fingerprint(s, s)) {
			t.Fatal("bad fingerprint")
		}
	})
}

func TestEmbed(t *testing.T) {
	a := Embed("E   ConnectionRefusedError: [Errno 111] Connection refused to db:5432")
	b := Embed("E   ConnectionRefusedError: [Errno 111] Connection refused to cache:6379")
	c := Embed("E   AssertionError: expected 401 but got 500")
	assert.Len(t, a, Dimension)
	assert.InDelta(t, 1, Cosine(a, a), 1e-6)
	var norm float64
	for _, x := range a {
		norm += float64(x) * float64(x)
	}
	assert.InDelta(t, 1, norm, 1e-5, "unit length")
	assert.Greater(t, Cosine(a, b), 0.7)
	assert.Less(t, Cosine(a, c), 0.3)
	assert.Greater(t, Cosine(a, b), Cosine(a, c))
	assert.Equal(t, a, Embed("E   ConnectionRefusedError: [Errno 111] Connection refused to db:5432"), "deterministic")
	assert.Equal(t, 0.0, Cosine(Embed(""), a), "nothing to embed is the zero vector")
	assert.Equal(t, []string{"took", "<n>", "ms", "x", "y", "<tmp>"}, Tokens("took <n>ms <x> y<tmp>"))
}

// FuzzSimilarBody: what ParseSimilar accepts is within its bounds.
func FuzzSimilarBody(f *testing.F) {
	f.Add([]byte(`{"text":"boom","k":5,"exclude_workflow_id":"ABC-123456"}`))
	f.Add([]byte(`{"text":"","k":0}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var b SimilarBody
		if httpkit.Unmarshal(body, &b) != nil {
			return
		}
		q, err := ParseSimilar(b)
		if err != nil {
			return
		}
		if q.Text == "" || len(q.Text) > MaxSimilarText || q.K < 1 || q.K > MaxK {
			t.Fatalf("accepted %+v", q)
		}
	})
}

func TestSample(t *testing.T) {
	assert.Equal(t, "a b c", Sample("a\x1fb\x1ec"), "the store's separators become spaces")
	long := strings.Repeat("é", MaxSample)
	got := Sample(long)
	assert.LessOrEqual(t, len(got), MaxSample)
	assert.True(t, utf8.ValidString(got), "cut on a character boundary")
	assert.Equal(t, "a\uFFFDb", Sample("a\xffb"))
	assert.Equal(t, "", EmbedText(""))
	assert.LessOrEqual(t, len(EmbedText(strings.Repeat("word ", 5000))), 4<<10)
}
