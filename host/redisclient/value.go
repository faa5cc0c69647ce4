package redisclient

import (
	"errors"
	"fmt"
	"strings"

	"github.com/redis/rueidis"
)

// Value is one reply.
type Value struct {
	m   rueidis.RedisMessage
	nil bool
}

// errNil is what the accessors of a nil reply return.
var errNil = errors.New("redisclient: nil reply")

// IsNil reports a nil reply (a missing key).
func (v Value) IsNil() bool { return v.nil || v.m.IsNil() }

// Int returns an integer reply.
func (v Value) Int() (int64, error) {
	if v.IsNil() {
		return 0, errNil
	}
	n, err := v.m.ToInt64()
	if err != nil {
		return 0, fmt.Errorf("redisclient: %w", err)
	}
	return n, nil
}

// Bytes returns a string reply.
func (v Value) Bytes() ([]byte, error) {
	if v.IsNil() {
		return nil, errNil
	}
	b, err := v.m.AsBytes()
	if err != nil {
		return nil, fmt.Errorf("redisclient: %w", err)
	}
	return b, nil
}

// Str returns a string reply.
func (v Value) Str() (string, error) {
	if v.IsNil() {
		return "", errNil
	}
	s, err := v.m.ToString()
	if err != nil {
		return "", fmt.Errorf("redisclient: %w", err)
	}
	return s, nil
}

// Array returns the elements of an array reply.
func (v Value) Array() ([]Value, error) {
	if v.IsNil() {
		return nil, errNil
	}
	ms, err := v.m.ToArray()
	if err != nil {
		return nil, fmt.Errorf("redisclient: %w", err)
	}
	out := make([]Value, len(ms))
	for i, m := range ms {
		out[i] = Value{m: m}
	}
	return out, nil
}

// String renders the reply for messages and tests: strings quoted, arrays in brackets.
func (v Value) String() string {
	if v.IsNil() {
		return "(nil)"
	}
	if n, err := v.m.ToInt64(); err == nil {
		return fmt.Sprint(n)
	}
	if s, err := v.m.ToString(); err == nil {
		return fmt.Sprintf("%q", s)
	}
	if a, err := v.Array(); err == nil {
		parts := make([]string, len(a))
		for i, e := range a {
			parts[i] = e.String()
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	if err := v.m.Error(); err != nil {
		return "(error) " + err.Error()
	}
	return "(unknown)"
}
