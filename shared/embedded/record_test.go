package embedded

import (
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

func TestRecordsRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var recs []record
		var b []byte
		for range rapid.IntRange(1, 5).Draw(t, "records") {
			r := record{
				Kind: rapid.SampledFrom([]kind{kindSingle, kindPipelined, kindMultiExec, kindHeader, kindEnd}).Draw(t, "kind"),
				At:   rapid.Int64().Draw(t, "at"),
				Cmds: rapid.SliceOfN(rapid.SliceOfN(rapid.String(), 0, 4), 0, 3).Draw(t, "cmds"),
			}
			recs = append(recs, r)
			b = appendRecord(b, r)
		}
		for _, want := range recs {
			got, n, err := readRecord(b)
			require.NoError(t, err)
			if len(want.Cmds) == 0 {
				want.Cmds = [][]string{}
			}
			for i, c := range want.Cmds {
				if len(c) == 0 {
					want.Cmds[i] = []string{}
				}
			}
			assert.Equal(t, want, got)
			b = b[n:]
		}
		_, _, err := readRecord(b)
		assert.ErrorIs(t, err, io.EOF)
	})
}

// FuzzReadRecord: whatever the bytes, reading them ends in a record, the
// end, a torn record, or an error, and never panics or over-allocates.
func FuzzReadRecord(f *testing.F) {
	f.Add(appendRecord(nil, record{Kind: kindSingle, At: 1733220000000, Cmds: [][]string{{"SET", "k", "v"}}}))
	f.Add(appendRecord(nil, record{Kind: kindHeader, Cmds: [][]string{{"snapshot", "3"}}}))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{255, 255, 255, 255, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) > 0 {
			r, n, err := readRecord(b)
			if err != nil {
				return // the end, a torn record, or one whose checksum holds but does not decode
			}
			if n <= 0 || n > len(b) {
				t.Fatalf("took %d of %d bytes", n, len(b))
			}
			again, m, err := readRecord(appendRecord(nil, r))
			if err != nil || m == 0 || again.At != r.At || len(again.Cmds) != len(r.Cmds) {
				t.Fatalf("a record read back does not round trip: %v", err)
			}
			b = b[n:]
		}
	})
}
