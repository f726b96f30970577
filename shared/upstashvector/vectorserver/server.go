// Package vectorserver is an Upstash-Vector-compatible REST server for the
// local stack: the endpoints of Upstash's documentation (upsert,
// upsert-data, query, query-data, fetch, delete, range, info, reset,
// list-namespaces, delete-namespace; not update or resumable queries), in
// namespaces, behind a bearer token, with exact cosine search over one
// dimension. Every write is journaled before it is answered, under the
// store's fsync policy (LOCAL_FSYNC), and a start replays the journal and
// compacts it. Official SDKs (@upstash/vector) work against it.
package vectorserver

import (
	"bufio"
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ai-rails/state-service/shared/embedded"
)

// MaxBody bounds a request body.
const MaxBody = 16 << 20

// Options configures a Server.
type Options struct {
	// Token is the bearer token clients must present. Required.
	Token string
	// Dimension is the length of every vector. Required.
	Dimension int
	// Embed, when set, turns data into a vector for upsert-data and
	// query-data, as an index with an embedding model does.
	Embed func(text string) []float32
	// Dir, when set, holds the journal; without it nothing is kept.
	Dir string
	// Fsync is the journal's policy. Default embedded.Always.
	Fsync embedded.Fsync
	// Logger receives the server's events. Default slog.Default().
	Logger *slog.Logger
}

// Server serves one index. Close it to flush the journal.
type Server struct {
	o      Options
	mu     sync.RWMutex
	spaces map[string]*space
	log    *os.File
	w      *bufio.Writer
	stop   chan struct{}
	done   chan struct{}
}

// record is one journaled write.
type record struct {
	Op    string   `json:"op"` // upsert, delete, reset
	NS    string   `json:"ns"`
	Items []*item  `json:"items,omitempty"`
	IDs   []string `json:"ids,omitempty"`
	All   bool     `json:"all,omitempty"`
}

const journalName = "vectors.jsonl"

// New returns a Server, with what Dir's journal holds.
func New(o Options) (*Server, error) {
	if o.Token == "" || o.Dimension <= 0 {
		return nil, errors.New("vectorserver: a token and a dimension are required")
	}
	if o.Fsync == "" {
		o.Fsync = embedded.Always
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Server{o: o, spaces: map[string]*space{"": newSpace()}}
	if o.Dir == "" {
		return s, nil
	}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

// open replays the journal, drops a torn last record, and compacts it into
// a new journal of one upsert per namespace.
func (s *Server) open() error {
	if err := os.MkdirAll(s.o.Dir, 0o700); err != nil {
		return fmt.Errorf("vectorserver: %w", err)
	}
	path := filepath.Join(s.o.Dir, journalName)
	raw, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("vectorserver: read journal: %w", err)
	}
	records, torn := 0, 0
	for len(raw) > 0 {
		line := raw
		i := bytes.IndexByte(raw, '\n')
		if i < 0 {
			torn = len(raw) // a crash mid-append
			break
		}
		line, raw = raw[:i], raw[i+1:]
		var r record
		if err := json.Unmarshal(line, &r); err != nil {
			return fmt.Errorf("vectorserver: journal record %d does not parse: %w", records+1, err)
		}
		s.apply(r)
		records++
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("vectorserver: %w", err)
	}
	w := bufio.NewWriter(f)
	for ns, sp := range s.spaces {
		r := record{Op: "upsert", NS: ns}
		for _, id := range sp.ids() {
			r.Items = append(r.Items, sp.byID[id])
		}
		if len(r.Items) > 0 {
			if err := writeRecord(w, r); err != nil {
				f.Close()
				return err
			}
		}
	}
	if err := errors.Join(w.Flush(), f.Sync(), f.Close(), os.Rename(tmp, path)); err != nil {
		return fmt.Errorf("vectorserver: compact journal: %w", err)
	}
	if d, err := os.Open(s.o.Dir); err == nil {
		d.Sync()
		d.Close()
	}
	if s.log, err = os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600); err != nil {
		return fmt.Errorf("vectorserver: %w", err)
	}
	s.w = bufio.NewWriter(s.log)
	s.o.Logger.Info("vector index recovered", "records", records, "torn_bytes", torn, "vectors", s.count())
	if s.o.Fsync == embedded.EverySec {
		s.stop, s.done = make(chan struct{}), make(chan struct{})
		go s.tick()
	}
	return nil
}

