package access_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/access"
)

func withKey(key string) *http.Request {
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("x-api-key", key)
	return r
}

func TestKeyring(t *testing.T) {
	k, err := access.ParseKeys("default-key", `[{"name":"agent","key":"agent-key-0123456789","scopes":["read","write","mcp"]},
		{"name":"n8n","keys":["n8n-old-0123456789","n8n-new-0123456789"],"scopes":["*"]}]`)
	require.NoError(t, err)
	assert.Len(t, k.Clients(), 3)
	for key, want := range map[string]string{"default-key": "default", "agent-key-0123456789": "agent",
		"n8n-old-0123456789": "n8n", "n8n-new-0123456789": "n8n"} {
		c, ok := k.Resolve(withKey(key))
		require.True(t, ok, want)
		assert.Equal(t, want, c.Name)
	}
	for _, bad := range []string{"", "agent-key-012345678", "AGENT-KEY-0123456789", "default-key "} {
		_, ok := k.Resolve(withKey(bad))
		assert.False(t, ok, bad)
	}
	agent, _ := k.Resolve(withKey("agent-key-0123456789"))
	assert.True(t, agent.Has(access.Read))
	assert.True(t, agent.Has(""))
	assert.False(t, agent.Has(access.Decide))
}

func TestParseKeysRefusals(t *testing.T) {
	for name, keys := range map[string]string{
		"bad name":      `[{"name":"Agent!","key":"agent-key-0123456789","scopes":["read"]}]`,
		"taken name":    `[{"name":"default","key":"agent-key-0123456789","scopes":["read"]}]`,
		"short key":     `[{"name":"a","key":"secret-short","scopes":["read"]}]`,
		"no key":        `[{"name":"a","scopes":["read"]}]`,
		"three keys":    `[{"name":"a","keys":["k1-0123456789abcdef","k2-0123456789abcdef","k3-0123456789abcdef"],"scopes":["read"]}]`,
		"shared key":    `[{"name":"a","key":"shared-0123456789abc","scopes":["read"]},{"name":"b","key":"shared-0123456789abc","scopes":["read"]}]`,
		"unknown scope": `[{"name":"a","key":"a-key-0123456789abc","scopes":["admin"]}]`,
		"no scopes":     `[{"name":"a","key":"a-key-0123456789abc","scopes":[]}]`,
		"twice":         `[{"name":"a","key":"a-key-0123456789abc","scopes":["read","read"]}]`,
		"unknown field": `[{"name":"a","key":"a-key-0123456789abc","scopes":["read"],"admin":true}]`,
		"not JSON":      `[{"name":"a","key":"a-key-0123456789abc"`,
	} {
		_, err := access.ParseKeys("default-key", keys)
		require.Error(t, err, name)
		for _, secret := range []string{"0123456789", "secret-short", "default-key"} {
			assert.NotContains(t, err.Error(), secret, "%s: no key in the error", name)
		}
	}
}

func TestGateway(t *testing.T) {
	id := ""
	g, err := access.ParseGateway(`[{"key_id":"k1","name":"reader","scopes":["read"]},{"key_id":"k2","name":"reader","scopes":["read"]}]`,
		func(*http.Request) string { return id })
	require.NoError(t, err)
	for _, k := range []string{"k1", "k2"} {
		id = k
		c, ok := g.Resolve(withKey(""))
		assert.True(t, ok)
		assert.Equal(t, "reader", c.Name)
	}
	for _, k := range []string{"", "k3"} {
		id = k
		_, ok := g.Resolve(withKey(""))
		assert.False(t, ok, k)
	}
	for _, bad := range []string{`{}`, `[{"key_id":"","name":"a","scopes":["read"]}]`, `[{"key_id":"k","name":"a","scopes":["read"]},{"key_id":"k","name":"b","scopes":["read"]}]`,
		`[{"key_id":"k","name":"a","scopes":["root"]}]`} {
		_, err := access.ParseGateway(bad, nil)
		assert.Error(t, err, bad)
	}
}
