package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Usage is the token accounting of a stored answer.
type Usage struct {
	PromptTokens     int64
	CompletionTokens int64
	TotalTokens      int64
}

// Entry is one stored successful (HTTP 200) answer. Exactly one of Body and
// Chunks is set: Body for a non-stream answer, Chunks for a stream (the JSON
// payloads of its `data:` lines, in order, without the final [DONE]).
//
// An Entry handed to Cache.Store or returned by Cache.Lookup is shared and
// must not be modified.
type Entry struct {
	// Created is when the upstream answer completed; it drives Age and max-age.
	Created time.Time
	// Model is the model that answered, as reported upstream.
	Model string
	// ContentType is the upstream Content-Type of a non-stream body.
	ContentType string
	Usage       Usage
	Body        []byte
	Chunks      [][]byte

	// expires is set by Cache.Store and survives the binary encoding, so a
	// lower tier can fill an upper one with the remaining lifetime.
	expires time.Time
}

// Stream reports whether the entry holds a stream.
func (e *Entry) Stream() bool { return e.Chunks != nil }

// Size is the number of bytes the entry accounts for in a size-bounded store.
func (e *Entry) Size() int {
	n := 96 + len(e.Model) + len(e.ContentType) + len(e.Body)
	for _, c := range e.Chunks {
		n += 24 + len(c)
	}
	return n
}

const entryVersion = 1

var errBadEntry = errors.New("cache: entry: malformed encoding")

// MarshalBinary encodes the entry compactly: a version byte, then varints and
// length-prefixed byte strings. Times are Unix nanoseconds (0 = unset).
func (e *Entry) MarshalBinary() ([]byte, error) {
	n := 64 + len(e.Model) + len(e.ContentType) + len(e.Body)
	for _, c := range e.Chunks {
		n += 5 + len(c)
	}
	return e.appendBinary(make([]byte, 0, n)), nil
}

func (e *Entry) appendBinary(b []byte) []byte {
	b = append(b, entryVersion)
	var flags byte
	if e.Stream() {
		flags |= 1
	}
	b = append(b, flags)
	b = binary.AppendVarint(b, unixNano(e.Created))
	b = binary.AppendVarint(b, unixNano(e.expires))
	b = appendBytes(b, []byte(e.Model))
	b = appendBytes(b, []byte(e.ContentType))
	b = binary.AppendVarint(b, e.Usage.PromptTokens)
	b = binary.AppendVarint(b, e.Usage.CompletionTokens)
	b = binary.AppendVarint(b, e.Usage.TotalTokens)
	if e.Stream() {
		b = binary.AppendUvarint(b, uint64(len(e.Chunks)))
		for _, c := range e.Chunks {
			b = appendBytes(b, c)
		}
	} else {
		b = appendBytes(b, e.Body)
	}
	return b
}

// UnmarshalBinary decodes an entry. Body and Chunks alias b, which must not be
// modified afterwards.
func (e *Entry) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	if v := d.byte(); v != entryVersion {
		return fmt.Errorf("cache: entry: unknown encoding version %d", v)
	}
	flags := d.byte()
	created, expires := d.varint(), d.varint()
	model, ctype := d.bytes(), d.bytes()
	var u Usage
	u.PromptTokens, u.CompletionTokens, u.TotalTokens = d.varint(), d.varint(), d.varint()
	out := Entry{Model: string(model), ContentType: string(ctype), Usage: u,
		Created: fromUnixNano(created), expires: fromUnixNano(expires)}
	if flags&1 != 0 {
		n := d.uvarint()
		if d.err || n > uint64(len(d.b)) {
			return errBadEntry
		}
		out.Chunks = make([][]byte, n)
		for i := range out.Chunks {
			out.Chunks[i] = d.bytes()
		}
	} else {
		out.Body = d.bytes()
	}
	if d.err || len(d.b) != 0 {
		return errBadEntry
	}
	*e = out
	return nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func appendBytes(b, s []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.err = true
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err || n > uint64(len(d.b)) {
		d.err = true
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}