func writeRecord(w *bufio.Writer, r record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	w.Write(b)
	return w.WriteByte('\n')
}

func (s *Server) tick() {
	defer close(s.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.mu.Lock()
			if err := s.log.Sync(); err != nil {
				s.o.Logger.Error("vector journal fsync failed", "error", err)
			}
			s.mu.Unlock()
		}
	}
}

// Close flushes and closes the journal.
func (s *Server) Close() error {
	if s.log == nil {
		return nil
	}
	if s.stop != nil {
		close(s.stop)
		<-s.done
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err := errors.Join(s.w.Flush(), s.log.Sync(), s.log.Close())
	s.log = nil
	return err
}

// commit journals r and applies it; called with mu held. The record is
// written (and fsynced under Always) before the answer goes out.
func (s *Server) commit(r record) error {
	if s.log != nil {
		if err := writeRecord(s.w, r); err != nil {
			return err
		}
		if err := s.w.Flush(); err != nil {
			return err
		}
		if s.o.Fsync == embedded.Always {
			if err := s.log.Sync(); err != nil {
				return err
			}
		}
	}
	s.apply(r)
	return nil
}

func (s *Server) apply(r record) {
	switch r.Op {
	case "upsert":
		sp := s.space(r.NS, true)
		for _, it := range r.Items {
			sp.put(it)
		}
	case "delete":
		if sp := s.space(r.NS, false); sp != nil {
			for _, id := range r.IDs {
				sp.remove(id)
			}
		}
	case "reset":
		if r.All {
			s.spaces = map[string]*space{"": newSpace()}
		} else if r.NS == "" {
			s.spaces[""] = newSpace()
		} else {
			delete(s.spaces, r.NS)
		}
	}
}

func (s *Server) space(ns string, create bool) *space {
	sp := s.spaces[ns]
	if sp == nil && create {
		sp = newSpace()
		s.spaces[ns] = sp
	}
	return sp
}

func (s *Server) count() int {
	n := 0
	for _, sp := range s.spaces {
		n += len(sp.byID)
	}
	return n
}

// apiError is an error answer: {"error": "...", "status": n}.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func bad(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// ServeHTTP answers the REST API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	if subtle.ConstantTimeCompare([]byte(auth), []byte("Bearer "+s.o.Token)) != 1 {
		reply(w, http.StatusUnauthorized, map[string]any{"error": "Unauthorized: Invalid auth token", "status": 401})
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		reply(w, http.StatusMethodNotAllowed, map[string]any{"error": "method not allowed", "status": 405})
		return
	}
	endpoint, ns, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		reply(w, http.StatusRequestEntityTooLarge, map[string]any{"error": "request body too large", "status": 413})
		return
	}
	result, err := s.route(endpoint, ns, r.URL.Query().Has("all"), bytes.TrimSpace(body))
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		reply(w, ae.status, map[string]any{"error": ae.msg, "status": ae.status})
	case err != nil:
		s.o.Logger.Error("vector request failed", "endpoint", endpoint, "error", err)
		reply(w, http.StatusInternalServerError, map[string]any{"error": err.Error(), "status": 500})
	default:
		reply(w, http.StatusOK, map[string]any{"result": result})
	}
}

func (s *Server) route(endpoint, ns string, all bool, body []byte) (any, error) {
	switch endpoint {
	case "upsert":
		return s.upsert(ns, body, false)
	case "upsert-data":
		return s.upsert(ns, body, true)
	case "query":
		return s.query(ns, body, false)
	case "query-data":
		return s.query(ns, body, true)
	case "fetch":
		return s.fetch(ns, body)
	case "delete":
		return s.delete(ns, body)
	case "range":
		return s.rangeOf(ns, body)
	case "info":
		return s.info(), nil
	case "list-namespaces":
		s.mu.RLock()
		defer s.mu.RUnlock()
		return slices.Sorted(maps.Keys(s.spaces)), nil
	case "delete-namespace":
		s.mu.Lock()
		defer s.mu.Unlock()
		if ns == "" {
			return nil, bad("the default namespace cannot be deleted")
		}
		if s.spaces[ns] == nil {
			return nil, &apiError{http.StatusNotFound, "namespace " + strconv.Quote(ns) + " does not exist"}
		}
		return "Success", s.commit(record{Op: "reset", NS: ns})
	case "reset":
		s.mu.Lock()
		defer s.mu.Unlock()
		return "Success", s.commit(record{Op: "reset", NS: ns, All: all})
	}
	return nil, &apiError{http.StatusNotFound, "unknown endpoint " + strconv.Quote(endpoint)}
}

