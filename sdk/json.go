package sdk

import (
	"errors"
	"strconv"
	"unsafe"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// The SDK reads JSON with one core, sdk/jsonx: a document is validated once (encoding/json's
// grammar, nesting at most jsonx.MaxDepth deep) and then read through Values that are views of
// it. On top of that, every object the SDK decodes refuses duplicate keys (encoding/json would
// silently keep the last one, so two readers of the same input could disagree), strings decode
// with encoding/json's rules (surrogate pairs joined, lone surrogates and invalid UTF-8 as
// U+FFFD), and a value of the wrong type is an error, not a zero. Typed hook views are decoded
// this way instead of with encoding/json, whose reflection-driven struct decoding costs about
// ten times more inside a wasm guest (ABI.md, "Performance").

var errSyntax = errors.New("sdk: invalid JSON")

// jsonError is a decoding failure past the syntax: a duplicate key, a wrong type, a number out
// of range.
type jsonError struct{ msg string }

func (e *jsonError) Error() string { return "sdk: " + e.msg }

func errDup(k jsonx.Value) error { return &jsonError{"duplicate key " + k.String()} }

func errType(k jsonx.Value, want string, v jsonx.Value) error {
	return &jsonError{"member " + k.String() + ": want " + want + ", got " + v.Kind().String()}
}

// bstr is an allocation-free string view of b for parsing calls that do not keep it.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// reader decodes the members of validated Values into Go values. Strings that need no decoding
// are substrings of src, the document (base) copied to a string once, so a view's strings cost
// one allocation in all; without src each string is copied.
type reader struct {
	base []byte
	src  string
	err  error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// str reads a string member; null reads as "".
func (r *reader) str(k, v jsonx.Value) string {
	raw := v.Raw()
	if len(raw) == 0 || raw[0] != '"' {
		if !v.IsNull() {
			r.fail(errType(k, "a string", v))
		}
		return ""
	}
	if !v.Plain() {
		return v.Str()
	}
	if r.src != "" {
		if off := cap(r.base) - cap(raw); off >= 0 && off+len(raw) <= len(r.src) {
			return r.src[off+1 : off+len(raw)-1]
		}
	}
	return string(raw[1 : len(raw)-1])
}

func isNumber(raw []byte) bool {
	return len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9')
}

// float reads a number member; null reads as 0. Numbers out of float64's range are refused.
func (r *reader) float(k, v jsonx.Value) float64 {
	raw := v.Raw()
	if !isNumber(raw) {
		if !v.IsNull() {
			r.fail(errType(k, "a number", v))
		}
		return 0
	}
	if f, ok := simpleFloat(raw); ok {
		return f
	}
	f, err := strconv.ParseFloat(bstr(raw), 64)
	if err != nil {
		r.fail(&jsonError{"member " + k.String() + ": number " + string(raw) + " is out of range"})
	}
	return f
}

// int reads an integer member; null reads as 0. Like encoding/json into an int, a fraction, an
// exponent or a value out of int64's range is refused.
func (r *reader) int(k, v jsonx.Value) int64 {
	raw := v.Raw()
	if !isNumber(raw) {
		if !v.IsNull() {
			r.fail(errType(k, "an integer", v))
		}
		return 0
	}
	if n, ok := simpleInt(raw); ok {
		return n
	}
	n, err := strconv.ParseInt(bstr(raw), 10, 64)
	if err != nil {
		r.fail(&jsonError{"member " + k.String() + ": " + string(raw) + " is not an integer in range"})
	}
	return n
}

// bool reads a boolean member; null reads as false.
func (r *reader) bool(k, v jsonx.Value) bool {
	b, ok := v.Bool()
	if !ok && !v.IsNull() {
		r.fail(errType(k, "a boolean", v))
	}
	return b
}

// object reports whether v is an object to read (null is not, and is no error).
func (r *reader) object(k, v jsonx.Value) bool {
	switch v.Kind() {
	case jsonx.Object:
		return true
	case jsonx.Null:
		return false
	}
	r.fail(errType(k, "an object", v))
	return false
}

// seen tracks the keys of one object for duplicates: a bit per known key (its index in the
// view's key list), and the rare unknown keys in a list.
type seen struct {
	known   uint64
	unknown []jsonx.Value
}

// dup records key (known index idx, or -1) and reports whether it was seen before.
func (s *seen) dup(idx int, key jsonx.Value) bool {
	if idx >= 0 {
		bit := uint64(1) << idx
		d := s.known&bit != 0
		s.known |= bit
		return d
	}
	for _, u := range s.unknown {
		if sameKey(u, key) {
			return true
		}
	}
	s.unknown = append(s.unknown, key)
	return false
}

// sameKey compares two keys by their decoded contents.
func sameKey(a, b jsonx.Value) bool {
	if a.Plain() && b.Plain() {
		return string(a.Raw()) == string(b.Raw())
	}
	return a.Str() == b.Str()
}

// keyIndex finds key in keys, trying the expected position first, so a member in the order the
// host writes them costs one comparison; other orders and escaped keys still work. The names in
// keys are plain ASCII, so raw bytes equal to one of them are that name without decoding.
func keyIndex(key jsonx.Value, keys []string, guess int) int {
	raw := key.Raw()
	body := raw[1 : len(raw)-1]
	if guess >= 0 && guess < len(keys) && string(body) == keys[guess] {
		return guess
	}
	for i, k := range keys {
		if string(body) == k {
			return i
		}
	}
	for _, c := range body {
		if c == '\\' || c >= 0x80 {
			for i, k := range keys {
				if key.Is(k) {
					return i
				}
			}
			break
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
				return nil, errDup(k)
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
	v, err := jsonx.Parse(raw)
	if err != nil || !v.IsNumber() {
		return 0, false
	}
	if f, ok := simpleFloat(v.Raw()); ok {
		return f, true
	}
	f, err := strconv.ParseFloat(bstr(v.Raw()), 64)
	return f, err == nil
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
				return nil, errDup(k)
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

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13,
	1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// simpleFloat parses numbers with at most 15 significant digits and a small exponent exactly
// (an exact integer times or divided by an exact power of ten is correctly rounded), which is
// every stat and price the host sends. strconv.ParseFloat costs about 250 ns a call inside a
// wasm guest; this costs a tenth of that. Anything else reports false and goes to strconv.
func simpleFloat(b []byte) (float64, bool) {
	i := 0
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		i++
	}
	var m int64
	digits, frac := 0, 0
	start := i
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		m = m*10 + int64(b[i]-'0')
		if m != 0 {
			digits++
		}
	}
	if i == start {
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i == len(b) || b[i] < '0' || b[i] > '9' {
			return 0, false
		}
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
			m = m*10 + int64(b[i]-'0')
			if m != 0 {
				digits++
			}
			frac++
		}
	}
	exp := 0
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			eneg = b[i] == '-'
			i++
		}
		es := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9' && i-es < 4; i++ {
			exp = exp*10 + int(b[i]-'0')
		}
		if i == es {
			return 0, false
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(b) || digits > 15 {
		return 0, false
	}
	exp -= frac
	f := float64(m)
	switch {
	case exp == 0:
	case exp > 0 && exp < len(pow10):
		f *= pow10[exp]
	case exp < 0 && -exp < len(pow10):
		f /= pow10[-exp]
	default:
		return 0, false
	}
	if neg {
		f = -f
	}
	return f, true
}

// simpleInt parses the common -?digits form without allocating.
func simpleInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

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
