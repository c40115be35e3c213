// Package driver defines the small interface a state store driver implements. Users never call a
// driver directly: they use the portable *state.Store, which adds chunking of large values, size
// budgets, expiry, revision tokens and error wrapping on top of any driver, the way gocloud.dev's
// portable types wrap their drivers.
package driver

import (
	"context"
	"errors"
	"time"
)

// Code classifies a driver error so the portable type can tell a lost race from an outage.
type Code int

// Error codes.
const (
	// Unknown is any error that is neither of the others (network, permissions, throttling).
	Unknown Code = iota
	// NotFound means the key does not exist.
	NotFound
	// Conflict means a conditional write found a revision other than the expected one (or found the
	// key present when it was expected absent).
	Conflict
)

// Sentinels for drivers whose backend has no error codes of its own (memory, local files): wrap
// them with context and let ErrorCode use CodeOf.
var (
	ErrNotFound = errors.New("key not found")
	ErrConflict = errors.New("revision mismatch")
)

// CodeOf classifies an error wrapping ErrNotFound or ErrConflict.
func CodeOf(err error) Code {
	switch {
	case errors.Is(err, ErrNotFound):
		return NotFound
	case errors.Is(err, ErrConflict):
		return Conflict
	}
	return Unknown
}

// Store is a key-value store with one conditional write. Keys are at most 1,024 bytes of printable
// UTF-8 without '#' (the portable type checks them). Values are opaque bytes no larger than
// MaxValueSize; the portable type splits larger values across several keys itself.
type Store interface {
	// Get returns the value and the revision of key, or an error whose code is NotFound.
	Get(ctx context.Context, key string) (value []byte, rev string, err error)
	// GetMany returns the values of keys in order, in as few round trips as the backend allows. A
	// missing key is an error whose code is NotFound.
	GetMany(ctx context.Context, keys []string) ([][]byte, error)
	// Put writes value under key if the key's current revision is rev, or if rev is "" and the key
	// does not exist, and returns the new revision. Otherwise it writes nothing and returns an error
	// whose code is Conflict. A non-zero expires asks the backend to delete the key after that time
	// where it can (DynamoDB and Firestore TTL); the portable type enforces expiry on reads itself.
	Put(ctx context.Context, key string, value []byte, rev string, expires time.Time) (string, error)
	// PutMany writes values under keys unconditionally. It is used for chunks, whose keys are unique
	// per write, so no condition is needed.
	PutMany(ctx context.Context, keys []string, values [][]byte, expires time.Time) error
	// Delete removes key if its revision is rev (any revision when rev is ""). A missing key is not an
	// error; a revision mismatch is a Conflict.
	Delete(ctx context.Context, key string, rev string) error
	// DeleteMany removes keys unconditionally; missing keys are not an error.
	DeleteMany(ctx context.Context, keys []string) error
	// List calls fn with every key that starts with prefix, in no particular order, stopping at the
	// first error fn returns.
	List(ctx context.Context, prefix string, fn func(key string) error) error
	// MaxValueSize is the largest value one key holds (0 for no limit).
	MaxValueSize() int
	// ErrorCode classifies an error this driver returned.
	ErrorCode(err error) Code
	// Close releases the driver's resources.
	Close() error
}