// many decodes a body that is one object or an array of them.
func many[T any](body []byte) ([]T, bool, error) {
	if len(body) > 0 && body[0] == '[' {
		var out []T
		err := json.Unmarshal(body, &out)
		return out, true, err
	}
	var one T
	err := json.Unmarshal(body, &one)
	return []T{one}, false, err
}

// anyID reads an id sent as a string or a number.
type anyID string

func (id *anyID) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*id = anyID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("an id must be a string or a number")
	}
	*id = anyID(n.String())
	return nil
}

type upsertBody struct {
	ID       anyID           `json:"id"`
	Vector   []float32       `json:"vector"`
	Data     *string         `json:"data"`
	Metadata json.RawMessage `json:"metadata"`
}

func (s *Server) toVector(v []float32, data *string, fromData bool) ([]float32, error) {
	if fromData {
		if data == nil || s.o.Embed == nil {
			return nil, bad("this index embeds no data: upsert and query vectors")
		}
		v = s.o.Embed(*data)
	}
	if len(v) != s.o.Dimension {
		return nil, bad("Invalid vector dimension: %d, expected: %d", len(v), s.o.Dimension)
	}
	return unit(v), nil
}

func (s *Server) upsert(ns string, body []byte, fromData bool) (any, error) {
	in, _, err := many[upsertBody](body)
	if err != nil {
		return nil, bad("the body does not parse: %v", err)
	}
	items := make([]*item, 0, len(in))
	for _, u := range in {
		if u.ID == "" {
			return nil, bad("every vector needs an id")
		}
		v, err := s.toVector(u.Vector, u.Data, fromData)
		if err != nil {
			return nil, err
		}
		it := &item{ID: string(u.ID), Vector: v, Metadata: u.Metadata}
		if u.Data != nil {
			it.Data = *u.Data
		}
		items = append(items, it)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return "Success", s.commit(record{Op: "upsert", NS: ns, Items: items})
}

type include struct {
	IncludeMetadata bool `json:"includeMetadata"`
	IncludeVectors  bool `json:"includeVectors"`
	IncludeData     bool `json:"includeData"`
}

// view is a vector as an answer shows it.
type view struct {
	ID       string          `json:"id"`
	Score    *float64        `json:"score,omitempty"`
	Vector   []float32       `json:"vector,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	Data     string          `json:"data,omitempty"`
}

func (inc include) view(it *item) view {
	v := view{ID: it.ID}
	if inc.IncludeVectors {
		v.Vector = it.Vector
	}
	if inc.IncludeMetadata {
		v.Metadata = it.Metadata
	}
	if inc.IncludeData {
		v.Data = it.Data
	}
	return v
}

type queryBody struct {
	include
	Vector []float32 `json:"vector"`
	Data   *string   `json:"data"`
	TopK   *int      `json:"topK"`
	Filter string    `json:"filter"`
}

func (s *Server) query(ns string, body []byte, fromData bool) (any, error) {
	qs, batch, err := many[queryBody](body)
	if err != nil {
		return nil, bad("the body does not parse: %v", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	sp := s.space(ns, false)
	var out [][]view
	for _, q := range qs {
		if q.Filter != "" {
			return nil, bad("the local index does not filter by metadata")
		}
		v, err := s.toVector(q.Vector, q.Data, fromData)
		if err != nil {
			return nil, err
		}
		k := 10
		if q.TopK != nil {
			k = *q.TopK
		}
		if k < 1 || k > 1000 {
			return nil, bad("topK must be from 1 to 1000")
		}
		views := []view{}
		if sp != nil {
			for _, h := range sp.nearest(v, k) {
				vw := q.include.view(h.it)
				score := h.score
				vw.Score = &score
				views = append(views, vw)
			}
		}
		out = append(out, views)
	}
	if batch {
		return out, nil
	}
	return out[0], nil
}

type idsBody struct {
	include
	IDs    []anyID `json:"ids"`
	Prefix string  `json:"prefix"`
}

// selected reads the ids a fetch or delete names: a list, or a prefix.
func (s *Server) selected(sp *space, body []byte) (idsBody, []string, error) {
	var b idsBody
	if len(body) > 0 && body[0] == '[' {
		if err := json.Unmarshal(body, &b.IDs); err != nil {
			return b, nil, bad("the body does not parse: %v", err)
		}
	} else if err := json.Unmarshal(body, &b); err != nil {
		return b, nil, bad("the body does not parse: %v", err)
	}
	var ids []string
	if b.Prefix != "" && sp != nil {
		for _, id := range sp.ids() {
			if strings.HasPrefix(id, b.Prefix) {
				ids = append(ids, id)
			}
		}
	}
	for _, id := range b.IDs {
		ids = append(ids, string(id))
	}
	return b, ids, nil
}

func (s *Server) fetch(ns string, body []byte) (any, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sp := s.space(ns, false)
	b, ids, err := s.selected(sp, body)
	if err != nil {
		return nil, err
	}
	out := make([]*view, len(ids))
	for i, id := range ids {
		if sp == nil {
			continue
		}
		if it := sp.byID[id]; it != nil {
			v := b.include.view(it)
			out[i] = &v
		}
	}
	return out, nil
}

func (s *Server) delete(ns string, body []byte) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := s.space(ns, false)
	_, ids, err := s.selected(sp, body)
	if err != nil {
		return nil, err
	}
	n := 0
	if sp != nil {
		for _, id := range ids {
			if _, ok := sp.byID[id]; ok {
				n++
			}
		}
	}
	if n > 0 {
		if err := s.commit(record{Op: "delete", NS: ns, IDs: ids}); err != nil {
			return nil, err
		}
	}
	return map[string]int{"deleted": n}, nil
}

type rangeBody struct {
	include
	Cursor anyID  `json:"cursor"`
	Limit  int    `json:"limit"`
	Prefix string `json:"prefix"`
}

func (s *Server) rangeOf(ns string, body []byte) (any, error) {
	var b rangeBody
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, bad("the body does not parse: %v", err)
	}
	if b.Limit < 1 || b.Limit > 1000 {
		return nil, bad("limit must be from 1 to 1000")
	}
	start := 0
	if b.Cursor != "" {
		n, err := strconv.Atoi(string(b.Cursor))
		if err != nil || n < 0 {
			return nil, bad("the cursor is not one this index returned")
		}
		start = n
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	page := struct {
		NextCursor string `json:"nextCursor"`
		Vectors    []view `json:"vectors"`
	}{Vectors: []view{}}
	sp := s.space(ns, false)
	if sp == nil {
		return page, nil
	}
	ids := sp.ids()
	i := start
	for ; i < len(ids) && len(page.Vectors) < b.Limit; i++ {
		if strings.HasPrefix(ids[i], b.Prefix) {
			page.Vectors = append(page.Vectors, b.include.view(sp.byID[ids[i]]))
		}
	}
	if i < len(ids) {
		page.NextCursor = strconv.Itoa(i)
	}
	return page, nil
}

func (s *Server) info() any {
	s.mu.RLock()
	defer s.mu.RUnlock()
	type nsInfo struct {
		VectorCount        int `json:"vectorCount"`
		PendingVectorCount int `json:"pendingVectorCount"`
	}
	namespaces := map[string]nsInfo{}
	for ns, sp := range s.spaces {
		namespaces[ns] = nsInfo{VectorCount: len(sp.byID)}
	}
	n := s.count()
	return map[string]any{
		"vectorCount": n, "pendingVectorCount": 0, "indexSize": n * s.o.Dimension * 4,
		"dimension": s.o.Dimension, "similarityFunction": "COSINE", "namespaces": namespaces,
	}
}
