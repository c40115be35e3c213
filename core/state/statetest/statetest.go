// Package statetest is the conformance suite every state driver passes: reads, conditional writes
// and their conflicts, missing keys, chunking of large values, expiry, listing, budgets and
// concurrent writers. A driver's test calls Run with a function that opens stores on a fresh,
// empty namespace of its backend.
package statetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyhq/eddy/core/state"
)

// Opener opens a Store with opts on the namespace of one test. Every call returns a new Store on
// the same namespace, so two calls model two processes sharing a backend.
type Opener func(opts *state.Options) *state.Store

// Harness prepares a fresh, empty namespace for one test and returns its Opener. It registers its
// cleanups with t.
type Harness func(t *testing.T) Opener

// Config tunes the suite for a backend.
type Config struct {
	// Writers and Increments size the concurrent-writers test: Writers goroutines each add
	// Increments to one counter with read-modify-write loops (defaults 8 and 25).
	Writers, Increments int
}

// clock is a settable clock for expiry tests.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// Run runs the conformance suite.
func Run(t *testing.T, h Harness, cfg Config) {
	if cfg.Writers == 0 {
		cfg.Writers = 8
	}
	if cfg.Increments == 0 {
		cfg.Increments = 25
	}
	tests := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"GetMissing", testGetMissing},
		{"PutGet", testPutGet},
		{"CreateConflict", testCreateConflict},
		{"StaleRevision", testStaleRevision},
		{"Delete", testDelete},
		{"RecreatedKeyHasNewRevision", testRecreate},
		{"EmptyValue", testEmptyValue},
		{"LargeValueChunked", testLargeChunked},
		{"ChunkedConflictLeavesNoOrphans", testChunkedConflict},
		{"Budget", testBudget},
		{"Expiry", testExpiry},
		{"List", testList},
		{"BadKeys", testBadKeys},
		{"ConcurrentWriters", func(t *testing.T, o Opener) { testConcurrent(t, o, cfg) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h(t)) })
	}
}

func mustPut(t *testing.T, s *state.Store, key string, v []byte, rev string) string {
	t.Helper()
	nrev, err := s.Put(context.Background(), key, v, rev, nil)
	if err != nil {
		t.Fatalf("Put(%q, %d bytes, rev %q): %v", key, len(v), rev, err)
	}
	if nrev == "" {
		t.Fatalf("Put(%q) returned an empty revision", key)
	}
	return nrev
}

func mustGet(t *testing.T, s *state.Store, key string) state.Entry {
	t.Helper()
	e, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return e
}

func wantValue(t *testing.T, s *state.Store, key string, want []byte, rev string) {
	t.Helper()
	e := mustGet(t, s, key)
	if !e.Found {
		t.Fatalf("Get(%q): not found, want %d bytes", key, len(want))
	}
	if !bytes.Equal(e.Value, want) {
		t.Fatalf("Get(%q) = %d bytes %.40q, want %d bytes %.40q", key, len(e.Value), e.Value, len(want), want)
	}
	if rev != "" && e.Rev != rev {
		t.Fatalf("Get(%q) revision %q, want %q (the one Put returned)", key, e.Rev, rev)
	}
}

func wantConflict(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, state.ErrConflict) {
		t.Fatalf("%s: error %v, want one matching state.ErrConflict", what, err)
	}
}

func testGetMissing(t *testing.T, open Opener) {
	s := open(nil)
	e := mustGet(t, s, "missing/key")
	if e.Found || e.Rev != "" || e.Value != nil {
		t.Fatalf("Get(missing) = %+v, want not found with no revision", e)
	}
}

func testPutGet(t *testing.T, open Opener) {
	s := open(nil)
	v := []byte("partition state \x00\xff binary")
	rev := mustPut(t, s, "fn/shard-0", v, "")
	wantValue(t, s, "fn/shard-0", v, rev)
	// Another Store on the same namespace sees it.
	wantValue(t, open(nil), "fn/shard-0", v, rev)
	// The caller's buffer is not retained.
	v[0] = 'X'
	wantValue(t, s, "fn/shard-0", []byte("partition state \x00\xff binary"), rev)
}

func testCreateConflict(t *testing.T, open Opener) {
	s := open(nil)
	rev := mustPut(t, s, "k", []byte("first"), "")
	_, err := s.Put(context.Background(), "k", []byte("second"), "", nil)
	wantConflict(t, err, "second create of the same key")
	wantValue(t, s, "k", []byte("first"), rev)
}

func testStaleRevision(t *testing.T, open Opener) {
	s := open(nil)
	r1 := mustPut(t, s, "k", []byte("v1"), "")
	r2 := mustPut(t, s, "k", []byte("v2"), r1)
	if r2 == r1 {
		t.Fatalf("revision did not change on write: %q", r1)
	}
	_, err := s.Put(context.Background(), "k", []byte("v3"), r1, nil)
	wantConflict(t, err, "write with a stale revision")
	wantValue(t, s, "k", []byte("v2"), r2)
	r3 := mustPut(t, s, "k", []byte("v3"), r2)
	wantValue(t, s, "k", []byte("v3"), r3)
}

