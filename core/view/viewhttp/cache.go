package viewhttp

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// cacheBytes bounds the bodies a Server's response cache holds; a response that would pass it is
// served but not kept.
const cacheBytes = 4 << 20

// cacheEntries bounds the responses a Server's cache holds at once; past it, a request is
// answered without the cache.
const cacheEntries = 256

// respCache lets one read of the store answer every identical API request for a short time.
// Open dashboards refetch the same tables after the same tick of the event stream: without it,
// fifty pages cost fifty scans of a view (and, over a cloud store, fifty billed reads) where one
// gives every page the same answer. Requests that arrive while the first is being answered wait
// for it rather than reading the store again.
type respCache struct {
	ttl   time.Duration
	mu    sync.Mutex
	m     map[string]*cached
	bytes int
}

// cached is one response; done is closed once it is filled.
type cached struct {
	done   chan struct{}
	at     time.Time
	status int
	header http.Header
	body   []byte
	kept   bool // counted in respCache.bytes
}

func newRespCache(ttl time.Duration) *respCache {
	return &respCache{ttl: ttl, m: map[string]*cached{}}
}

// wrap answers h's requests from the cache. The key is the request's path and query, so a
// different page, sort or access key (Azure's ?code=) is a different entry. Only 200 answers are
// kept; an error is passed to the requests that waited for it and then forgotten.
func (c *respCache) wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.URL.RequestURI()
		now := time.Now()
		c.mu.Lock()
		e := c.m[key]
		if e != nil && e.filled() && now.Sub(e.at) >= c.ttl {
			c.drop(key, e)
			e = nil
		}
		if e != nil {
			c.mu.Unlock()
			select {
			case <-e.done:
				e.writeTo(w)
			case <-r.Context().Done():
			}
			return
		}
		if len(c.m) >= cacheEntries {
			c.sweep(now)
		}
		e = &cached{done: make(chan struct{}), at: now, header: http.Header{}}
		keep := len(c.m) < cacheEntries
		if keep {
			c.m[key] = e
		}
		c.mu.Unlock()
		// The answer is shared, so the first request's client going away must not cut it short
		// for the others.
		h(e, r.WithContext(context.WithoutCancel(r.Context())))
		if e.status == 0 {
			e.status = http.StatusOK
		}
		close(e.done)
		if keep {
			c.mu.Lock()
			if e.status != http.StatusOK || c.bytes+len(e.body) > cacheBytes {
				c.drop(key, e)
			} else {
				c.bytes += len(e.body)
				e.kept = true
			}
			c.mu.Unlock()
		}
		e.writeTo(w)
	}
}

// drop forgets key's entry e (if it is still the one held); c.mu is held.
func (c *respCache) drop(key string, e *cached) {
	if c.m[key] != e {
		return
	}
	delete(c.m, key)
	if e.kept {
		c.bytes -= len(e.body)
	}
}

// sweep forgets the expired entries; c.mu is held.
func (c *respCache) sweep(now time.Time) {
	for k, e := range c.m {
		if e.filled() && now.Sub(e.at) >= c.ttl {
			c.drop(k, e)
		}
	}
}

func (e *cached) filled() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

// Header, Write and WriteHeader record the handler's answer.
func (e *cached) Header() http.Header { return e.header }

func (e *cached) Write(p []byte) (int, error) {
	if e.status == 0 {
		e.status = http.StatusOK
	}
	e.body = append(e.body, p...)
	return len(p), nil
}

func (e *cached) WriteHeader(status int) {
	if e.status == 0 {
		e.status = status
	}
}

func (e *cached) writeTo(w http.ResponseWriter) {
	for k, v := range e.header {
		w.Header()[k] = v
	}
	w.WriteHeader(e.status)
	_, _ = w.Write(e.body)
}
