package storekit

import (
	"context"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/upstash"
)

var (
	//go:embed page.lua
	pageLua string
	//go:embed list.lua
	listLua string
)

// PageLib returns the Lua of list_page, for scripts that page and do more in
// the same round trip; put it after the helpers (LuaLib).
func PageLib() string { return pageLua }

// Listing changes nothing, so it may be retried.
var listScript = Script(pageLua + "\n" + listLua).RetrySafe()

// ListBudget bounds how many index entries one call examines, so that a run of
// expired or filtered-out entries cannot make a call slow; the cursor then
// resumes after them.
const ListBudget = 2000

// Cursor is a list position: the score and member of the last entry
// examined.
type Cursor struct {
	Score  string
	Member string
}

// Encode returns the opaque form of the cursor; kind tells lists apart, so
// a cursor of one list does not decode for another.
func (c Cursor) Encode(kind string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + c.Score + ":" + c.Member))
}

// Parse decodes a cursor of the kind; member validates its member.
func ParseCursor(kind, s string, member func(string) error) (Cursor, error) {
	bad := apperr.Invalid(apperr.Field("cursor", "is not a cursor this API returned"))
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, bad
	}
	parts := strings.SplitN(string(raw), ":", 3)
	if len(parts) != 3 || parts[0] != kind {
		return Cursor{}, bad
	}
	if _, err := strconv.ParseUint(parts[1], 10, 63); err != nil {
		return Cursor{}, bad
	}
	if member(parts[2]) != nil {
		return Cursor{}, bad
	}
	return Cursor{Score: parts[1], Member: parts[2]}, nil
}

// Query is one page to read.
type ListQuery struct {
	Index     string // the sorted set, scored by time
	KeyPrefix string // document key = KeyPrefix + member
	Limit     int
	After     *Cursor
	// Status keeps only documents whose "status" is this; Expiring names a
	// status that reads as "expired" once "expires_at" is before Now.
	Status, Expiring, Now string
}

// List reads one page: the documents, and the cursor of the next page (nil
// at the end).
func List(ctx context.Context, c *upstash.Client, q ListQuery) ([]string, *Cursor, error) {
	cs, cm := "", ""
	if q.After != nil {
		cs, cm = q.After.Score, q.After.Member
	}
	v, err := upstash.Values(listScript.Run(ctx, c, []string{q.Index},
		Args{"prefix", q.KeyPrefix, "limit", q.Limit, "cursor_score", cs, "cursor_member", cm, "budget", ListBudget,
			"status", q.Status, "expiring", q.Expiring, "now", q.Now}...))
	if err != nil {
		return nil, nil, err
	}
	docs, err := upstash.Strings(v[0], nil)
	if err != nil && !errors.Is(err, upstash.ErrNil) {
		return nil, nil, err
	}
	if len(v) < 2 {
		return docs, nil, nil
	}
	next, err := upstash.Strings(v[1], nil)
	if err != nil || len(next) != 2 {
		return nil, nil, fmt.Errorf("list: bad cursor from script: %v", v[1])
	}
	return docs, &Cursor{Score: next[0], Member: next[1]}, nil
}
