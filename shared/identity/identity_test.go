package identity_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"pgregory.net/rapid"

	"github.com/ai-rails/state-service/shared/identity"
)

func TestCheck(t *testing.T) {
	for _, ok := range []string{"ci-bot", "Alice Smith", "ëlise", "数据", "a"} {
		assert.Empty(t, identity.Check(ok, 256), ok)
	}
	for _, bad := range []string{"", "ci-bot ", " ci-bot", "\tci-bot", "ci-bot\n", "ci-bot\u200b", "ci\u200d-bot", "ci-bot\u202e", "ci\x00bot", "ci-bot\u00a0", "\u3000ci-bot"} {
		assert.NotEmpty(t, identity.Check(bad, 256), "%q", bad)
	}
	assert.NotEmpty(t, identity.Check("abc", 2))
	assert.Equal(t, "must be UTF-8", identity.Check("ci\xffbot", 256))
}

func TestSameIdentity(t *testing.T) {
	for _, alias := range []string{"CI-BOT", "Ci-Bot", "ci\u2010bot", "ci\u2011bot", "ci\u2013bot", "ci\uff0dbot", "ｃｉ-ｂｏｔ"} {
		assert.True(t, identity.Same("ci-bot", alias), "%q", alias)
	}
	assert.True(t, identity.Same("STRASSE", "straße"))
	for _, other := range []string{"ci_bot", "cibot", "ci-bot2", "ci bot"} {
		assert.False(t, identity.Same("ci-bot", other), "%q", other)
	}
}

func TestCanonicalIsStable(t *testing.T) {
	// Found by rapid: one pass of folding turned this Cherokee letter back.
	for _, s := range []string{"\u0488\uab7d \U000107c3\\\u00a3", "\uab7d", "\u13ad"} {
		assert.Equal(t, identity.Canonical(s), identity.Canonical(identity.Canonical(s)), "%q", s)
	}
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.String().Draw(t, "s")
		c := identity.Canonical(s)
		assert.Equal(t, c, identity.Canonical(c), "canonical of canonical")
	})
}
