package mcpserver

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/openapi"
)

var componentRef = regexp.MustCompile(`"#/components/schemas/([A-Za-z0-9]+)"`)

// outputSchemas makes outputs.json from the OpenAPI document: for each
// schema a tool answers with, that schema, with every schema it refers to
// under $defs, so that the tools' output schemas are the REST answers'.
func outputSchemas(t *testing.T) []byte {
	t.Helper()
	doc, err := openapi.Load()
	require.NoError(t, err)
	var specs map[string]spec
	require.NoError(t, json.Unmarshal(toolsJSON, &specs))
	raw := func(name string) string {
		ref, ok := doc.Components.Schemas[name]
		require.True(t, ok, "no schema %s in the OpenAPI document", name)
		b, err := json.Marshal(ref.Value)
		require.NoError(t, err)
		return string(b)
	}
	out := map[string]json.RawMessage{}
	for _, sp := range specs {
		if _, done := out[sp.Output]; done {
			continue
		}
		defs := map[string]json.RawMessage{}
		queue := []string{sp.Output}
		for len(queue) > 0 {
			name := queue[0]
			queue = queue[1:]
			body := raw(name)
			for _, m := range componentRef.FindAllStringSubmatch(body, -1) {
				if _, seen := defs[m[1]]; !seen && m[1] != sp.Output {
					defs[m[1]] = nil
					queue = append(queue, m[1])
				}
			}
			if name != sp.Output {
				defs[name] = json.RawMessage(componentRef.ReplaceAllString(body, `"#/$$defs/$1"`))
			}
		}
		var top map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(componentRef.ReplaceAllString(raw(sp.Output), `"#/$$defs/$1"`)), &top))
		if len(defs) > 0 {
			d, err := json.Marshal(defs)
			require.NoError(t, err)
			top["$defs"] = d
		}
		b, err := json.Marshal(top)
		require.NoError(t, err)
		out[sp.Output] = b
	}
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	buf.WriteString("{\n")
	for i, n := range names {
		var ind bytes.Buffer
		require.NoError(t, json.Indent(&ind, out[n], "  ", "  "))
		buf.WriteString(`  "` + n + `": ` + ind.String())
		if i < len(names)-1 {
			buf.WriteString(",")
		}
		buf.WriteString("\n")
	}
	buf.WriteString("}\n")
	return buf.Bytes()
}

// TestOutputsFollowTheOpenAPIDocument holds outputs.json to the OpenAPI
// document; UPDATE_OUTPUTS=1 rewrites it.
func TestOutputsFollowTheOpenAPIDocument(t *testing.T) {
	want := outputSchemas(t)
	if os.Getenv("UPDATE_OUTPUTS") == "1" {
		require.NoError(t, os.WriteFile("outputs.json", want, 0o644))
		return
	}
	require.Equal(t, strings.Split(string(want), "\n"), strings.Split(string(outputsJSON), "\n"),
		"outputs.json is out of date: run UPDATE_OUTPUTS=1 go test ./mcpserver -run TestOutputsFollowTheOpenAPIDocument in shared")
}
