package sdk

import (
	"strconv"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// The SDK reads JSON with one core, sdk/jsonx, which validates with encoding/json's grammar,
// bounds nesting at jsonx.MaxDepth and decodes strings with encoding/json's rules (surrogate
// pairs joined, lone surrogates and invalid UTF-8 as U+FFFD). The typed hook views read their
// input in one pass with a jsonx.Scanner; Field, SetField and Decode parse to jsonx Values. On
// top of that every object the SDK decodes refuses duplicate keys (encoding/json would keep the
// last one, so two readers of one input could disagree), and a value of the wrong type is an
// error, not a zero. Typed views are decoded this way instead of with encoding/json, whose
// reflection-driven struct decoding costs about ten times more inside a wasm guest (ABI.md,
// "Performance").

// jsonError is a decoding failure past the syntax: a duplicate key, a number out of range.
type jsonError struct{ msg string }

func (e *jsonError) Error() string { return "sdk: " + e.msg }

func errDup(k []byte) error { return &jsonError{"duplicate key " + strconv.Quote(string(k))} }

// seen tracks the keys of one object for duplicates: a bit per known key (its index in the
// view's key list), and the rare unknown keys in a list. Keys are compared decoded.
type seen struct {
	known   uint64
	unknown [][]byte
}

// dup records key (known index idx, or -1) and reports whether it was seen before.
func (s *seen) dup(idx int, key []byte) bool {
	if idx >= 0 {
		bit := uint64(1) << idx
		d := s.known&bit != 0
		s.known |= bit
		return d
	}
	for _, u := range s.unknown {
		if string(u) == string(key) {
			return true
		}
	}
	s.unknown = append(s.unknown, key)
	return false
}

// keyIndex finds the decoded key in keys, trying the expected position first, so a member in
// the order the host writes them costs one comparison.
func keyIndex(key []byte, keys []string, guess int) int {
	if guess >= 0 && guess < len(keys) && string(key) == keys[guess] {
		return guess
	}
	for i, k := range keys {
		if string(key) == k {
			return i
		}
	}
	return -1
}

// parseObject validates b as one JSON object.
func parseObject(b []byte, t *jsonx.Tape) (jsonx.Value, error) {
	v, err := jsonx.ParseTape(b, t)
	if err != nil {
		return v, err
	}
	if !v.IsObject() {
		return v, &jsonError{"want a JSON object, got " + v.Kind().String()}
	}
	return v, nil
}

// Field returns the raw JSON value of the top-level key in the object obj; false when obj is
// not a valid object, lacks the key, or has it more than once.
func Field(obj []byte, key string) ([]byte, bool) {
	root, err := parseObject(obj, nil)
	if err != nil {
		return nil, false
	}
	var out []byte
	found := false
	for k, v, i := root.NextMember(0); k.Exists(); k, v, i = root.NextMember(i) {
		if k.Is(key) {
			if found {
				return nil, false
			}
			out, found = v.Raw(), true
		}
	}
	return out, found
}

// SetField returns a copy of the object obj with the top-level key set to the raw JSON value
// val (replacing it in place when present, appending it otherwise). A nil val deletes the key.
func SetField(obj []byte, key string, val []byte) ([]byte, error) {
	return AppendSetField(make([]byte, 0, len(obj)+len(key)+len(val)+4), obj, key, val)
}

// AppendSetField is SetField appending to dst (pass a reused buffer to avoid allocating). An
// obj that is not a valid object, or that has key more than once, is an error.
func AppendSetField(dst, obj []byte, key string, val []byte) ([]byte, error) {
	root, err := parseObject(obj, nil)
	if err != nil {
		return nil, err
	}
	out := append(dst, '{')
	w := 0
	done := false
	for k, v, i := root.NextMember(0); k.Exists(); k, v, i = root.NextMember(i) {
		if k.Is(key) {
			if done {
				return nil, errDup(k.Raw())
			}
			done = true
			if val == nil {
				continue
			}
			if w > 0 {
				out = append(out, ',')
			}
			out = AppendString(out, key)
			out = append(out, ':')
			out = append(out, val...)
			w++
			continue
		}
		if w > 0 {
			out = append(out, ',')
		}
		out = append(out, k.Raw()...)
		out = append(out, ':')
		out = append(out, v.Raw()...)
		w++
	}
	if !done && val != nil {
		if w > 0 {
			out = append(out, ',')
		}
		out = AppendString(out, key)
		out = append(out, ':')
		out = append(out, val...)
	}
	return append(out, '}'), nil
}

// String decodes a raw JSON string value.
func String(raw []byte) (string, bool) {
	v, err := jsonx.Parse(raw)
	if err != nil || !v.IsString() {
		return "", false
	}
	return v.Str(), true
}

// Number decodes a raw JSON number value (false when it is out of float64's range).
func Number(raw []byte) (float64, bool) {
	var s jsonx.Scanner
	s.Reset(raw, "")
	if c := s.Peek(); c != '-' && (c < '0' || c > '9') {
		return 0, false
	}
	f := s.Float()
	return f, s.End() == nil
}

// Decode decodes raw JSON into map[string]any, []any, string, float64, bool or nil. Objects
// with a duplicate key and numbers out of float64's range are refused.
func Decode(raw []byte) (any, error) {
	v, err := jsonx.Parse(raw)
	if err != nil {
		return nil, err
	}
	return decodeAny(v)
}

func decodeAny(v jsonx.Value) (any, error) {
	switch v.Kind() {
	case jsonx.Object:
		m := map[string]any{}
		for k, e, i := v.NextMember(0); k.Exists(); k, e, i = v.NextMember(i) {
			ks := k.Str()
			if _, dup := m[ks]; dup {
				return nil, errDup([]byte(ks))
			}
			x, err := decodeAny(e)
			if err != nil {
				return nil, err
			}
			m[ks] = x
		}
		return m, nil
	case jsonx.Array:
		a := []any{}
		for e, i := v.NextElem(0); e.Exists(); e, i = v.NextElem(i) {
			x, err := decodeAny(e)
			if err != nil {
				return nil, err
			}
			a = append(a, x)
		}
		return a, nil
	case jsonx.String:
		return v.Str(), nil
	case jsonx.Number:
		f, ok := v.Float()
		if !ok {
			return nil, &jsonError{"number " + v.String() + " is out of range"}
		}
		return f, nil
	case jsonx.Bool:
		b, _ := v.Bool()
		return b, nil
	}
	return nil, nil
}

// AppendString appends s as a JSON string literal, escaped as encoding/json does (without its
// HTML escaping): invalid UTF-8 as U+FFFD, U+2028 and U+2029 escaped.
func AppendString(dst []byte, s string) []byte { return jsonx.AppendString(dst, s) }

// AppendValue appends v (nil, bool, string, ints, floats, []any, map[string]any, []string,
// map[string]string or raw JSON as []byte) as JSON.
func AppendValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case bool:
		return strconv.AppendBool(dst, x)
	case string:
		return AppendString(dst, x)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case float64:
		return strconv.AppendFloat(dst, x, 'g', -1, 64)
	case []byte:
		return append(dst, x...)
	case []string:
		dst = append(dst, '[')
		for i, s := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, s)
		}
		return append(dst, ']')
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendValue(dst, e)
		}
		return append(dst, ']')
	case map[string]string:
		dst = append(dst, '{')
		i := 0
		for _, k := range sortedKeys(x) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, k)
			dst = append(dst, ':')
			dst = AppendString(dst, x[k])
			i++
		}
		return append(dst, '}')
	case map[string]any:
		dst = append(dst, '{')
		i := 0
		for _, k := range sortedKeys(x) {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, k)
			dst = append(dst, ':')
			dst = AppendValue(dst, x[k])
			i++
		}
		return append(dst, '}')
	}
	return append(dst, "null"...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Insertion sort: maps here are small and this keeps the package free of sort imports.
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