func testDelete(t *testing.T, open Opener) {
	s := open(nil)
	ctx := context.Background()
	r1 := mustPut(t, s, "k", []byte("v1"), "")
	r2 := mustPut(t, s, "k", []byte("v2"), r1)
	wantConflict(t, s.Delete(ctx, "k", r1), "delete with a stale revision")
	wantValue(t, s, "k", []byte("v2"), r2)
	if err := s.Delete(ctx, "k", r2); err != nil {
		t.Fatalf("Delete with the current revision: %v", err)
	}
	if e := mustGet(t, s, "k"); e.Found {
		t.Fatalf("Get after Delete = %+v, want not found", e)
	}
	if err := s.Delete(ctx, "k", ""); err != nil {
		t.Fatalf("unconditional Delete of a missing key: %v", err)
	}
	_, err := s.Put(ctx, "k", []byte("v3"), r2, nil)
	wantConflict(t, err, "write with the revision of a deleted key")
}

func testRecreate(t *testing.T, open Opener) {
	s := open(nil)
	ctx := context.Background()
	r1 := mustPut(t, s, "k", []byte("v1"), "")
	if err := s.Delete(ctx, "k", r1); err != nil {
		t.Fatal(err)
	}
	r2 := mustPut(t, s, "k", []byte("v2"), "")
	_, err := s.Put(ctx, "k", []byte("v3"), r1, nil)
	wantConflict(t, err, "write with the revision of the key's previous life")
	wantValue(t, s, "k", []byte("v2"), r2)
}

