package sdk

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// This file is a small single-pass JSON scanner and writer. Typed hook views are decoded with
// it instead of encoding/json, whose reflection-driven struct decoding costs about ten times
// more inside a wasm guest (sdk/ABI.md, "Performance"). The hot paths (typed views, skip, raw,
// Field, SetField) iterate with open/next instead of callbacks: a closure per object made the
// scanner escape to the heap and cost most of a route hook inside wasm.

var errSyntax = errors.New("sdk: invalid JSON")

// maxDepth is the nesting limit every JSON reader of sluice shares.
const maxDepth = jsonx.MaxDepth

type scanner struct {
	b   []byte
	i   int
	err error
	// src, when set, holds the same bytes as b as a string: strings without escapes are then
	// returned as substrings of it, without allocating, and stay valid after the call.
	src string
}

// next advances to the next member (after open('{')) or element (after open('[')) of the
// current container, consuming the separator. n counts the items seen; start it at 0.
func (s *scanner) next(n *int, end byte) bool {
	c := s.peek()
	if c == end {
		s.i++
		return false
	}
	if *n > 0 {
		if c != ',' {
			s.fail()
			return false
		}
		s.i++
	}
	*n++
	return s.err == nil
}

// open consumes the container opener c ('{' or '[').
func (s *scanner) open(c byte) bool {
	if s.peek() != c {
		s.fail()
		return false
	}
	s.i++
	return true
}

// key reads an object key and the colon after it. The bytes alias the input unless the key
// has escapes.
func (s *scanner) key() []byte {
	k, _ := s.strBytes()
	if s.peek() != ':' {
		s.fail()
		return nil
	}
	s.i++
	return k
}

// keyStr is key as a string (a substring of src when possible).
func (s *scanner) keyStr() string {
	start := s.i
	if s.peek() == '"' {
		start = s.i + 1
	}
	k, esc := s.strBytes()
	if s.peek() != ':' {
		s.fail()
		return ""
	}
	s.i++
	if !esc && s.src != "" {
		return s.src[start : start+len(k)]
	}
	return string(k)
}

// skipStr consumes a string without decoding it.
func (s *scanner) skipStr() {
	if s.peek() != '"' {
		s.fail()
		return
	}
	for i := s.i + 1; i < len(s.b); i++ {
		switch c := s.b[i]; {
		case c == '"':
			s.i = i + 1
			return
		case c == '\\':
			i++
		case c < 0x20:
			s.fail()
			return
		}
	}
	s.fail()
}

// bstr is an allocation-free string view of b for parsing calls that do not keep it.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func (s *scanner) fail() {
	if s.err == nil {
		s.err = errSyntax
	}
	s.i = len(s.b)
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// object calls fn for each key; fn must consume exactly one value. Only the cold paths (config
// decoding) use it.
func (s *scanner) object(fn func(key []byte)) {
	if !s.open('{') {
		return
	}
	for n := 0; s.next(&n, '}'); {
		fn(s.key())
	}
}

// array calls fn for each element; fn must consume exactly one value.
func (s *scanner) array(fn func()) {
	if !s.open('[') {
		return
	}
	for n := 0; s.next(&n, ']'); {
		fn()
	}
}

// strBytes returns the string's raw bytes (a sub-slice when it has no escapes) and whether it
// had escapes.
func (s *scanner) strBytes() ([]byte, bool) {
	if s.peek() != '"' {
		s.fail()
		return nil, false
	}
	s.i++
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c == '"' {
			out := s.b[start:s.i]
			s.i++
			return out, false
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			s.fail()
			return nil, false
		}
		s.i++
	}
	// Slow path: unescape into a new buffer.
	out := append([]byte(nil), s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return out, true
		case c == '\\':
			if s.i+1 >= len(s.b) {
				s.fail()
				return nil, false
			}
			e := s.b[s.i+1]
			s.i += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := s.hex4()
				if !ok {
					return nil, false
				}
				if utf16.IsSurrogate(r) && s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					s.i += 2
					r2, ok := s.hex4()
					if !ok {
						return nil, false
					}
					r = utf16.DecodeRune(r, r2)
				}
				out = utf8.AppendRune(out, r)
			default:
				s.fail()
				return nil, false
			}
		case c < 0x20:
			s.fail()
			return nil, false
		default:
			out = append(out, c)
			s.i++
		}
	}
	s.fail()
	return nil, false
}

func (s *scanner) hex4() (rune, bool) {
	if s.i+4 > len(s.b) {
		s.fail()
		return 0, false
	}
	v, err := strconv.ParseUint(string(s.b[s.i:s.i+4]), 16, 32)
	if err != nil {
		s.fail()
		return 0, false
	}
	s.i += 4
	return rune(v), true
}

// str reads a string; null reads as "".
func (s *scanner) str() string {
	if s.null() {
		return ""
	}
	start := s.i + 1
	b, esc := s.strBytes()
	if !esc && s.src != "" && s.err == nil {
		return s.src[start : start+len(b)]
	}
	return string(b)
}

func (s *scanner) null() bool {
	if s.peek() == 'n' && s.i+4 <= len(s.b) && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		return true
	}
	return false
}

func (s *scanner) numBytes() []byte {
	s.ws()
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			s.i++
			continue
		}
		break
	}
	if start == s.i {
		s.fail()
	}
	return s.b[start:s.i]
}

