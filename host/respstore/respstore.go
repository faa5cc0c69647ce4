// Package respstore owns stored Responses for previous_response_id and GET/DELETE
// /v1/responses/{id}: records scoped by tenant, bounded in size, with a TTL, kept in memory or
// in Redis so that every replica behind a load balancer sees them.
//
// A tenant is part of every key, so a lookup with another tenant's name cannot reach a record:
// Get and Delete answer ErrNotFound for unknown, expired and foreign records alike, and never
// tell them apart.
package respstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
)

// Record is one stored response and the conversation it ends.
type Record struct {
	ID, Tenant, Model, Provider string // Provider: the sluice provider that served it
	// Native is set when a Responses-native upstream served it (its own store holds it too).
	Native bool
	// Response is the response object as sent to the client.
	Response []byte
	// Items is the whole conversation up to and including this response: the history it
	// continued, its input items and its output items.
	Items [][]byte
	// Input is how many of Items were this response's own input (they come just before its
	// output items), for GET /v1/responses/{id}/input_items.
	Input     int
	CreatedAt int64
}

// ErrNotFound is returned for unknown, expired or another tenant's records.
var ErrNotFound = errors.New("respstore: not found")

// ErrTooLarge is returned by Put for a record above the store's per-record bound; the record is
// not stored.
var ErrTooLarge = errors.New("respstore: record too large")

// Store keeps records. Implementations are safe for concurrent use. Records passed to Put and
// returned by Get must not be modified afterwards.
type Store interface {
	Put(ctx context.Context, r *Record) error
	// Get returns ErrNotFound for unknown, expired or another tenant's records.
	Get(ctx context.Context, tenant, id string) (*Record, error)
	// Delete returns ErrNotFound likewise.
	Delete(ctx context.Context, tenant, id string) error
}

// Size is the number of bytes r takes in a store's accounting: its encoded length.
func Size(r *Record) int64 {
	n := 1 + 7*binary.MaxVarintLen64 + len(r.ID) + len(r.Tenant) + len(r.Model) + len(r.Provider) + len(r.Response) + 1
	for _, it := range r.Items {
		n += binary.MaxVarintLen64 + len(it)
	}
	return int64(n)
}

const encVersion = 1

// encode writes r as: version, then length-prefixed ID, Tenant, Model, Provider, the Native
// byte, CreatedAt (varint), Input (uvarint), the length-prefixed Response, the item count and each
// length-prefixed item. It is several times smaller and faster than JSON for bodies that are
// themselves JSON (no re-escaping).
func encode(r *Record) []byte {
	b := make([]byte, 0, Size(r))
	b = append(b, encVersion)
	for _, s := range []string{r.ID, r.Tenant, r.Model, r.Provider} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	if r.Native {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendVarint(b, r.CreatedAt)
	b = binary.AppendUvarint(b, uint64(r.Input))
	b = binary.AppendUvarint(b, uint64(len(r.Response)))
	b = append(b, r.Response...)
	b = binary.AppendUvarint(b, uint64(len(r.Items)))
	for _, it := range r.Items {
		b = binary.AppendUvarint(b, uint64(len(it)))
		b = append(b, it...)
	}
	return b
}

var errCorrupt = errors.New("respstore: corrupt record")

// decode reads what encode wrote. The returned record's byte slices alias b.
func decode(b []byte) (*Record, error) {
	if len(b) == 0 || b[0] != encVersion {
		return nil, errCorrupt
	}
	b = b[1:]
	bytesField := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, false
		}
		v := b[k : k+int(n) : k+int(n)]
		b = b[k+int(n):]
		return v, true
	}
	r := new(Record)
	for _, dst := range []*string{&r.ID, &r.Tenant, &r.Model, &r.Provider} {
		v, ok := bytesField()
		if !ok {
			return nil, errCorrupt
		}
		*dst = string(v)
	}
	if len(b) == 0 {
		return nil, errCorrupt
	}
	r.Native = b[0] == 1
	b = b[1:]
	t, k := binary.Varint(b)
	if k <= 0 {
		return nil, errCorrupt
	}
	r.CreatedAt = t
	b = b[k:]
	in, k := binary.Uvarint(b)
	if k <= 0 || in > uint64(len(b)) {
		return nil, errCorrupt
	}
	r.Input = int(in)
	b = b[k:]
	var ok bool
	if r.Response, ok = bytesField(); !ok {
		return nil, errCorrupt
	}
	n, k := binary.Uvarint(b)
	// Each item takes at least one byte, which bounds the allocation by the input.
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, errCorrupt
	}
	b = b[k:]
	r.Items = make([][]byte, n)
	for i := range r.Items {
		if r.Items[i], ok = bytesField(); !ok {
			return nil, errCorrupt
		}
	}
	if len(b) != 0 {
		return nil, errCorrupt
	}
	return r, nil
}

func check(r *Record) error {
	if r == nil || r.ID == "" {
		return fmt.Errorf("respstore: put: record without an id")
	}
	return nil
}
