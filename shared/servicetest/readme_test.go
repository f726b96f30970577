package servicetest_test

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shared/README.md's package table names every package of the module, and
// no other.
func TestReadmeListsEveryPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "github.com/ai-rails/state-service/shared/...").Output()
	require.NoError(t, err)
	var pkgs []string
	for _, p := range strings.Fields(string(out)) {
		pkgs = append(pkgs, strings.TrimPrefix(p, "github.com/ai-rails/state-service/shared/"))
	}
	raw, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	var listed []string
	row := regexp.MustCompile("(?m)^\\| (`[^|]*`) \\|")
	for _, m := range row.FindAllStringSubmatch(string(raw), -1) {
		for _, name := range regexp.MustCompile("`([a-z/]+)`").FindAllStringSubmatch(m[1], -1) {
			listed = append(listed, name[1])
		}
	}
	slices.Sort(pkgs)
	slices.Sort(listed)
	assert.Equal(t, pkgs, listed)
}