// float reads a number; null reads as 0.
func (s *scanner) float() float64 {
	if s.null() {
		return 0
	}
	nb := s.numBytes()
	if v, ok := simpleFloat(nb); ok {
		return v
	}
	f, err := strconv.ParseFloat(bstr(nb), 64)
	if err != nil {
		s.fail()
	}
	return f
}

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

// int reads an integer (a fractional number is truncated); null reads as 0.
func (s *scanner) int() int64 {
	if s.null() {
		return 0
	}
	nb := s.numBytes()
	if v, ok := simpleInt(nb); ok {
		return v
	}
	f, err := strconv.ParseFloat(bstr(nb), 64)
	if err != nil {
		s.fail()
	}
	return int64(f)
}

func (s *scanner) boolean() bool {
	switch s.peek() {
	case 't':
		if s.i+4 <= len(s.b) && string(s.b[s.i:s.i+4]) == "true" {
			s.i += 4
			return true
		}
	case 'f':
		if s.i+5 <= len(s.b) && string(s.b[s.i:s.i+5]) == "false" {
			s.i += 5
			return false
		}
	case 'n':
		if s.null() {
			return false
		}
	}
	s.fail()
	return false
}

// skip consumes one value of any kind.
func (s *scanner) skip() { s.skipDepth(0) }

func (s *scanner) skipDepth(d int) {
	if c := s.peek(); d >= maxDepth && (c == '{' || c == '[') {
		s.fail()
		return
	}
	switch s.peek() {
	case '{':
		s.i++
		for n := 0; s.next(&n, '}'); {
			s.skipStr()
			if s.peek() != ':' {
				s.fail()
				return
			}
			s.i++
			s.skipDepth(d + 1)
		}
	case '[':
		s.i++
		for n := 0; s.next(&n, ']'); {
			s.skipDepth(d + 1)
		}
	case '"':
		s.skipStr()
	case 't', 'f':
		s.boolean()
	case 'n':
		if !s.null() {
			s.fail()
		}
	default:
		s.numBytes()
	}
}

// raw consumes one value and returns its bytes.
func (s *scanner) raw() []byte {
	s.ws()
	start := s.i
	s.skip()
	if s.err != nil {
		return nil
	}
	return s.b[start:s.i]
}

// value decodes one value into map[string]any, []any, string, float64, bool or nil.
func (s *scanner) value() any {
	switch s.peek() {
	case '{':
		m := map[string]any{}
		s.object(func(k []byte) { m[string(k)] = s.value() })
		return m
	case '[':
		a := []any{}
		s.array(func() { a = append(a, s.value()) })
		return a
	case '"':
		return s.str()
	case 't', 'f':
		return s.boolean()
	case 'n':
		if s.null() {
			return nil
		}
		s.fail()
		return nil
	default:
		return s.float()
	}
}

func (s *scanner) end() error {
	s.ws()
	if s.err == nil && s.i != len(s.b) {
		s.err = errSyntax
	}
	return s.err
}

// Field returns the raw JSON value of the top-level key in the object obj.
func Field(obj []byte, key string) ([]byte, bool) {
	s := scanner{b: obj}
	if !s.open('{') {
		return nil, false
	}
	var out []byte
	found := false
	for n := 0; s.next(&n, '}'); {
		k := s.key()
		if !found && string(k) == key {
			out, found = s.raw(), true
			continue
		}
		s.skip()
	}
	if s.err != nil {
		return nil, false
	}
	return out, found
}

// SetField returns a copy of the object obj with the top-level key set to the raw JSON value
// val (replacing it in place when present, appending it otherwise). A nil val deletes the key.
func SetField(obj []byte, key string, val []byte) ([]byte, error) {
	return AppendSetField(make([]byte, 0, len(obj)+len(key)+len(val)+4), obj, key, val)
}

// AppendSetField is SetField appending to dst (pass a reused buffer to avoid allocating).
func AppendSetField(dst, obj []byte, key string, val []byte) ([]byte, error) {
	s := scanner{b: obj}
	if !s.open('{') {
		return nil, errSyntax
	}
	out := append(dst, '{')
	w := 0
	done := false
	for n := 0; s.next(&n, '}'); {
		ks := s.i
		k := s.key()
		s.ws()
		start := s.i
		s.skip()
		if string(k) == key {
			if done || val == nil {
				continue
			}
			done = true
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
		// The key's original bytes (already valid JSON), then the colon and the value.
		out = append(out, trimWS(obj[ks:start])...)
		out = append(out, s.b[start:s.i]...)
		w++
	}
	if err := s.end(); err != nil {
		return nil, err
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

// trimWS drops JSON whitespace around b.
func trimWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// String decodes a raw JSON string value.
func String(raw []byte) (string, bool) {
	s := scanner{b: raw}
	if s.peek() != '"' {
		return "", false
	}
	v := s.str()
	return v, s.end() == nil
}

// Number decodes a raw JSON number value.
func Number(raw []byte) (float64, bool) {
	s := scanner{b: raw}
	c := s.peek()
	if c != '-' && (c < '0' || c > '9') {
		return 0, false
	}
	v := s.float()
	return v, s.end() == nil
}

// Decode decodes raw JSON into map[string]any, []any, string, float64, bool or nil.
func Decode(raw []byte) (any, error) {
	s := scanner{b: raw}
	v := s.value()
	if err := s.end(); err != nil {
		return nil, err
	}
	return v, nil
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string literal.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\ufffd`...)
				i++
				start = i
				continue
			}
			if r == '\u2028' || r == '\u2029' {
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\u202`...)
				dst = append(dst, hexDigits[r&0xf])
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
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