func testEmptyValue(t *testing.T, open Opener) {
	s := open(nil)
	rev := mustPut(t, s, "empty", nil, "")
	e := mustGet(t, s, "empty")
	if !e.Found || len(e.Value) != 0 || e.Rev != rev {
		t.Fatalf("Get(empty) = %+v, want found, no bytes, revision %q", e, rev)
	}
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func testLargeChunked(t *testing.T, open Opener) {
	const chunk = 4096
	s := open(&state.Options{ChunkSize: chunk})
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	big := randBytes(r, 10*chunk+123)

	before := s.Stats()
	r1 := mustPut(t, s, "big", big, "")
	if w := s.Stats().Writes - before.Writes; w < 11 {
		t.Fatalf("a %d-byte value with %d-byte chunks took %d item writes, want it split into at least 11", len(big), chunk, w)
	}
	before = s.Stats()
	wantValue(t, open(&state.Options{ChunkSize: chunk}), "big", big, r1)
	wantValue(t, s, "big", big, r1)
	if rt := s.Stats().RoundTrips - before.RoundTrips; rt != 2 {
		t.Fatalf("reading a chunked value took %d round trips on this Store, want 2 (head, then all chunks in one batch)", rt)
	}
	// Replace chunked by chunked, then by inline, then by chunked again; no orphans stay behind.
	big2 := randBytes(r, 3*chunk+1)
	r2 := mustPut(t, s, "big", big2, r1)
	wantValue(t, s, "big", big2, r2)
	r3 := mustPut(t, s, "big", []byte("small now"), r2)
	wantValue(t, s, "big", []byte("small now"), r3)
	r4 := mustPut(t, s, "big", big, r3)
	wantValue(t, s, "big", big, r4)
	n, err := s.CleanOrphans(ctx, "big", 0)
	if err != nil || n != 0 {
		t.Fatalf("CleanOrphans after clean replacements = %d, %v; want 0 orphans", n, err)
	}
	// A store with a larger chunk size still reads values written with small chunks.
	wantValue(t, open(nil), "big", big, r4)
	if err := s.Delete(ctx, "big", r4); err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := s.List(ctx, "", func(k string) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Fatalf("keys left after deleting the only value: %q", keys)
	}
}

func testChunkedConflict(t *testing.T, open Opener) {
	const chunk = 2048
	s := open(&state.Options{ChunkSize: chunk})
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	v1 := randBytes(r, 5*chunk)
	r1 := mustPut(t, s, "k", v1, "")
	v2 := randBytes(r, 4*chunk)
	r2 := mustPut(t, s, "k", v2, r1)
	_, err := s.Put(ctx, "k", randBytes(r, 6*chunk), r1, nil)
	wantConflict(t, err, "chunked write with a stale revision")
	wantValue(t, s, "k", v2, r2)
	n, err := s.CleanOrphans(ctx, "k", 0)
	if err != nil || n != 0 {
		t.Fatalf("CleanOrphans after a lost chunked write = %d, %v; want 0 (the loser removes its chunks)", n, err)
	}
}

func testBudget(t *testing.T, open Opener) {
	s := open(&state.Options{Budget: 1000})
	ctx := context.Background()
	mustPut(t, s, "fn/p", make([]byte, 1000), "")
	_, err := s.Put(ctx, "fn/p2", make([]byte, 1001), "", nil)
	var be *state.BudgetError
	if !errors.As(err, &be) {
		t.Fatalf("Put over budget: error %v, want *state.BudgetError", err)
	}
	if be.Key != "fn/p2" || be.Size != 1001 || be.Budget != 1000 {
		t.Fatalf("BudgetError = %+v, want key fn/p2, size 1001, budget 1000", be)
	}
	if e := mustGet(t, s, "fn/p2"); e.Found {
		t.Fatal("a value over budget was stored")
	}
}

func testExpiry(t *testing.T, open Opener) {
	c := &clock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	s := open(&state.Options{Now: c.now, ChunkSize: 1024})
	ctx := context.Background()
	exp := c.now().Add(time.Minute)
	for _, tc := range []struct {
		key string
		n   int
	}{{"idle/small", 10}, {"idle/big", 5000}} {
		v := bytes.Repeat([]byte{'x'}, tc.n)
		rev, err := s.Put(ctx, tc.key, v, "", &state.PutOptions{Expires: exp})
		if err != nil {
			t.Fatal(err)
		}
		e := mustGet(t, s, tc.key)
		if !e.Found || !e.Expires.Equal(exp) || !bytes.Equal(e.Value, v) {
			t.Fatalf("Get(%s) before expiry = found %v expires %v, want found, expires %v", tc.key, e.Found, e.Expires, exp)
		}
		c.advance(2 * time.Minute)
		e = mustGet(t, s, tc.key)
		if e.Found || e.Value != nil {
			t.Fatalf("Get(%s) after expiry = %+v, want not found", tc.key, e)
		}
		if e.Rev != rev {
			t.Fatalf("Get(%s) after expiry: revision %q, want %q so the expired value can be replaced", tc.key, e.Rev, rev)
		}
		nrev := mustPut(t, s, tc.key, []byte("fresh"), e.Rev)
		wantValue(t, s, tc.key, []byte("fresh"), nrev)
		c.advance(-2 * time.Minute)
	}
}

func testList(t *testing.T, open Opener) {
	s := open(&state.Options{ChunkSize: 1024})
	ctx := context.Background()
	for _, k := range []string{"w1/shard-0", "w1/shard-1", "w1/big", "w2/shard-0", "w1x"} {
		n := 10
		if k == "w1/big" {
			n = 5000 // chunked: its chunk keys must not be listed
		}
		mustPut(t, s, k, make([]byte, n), "")
	}
	var got []string
	if err := s.List(ctx, "w1/", func(k string) error { got = append(got, k); return nil }); err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	if want := []string{"w1/big", "w1/shard-0", "w1/shard-1"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("List(w1/) = %q, want %q", got, want)
	}
	stop := errors.New("stop")
	calls := 0
	err := s.List(ctx, "", func(string) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("List whose callback fails: %d calls, error %v; want 1 call and the callback's error", calls, err)
	}
}

func testBadKeys(t *testing.T, open Opener) {
	s := open(nil)
	ctx := context.Background()
	long := string(bytes.Repeat([]byte{'k'}, state.MaxKeyLen+1))
	for _, k := range []string{"", "a#b", "tab\tkey", long, "\xff\xfe"} {
		if _, err := s.Put(ctx, k, []byte("v"), "", nil); err == nil {
			t.Errorf("Put(%.20q) succeeded, want an error for a bad key", k)
		}
		if _, err := s.Get(ctx, k); err == nil {
			t.Errorf("Get(%.20q) succeeded, want an error for a bad key", k)
		}
	}
	// Unusual but valid keys round-trip.
	for _, k := range []string{"fn/ordering key with spaces", "fn/ü/ß", "fn/%2F/..", ".hidden", "a/b/c:d"} {
		rev := mustPut(t, s, k, []byte(k), "")
		wantValue(t, s, k, []byte(k), rev)
	}
}

// testConcurrent runs read-modify-write increments from several goroutines on two Stores; every
// lost race retries, and the final count is exact only if no two writers ever both won.
func testConcurrent(t *testing.T, open Opener, cfg Config) {
	stores := []*state.Store{open(nil), open(nil)}
	ctx := context.Background()
	var wg sync.WaitGroup
	var conflicts atomic.Int64
	errs := make(chan error, cfg.Writers)
	for w := 0; w < cfg.Writers; w++ {
		wg.Add(1)
		go func(s *state.Store) {
			defer wg.Done()
			for i := 0; i < cfg.Increments; i++ {
				for {
					e, err := s.Get(ctx, "counter")
					if err != nil {
						errs <- err
						return
					}
					n := 0
					if e.Found {
						n, _ = strconv.Atoi(string(e.Value))
					}
					_, err = s.Put(ctx, "counter", []byte(strconv.Itoa(n+1)), e.Rev, nil)
					if err == nil {
						break
					}
					if !errors.Is(err, state.ErrConflict) {
						errs <- err
						return
					}
					conflicts.Add(1)
				}
			}
		}(stores[w%2])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	e := mustGet(t, stores[0], "counter")
	want := cfg.Writers * cfg.Increments
	if string(e.Value) != strconv.Itoa(want) {
		t.Fatalf("counter = %s after %d writers x %d increments, want %d (conflicts seen: %d)", e.Value, cfg.Writers, cfg.Increments, want, conflicts.Load())
	}
	t.Logf("%d increments, %d lost races retried", want, conflicts.Load())
}
