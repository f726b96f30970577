package openapi_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/openapi"
)

// API.md, the contract in words, and openapi.yaml name the same routes, and
// API.md's problem slugs are the ones the code answers.
func TestAPIReferenceMatchesTheDocument(t *testing.T) {
	raw, err := os.ReadFile("API.md")
	require.NoError(t, err)
	page := string(raw)

	var inPage []string
	row := regexp.MustCompile("(?m)^\\| `(GET|POST|PUT|PATCH|DELETE) (/(?:api/|approve/|mcp)[^` ?]*)")
	for _, m := range row.FindAllStringSubmatch(page, -1) {
		inPage = append(inPage, m[1]+" "+m[2])
	}
	doc, err := openapi.Load()
	require.NoError(t, err)
	var inDoc []string
	for path, item := range doc.Paths.Map() {
		if path == "/api/openapi.json" {
			continue // the local stack's own, not part of the API
		}
		for method := range item.Operations() {
			inDoc = append(inDoc, method+" "+path)
		}
	}
	slices.Sort(inPage)
	slices.Sort(inDoc)
	assert.Equal(t, inDoc, slices.Compact(inPage), "routes in API.md and in openapi.yaml")

	i := strings.Index(page, "The slugs are")
	require.Positive(t, i)
	sentence := page[i : i+strings.Index(page[i:], ".")]
	var named []string
	for _, m := range regexp.MustCompile("`([a-z-]+)`").FindAllStringSubmatch(sentence, -1) {
		named = append(named, m[1])
	}
	var answered []string
	for k := apperr.Internal; k <= apperr.StoreUnavailable; k++ {
		p, _ := httpkit.ProblemFor(apperr.New(k, "x"))
		answered = append(answered, strings.TrimPrefix(p.Type, httpkit.ProblemTypePrefix))
	}
	slices.Sort(named)
	slices.Sort(answered)
	assert.Equal(t, answered, named, "problem slugs in API.md and in the code")
}
