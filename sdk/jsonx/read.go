// Package jsonx is the plugin SDK's JSON toolkit: a validating scanner with lazy, map-free access
// to a document and an append-style writer. It exists because encoding/json costs about 100 µs per
// kilobyte inside a Go wasm guest, which is most of a translator's budget; jsonx reads only what a
// hook asks for and writes straight into one growing buffer. It imports only the standard library.
//
// Reading: Parse validates a document once (with encoding/json's rules, but nesting at most MaxDepth
// deep) and returns its root Value. A Value is a view of bytes that have already been validated,
// so Get, Index, Members and Elems walk it without re-checking and never panic. Duplicate object
// keys resolve to the last occurrence, as in encoding/json.
//
// Writing: Writer appends tokens and places commas itself; String escapes like encoding/json
// (control characters, quote, backslash, U+2028/U+2029, invalid UTF-8 as U+FFFD), so any
// well-nested sequence of calls yields valid JSON.
package jsonx

import (
	"bytes"
	"errors"
	"iter"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of arrays and objects (the root counts as one) that any JSON
// reader of sluice accepts: this package, the plugin SDK, and the host's request scanner, cache
// canonicaliser and Messages API reader all refuse deeper documents, so no reader accepts what
// another refuses. It is far below encoding/json's 10000: no API body nests that deep, and
// every level costs stack in a recursive reader (a wasm guest's stack is small).
const MaxDepth = 512

// Kind is the JSON type of a Value.
type Kind uint8

// The kinds of a Value. Invalid means missing (a lookup that found nothing) or the zero Value.
const (
	Invalid Kind = iota
	Null
	Bool
	Number
	String
	Array
	Object
)

var kindNames = [...]string{"invalid", "null", "bool", "number", "string", "array", "object"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// SyntaxError reports where a document stopped being valid JSON.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return "jsonx: " + e.Msg + " at offset " + strconv.Itoa(e.Offset)
}

// Value is one validated JSON value: a slice of the document it came from, without surrounding
// whitespace. The zero Value is Invalid and reads as missing.
//
// A Value from ParseTape also points at the document's Tape, which turns skipping a string or
// container into a lookup. Every Value the package hands out is a sub-slice of its document that
// keeps the document's capacity, so cap(doc)-cap(raw) is raw's offset in the document.
type Value struct {
	raw []byte
	t   *Tape
}

// Tape is the side table ParseTape fills while validating: for each string, object and array,
// indexed by the offset where it starts, the length of its text. Later reads use it to step over
// a value without scanning it again. A Tape can be reused for the next document once the Values
// of the previous one are no longer used; its table grows to the largest document seen (4 bytes
// per input byte). The zero Tape is ready to use.
type Tape struct {
	lens []int32
	n    int // cap of the document, for offsets from capacities
}

// maxTaped bounds the documents a Tape records (offsets are int32); larger ones parse without it.
const maxTaped = math.MaxInt32

// Valid reports whether data is exactly one JSON value, optionally surrounded by whitespace.
func Valid(data []byte) bool {
	_, err := Parse(data)
	return err == nil
}

// Parse validates data and returns its root value.
func Parse(data []byte) (Value, error) {
	return parse(data, nil, nil)
}

// ParseTape is Parse that also records, in t, where each string and container of data ends, so
// that every later walk of the returned Value (Get, Fields, Members, Elems, Len) steps over
// nested values without re-reading them. The Values stay correct only until t is reused for
// another document; used after that they may read wrong sub-values of their own document, but
// never panic. A nil t means Parse.
func ParseTape(data []byte, t *Tape) (Value, error) {
	if t == nil || len(data) > maxTaped {
		return Parse(data)
	}
	if cap(t.lens) < len(data) {
		t.lens = make([]int32, len(data), len(data)+len(data)/4)
	}
	t.lens = t.lens[:len(data)]
	t.n = cap(data)
	v, err := parse(data, t.lens, t)
	if err != nil {
		// A failed parse leaves the table partly written; nothing may use it.
		t.n = -1
	}
	return v, err
}

func parse(data []byte, lens []int32, t *Tape) (Value, error) {
	i := skipWS(data, 0)
	end, err := scanValue(data, lens, i, 0)
	if err != nil {
		return Value{}, err
	}
	if j := skipWS(data, end); j != len(data) {
		return Value{}, &SyntaxError{Offset: j, Msg: "unexpected data after top-level value"}
	}
	return Value{raw: data[i:end], t: t}, nil
}

// end returns the end, in v.raw, of the string or container starting at v.raw[i], from the tape
// when there is one and its entry is plausible, else by scanning.
func (v Value) end(i int) int {
	if t := v.t; t != nil {
		p := t.n - cap(v.raw) + i
		if uint(p) < uint(len(t.lens)) {
			if e := i + int(t.lens[p]); e > i+1 && e <= len(v.raw) {
				return e
			}
		}
	}
	return skipValid(v.raw, i)
}

// Get validates data and returns the value at path (see Value.Get); Invalid when data is not
// valid JSON or the path does not exist. Parse once and use Value.Get when reading several fields.
func Get(data []byte, path ...string) Value {
	v, err := Parse(data)
	if err != nil {
		return Value{}
	}
	return v.Get(path...)
}

// Kind returns the value's JSON type.
func (v Value) Kind() Kind {
	if len(v.raw) == 0 {
		return Invalid
	}
	switch v.raw[0] {
	case 'n':
		return Null
	case 't', 'f':
		return Bool
	case '"':
		return String
	case '[':
		return Array
	case '{':
		return Object
	default:
		return Number
	}
}

// Exists reports whether the value is present (not Invalid).
func (v Value) Exists() bool { return len(v.raw) != 0 }

// IsNull reports whether the value is JSON null.
func (v Value) IsNull() bool { return v.Kind() == Null }

// IsString reports whether the value is a JSON string.
func (v Value) IsString() bool { return v.Kind() == String }

// IsObject reports whether the value is a JSON object.
func (v Value) IsObject() bool { return v.Kind() == Object }

// IsArray reports whether the value is a JSON array.
func (v Value) IsArray() bool { return v.Kind() == Array }

// IsNumber reports whether the value is a JSON number.
func (v Value) IsNumber() bool { return v.Kind() == Number }

// Raw returns the value's JSON text (a sub-slice of the document; do not modify it).
func (v Value) Raw() []byte { return v.raw }

// String returns the raw JSON text, for debugging and %s; use Str for a string's contents.
func (v Value) String() string { return string(v.raw) }

// Str returns the unescaped contents of a string value, or "" for any other kind.
func (v Value) Str() string {
	if v.Kind() != String {
		return ""
	}
	body := v.raw[1 : len(v.raw)-1]
	if !hasEscape(body) {
		return string(body)
	}
	return string(unescape(make([]byte, 0, len(body)), body))
}

// AppendStr appends the unescaped contents of a string value to dst (nothing for other kinds).
func (v Value) AppendStr(dst []byte) []byte {
	if v.Kind() != String {
		return dst
	}
	return unescape(dst, v.raw[1:len(v.raw)-1])
}

// AppendRawStr appends the contents of a string value as they appear in the document, still
// JSON-escaped (nothing for other kinds). Concatenated raw contents, between quotes, form a
// valid JSON string equal to the concatenation of the decoded contents: use it with
// Writer.StringRaw to copy text without decoding and re-escaping it.
func (v Value) AppendRawStr(dst []byte) []byte {
	if v.Kind() != String {
		return dst
	}
	return append(dst, v.raw[1:len(v.raw)-1]...)
}

// Is reports whether v is a string whose unescaped contents equal s, without allocating in the
// common case of no escapes.
func (v Value) Is(s string) bool {
	if v.Kind() != String {
		return false
	}
	body := v.raw[1 : len(v.raw)-1]
	if string(body) == s {
		return !hasEscape(body)
	}
	// Different bytes decode equal only through escapes (which make the raw form longer) or
	// through invalid UTF-8 decoding to U+FFFD (which makes it shorter, and needs U+FFFD in s).
	// Without a backslash the decoded form is at least as long as the raw one, so it cannot
	// equal a shorter or same-length s that differs; the common mismatch stops at lengths.
	if len(body) >= len(s) && !hasByte(body, '\\') {
		return false
	}
	if !hasByte(s, 0xEF) && (len(body) <= len(s) || !hasByte(body, '\\')) {
		return false
	}
	return string(unescape(make([]byte, 0, len(body)), body)) == s
}

// plain reports whether a string body is printable ASCII without escapes, so that it decodes to
// itself.
func plain(b []byte) bool {
	for _, c := range b {
		if c == '\\' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// hasByte is a plain loop: keys and short strings are where it runs, and there a call to
// bytes.IndexByte costs more than it saves.
func hasByte[S string | []byte](s S, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

// Int returns the value as an int64 when it is a number with an exact integer value in range
// (1, -3, 2.0 and 1e3 qualify; 1.5 and 1e30 do not).
func (v Value) Int() (int64, bool) {
	if v.Kind() != Number {
		return 0, false
	}
	if n, ok := parseSimpleInt(v.raw); ok {
		return n, true
	}
	f, err := strconv.ParseFloat(string(v.raw), 64)
	if err != nil || f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// Float returns the value as a float64 when it is a number.
func (v Value) Float() (float64, bool) {
	if v.Kind() != Number {
		return 0, false
	}
	if n, ok := parseSimpleInt(v.raw); ok && n > -(1<<53) && n < 1<<53 {
		return float64(n), true
	}
	f, err := strconv.ParseFloat(string(v.raw), 64)
	if err != nil {
		// Out-of-range numbers are valid JSON; report them like encoding/json would not fit them.
		return 0, false
	}
	return f, true
}

// Bool returns the value of a JSON boolean.
func (v Value) Bool() (b, ok bool) {
	if v.Kind() != Bool {
		return false, false
	}
	return v.raw[0] == 't', true
}

// Get follows path through nested objects (member names) and arrays (decimal indexes) and
// returns the value there, or Invalid. With duplicate member names the last one wins.
func (v Value) Get(path ...string) Value {
	for _, p := range path {
		switch v.Kind() {
		case Object:
			v = v.member(p)
		case Array:
			idx, ok := parseIndex(p)
			if !ok {
				return Value{}
			}
			v = v.Index(idx)
		default:
			return Value{}
		}
		if !v.Exists() {
			return Value{}
		}
	}
	return v
}

// Fields looks up several members of an object in one pass: out[i] becomes the value of
// keys[i] (last occurrence wins; Invalid when absent). Use it instead of repeated Get calls,
// each of which walks the whole object. len(out) must be at least len(keys).
func (v Value) Fields(out []Value, keys ...string) {
	for i := range keys {
		out[i] = Value{}
	}
	if v.Kind() != Object {
		return
	}
	// A plain loop rather than Members: in a wasm guest the iterator's indirect calls cost
	// more than the matching.
	d := v.raw
	for i := skipWS(d, 1); i < len(d) && d[i] == '"'; {
		key, val, next := v.nextMember(i)
		if body := key[1 : len(key)-1]; plain(body) {
			// The key reads as its bytes: a byte comparison per name, most failing on length.
			for j, name := range keys {
				if string(body) == name {
					out[j] = val
					break
				}
			}
		} else {
			k := Value{raw: key}
			for j, name := range keys {
				if k.Is(name) {
					out[j] = val
					break
				}
			}
		}
		i = next
	}
}

func (v Value) member(name string) Value {
	if v.Kind() != Object {
		return Value{}
	}
	var found Value
	d := v.raw
	for i := skipWS(d, 1); i < len(d) && d[i] == '"'; {
		key, val, next := v.nextMember(i)
		if (Value{raw: key}).Is(name) {
			found = val
		}
		i = next
	}
	return found
}

// nextMember reads the member of object v whose key starts at v.raw[i] and returns its key and
// value and the index of the next key (or of the closing brace).
func (v Value) nextMember(i int) (key []byte, val Value, next int) {
	d := v.raw
	kend := v.end(i)
	key = d[i:kend]
	i = skipWS(d, kend)
	if i < len(d) && d[i] == ':' {
		i = skipWS(d, i+1)
	}
	end := v.skip(i)
	val = Value{raw: d[i:end], t: v.t}
	i = skipWS(d, end)
	if i < len(d) && d[i] == ',' {
		i = skipWS(d, i+1)
	}
	return key, val, i
}

// skip returns the end of the value starting at v.raw[i]: a tape lookup for strings and
// containers, a short scan for numbers and literals.
func (v Value) skip(i int) int {
	if i < len(v.raw) {
		switch v.raw[i] {
		case '"', '{', '[':
			return v.end(i)
		}
	}
	return skipValid(v.raw, i)
}

// Index returns the i-th element of an array, or Invalid.
func (v Value) Index(i int) Value {
	if i < 0 {
		return Value{}
	}
	for j, e := range v.Elems() {
		if j == i {
			return e
		}
	}
	return Value{}
}

// Len returns the number of elements of an array or members of an object (0 for other kinds).
func (v Value) Len() int {
	n := 0
	switch v.Kind() {
	case Array:
		for range v.Elems() {
			n++
		}
	case Object:
		for range v.Members() {
			n++
		}
	}
	return n
}

// Elems iterates over an array's elements with their indexes (nothing for other kinds).
func (v Value) Elems() iter.Seq2[int, Value] {
	return func(yield func(int, Value) bool) {
		if v.Kind() != Array {
			return
		}
		d := v.raw
		i := skipWS(d, 1)
		for n := 0; i < len(d) && d[i] != ']'; n++ {
			end := v.skip(i)
			if !yield(n, Value{raw: d[i:end], t: v.t}) {
				return
			}
			i = skipWS(d, end)
			if i < len(d) && d[i] == ',' {
				i = skipWS(d, i+1)
			}
		}
	}
}

// NextElem steps through an array without an iterator (whose indirect calls cost more than the
// step in a wasm guest): pos 0 gives the first element, and each call returns the element and
// the pos of the one after it; the element is Invalid when there are no more. pos must be 0 or
// a value NextElem returned for v.
//
//	for e, i := v.NextElem(0); e.Exists(); e, i = v.NextElem(i) { ... }
func (v Value) NextElem(pos int) (Value, int) {
	if v.Kind() != Array || pos < 0 {
		return Value{}, len(v.raw)
	}
	d := v.raw
	i := pos
	if i == 0 {
		i = skipWS(d, 1)
	}
	if i >= len(d) || d[i] == ']' {
		return Value{}, len(d)
	}
	end := v.skip(i)
	e := Value{raw: d[i:end], t: v.t}
	i = skipWS(d, end)
	if i < len(d) && d[i] == ',' {
		i = skipWS(d, i+1)
	}
	return e, i
}

// Members iterates over an object's members in document order; the key is a String Value
// (compare it with Is, read it with Str). Nothing for other kinds.
func (v Value) Members() iter.Seq2[Value, Value] {
	return func(yield func(Value, Value) bool) {
		if v.Kind() != Object {
			return
		}
		d := v.raw
		for i := skipWS(d, 1); i < len(d) && d[i] == '"'; {
			key, val, next := v.nextMember(i)
			if !yield(Value{raw: key}, val) {
				return
			}
			i = next
		}
	}
}

func parseIndex(p string) (int, bool) {
	if p == "" || len(p) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// parseSimpleInt handles the common -?digits form without allocating.
func parseSimpleInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg = true
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

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipWS(d []byte, i int) int {
	for i < len(d) && isWS(d[i]) {
		i++
	}
	return i
}

var errDepth = errors.New("exceeded max depth")

func synErr(i int, msg string) error { return &SyntaxError{Offset: i, Msg: msg} }

// scanValue validates the value starting at d[i] and returns the offset just past it.
// With a non-nil lens (len(lens) == len(d)) it records the length of each string and container
// at its start offset.
func scanValue(d []byte, lens []int32, i, depth int) (int, error) {
	if i >= len(d) {
		return i, synErr(i, "unexpected end of input")
	}
	switch c := d[i]; {
	case c == '{':
		return scanObject(d, lens, i, depth+1)
	case c == '[':
		return scanArray(d, lens, i, depth+1)
	case c == '"':
		end, _, err := scanString(d, i)
		if lens != nil && err == nil {
			lens[i] = int32(end - i)
		}
		return end, err
	case c == '-' || (c >= '0' && c <= '9'):
		return scanNumber(d, i)
	case c == 't':
		return scanLiteral(d, i, "true")
	case c == 'f':
		return scanLiteral(d, i, "false")
	case c == 'n':
		return scanLiteral(d, i, "null")
	default:
		return i, synErr(i, "invalid character "+strconv.QuoteRune(rune(c))+" looking for beginning of value")
	}
}

func scanLiteral(d []byte, i int, lit string) (int, error) {
	if len(d)-i < len(lit) || string(d[i:i+len(lit)]) != lit {
		return i, synErr(i, "invalid literal")
	}
	return i + len(lit), nil
}

func scanObject(d []byte, lens []int32, i, depth int) (int, error) {
	if depth > MaxDepth {
		return i, &SyntaxError{Offset: i, Msg: errDepth.Error()}
	}
	start := i
	i = skipWS(d, i+1)
	if i < len(d) && d[i] == '}' {
		if lens != nil {
			lens[start] = int32(i + 1 - start)
		}
		return i + 1, nil
	}
	for {
		if i >= len(d) || d[i] != '"' {
			return i, synErr(i, "expected object key")
		}
		end, _, err := scanString(d, i)
		if err != nil {
			return end, err
		}
		if lens != nil {
			lens[i] = int32(end - i)
		}
		i = skipWS(d, end)
		if i >= len(d) || d[i] != ':' {
			return i, synErr(i, "expected ':' after object key")
		}
		i = skipWS(d, i+1)
		if i, err = scanValue(d, lens, i, depth); err != nil {
			return i, err
		}
		i = skipWS(d, i)
		if i >= len(d) {
			return i, synErr(i, "unexpected end of object")
		}
		switch d[i] {
		case ',':
			i = skipWS(d, i+1)
		case '}':
			if lens != nil {
				lens[start] = int32(i + 1 - start)
			}
			return i + 1, nil
		default:
			return i, synErr(i, "expected ',' or '}' in object")
		}
	}
}

func scanArray(d []byte, lens []int32, i, depth int) (int, error) {
	if depth > MaxDepth {
		return i, &SyntaxError{Offset: i, Msg: errDepth.Error()}
	}
	start := i
	i = skipWS(d, i+1)
	if i < len(d) && d[i] == ']' {
		if lens != nil {
			lens[start] = int32(i + 1 - start)
		}
		return i + 1, nil
	}
	for {
		var err error
		if i, err = scanValue(d, lens, i, depth); err != nil {
			return i, err
		}
		i = skipWS(d, i)
		if i >= len(d) {
			return i, synErr(i, "unexpected end of array")
		}
		switch d[i] {
		case ',':
			i = skipWS(d, i+1)
		case ']':
			if lens != nil {
				lens[start] = int32(i + 1 - start)
			}
			return i + 1, nil
		default:
			return i, synErr(i, "expected ',' or ']' in array")
		}
	}
}

// scanString validates the string starting at the quote d[i]. Like encoding/json it accepts
// invalid UTF-8 bytes (readers replace them with U+FFFD) but not raw control characters.
func scanString(d []byte, i int) (end int, esc bool, err error) {
	i++
	for i < len(d) {
		// Most bytes need no decision: one table load each instead of three comparisons.
		if strPlain[d[i]] {
			i++
			continue
		}
		c := d[i]
		switch {
		case c == '"':
			return i + 1, esc, nil
		case c == '\\':
			esc = true
			if i+1 >= len(d) {
				return i, esc, synErr(i, "unexpected end of string escape")
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(d)-i < 6 {
					return i, esc, synErr(i, "short \\u escape")
				}
				for _, h := range d[i+2 : i+6] {
					if hexVal(h) < 0 {
						return i, esc, synErr(i, "invalid \\u escape")
					}
				}
				i += 6
			default:
				return i, esc, synErr(i, "invalid escape")
			}
		case c < 0x20:
			return i, esc, synErr(i, "control character in string")
		default:
			i++
		}
	}
	return i, esc, synErr(i, "unterminated string")
}

// strPlain marks the bytes that continue a string without ending, escaping or breaking it.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func scanNumber(d []byte, i int) (int, error) {
	start := i
	if d[i] == '-' {
		i++
	}
	if i >= len(d) {
		return i, synErr(start, "invalid number")
	}
	switch {
	case d[i] == '0':
		i++
	case d[i] >= '1' && d[i] <= '9':
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	default:
		return i, synErr(start, "invalid number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return i, synErr(start, "invalid number fraction")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return i, synErr(start, "invalid number exponent")
		}
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
	}
	return i, nil
}

// skipValid returns the end of the already-validated value at d[i]. It trusts the input's
// structure but stays within bounds, so it cannot panic.
func skipValid(d []byte, i int) int {
	if i >= len(d) {
		return len(d)
	}
	switch d[i] {
	case '"':
		return skipStr(d, i)
	case '{', '[':
		depth := 0
		for i < len(d) {
			switch d[i] {
			case '"':
				i = skipStr(d, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(d)
	default:
		for i < len(d) {
			switch d[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return len(d)
	}
}

func skipStr(d []byte, i int) int {
	i++
	// Short strings (keys, enum values) are the common case: a plain loop finds their end
	// faster than bytes.IndexByte; long ones switch to it.
	for n := 0; i < len(d) && n < 32; n++ {
		switch d[i] {
		case '"':
			return i + 1
		case '\\':
			i += 2
		default:
			i++
		}
	}
	for i < len(d) {
		j := bytes.IndexByte(d[i:], '"')
		if j < 0 {
			return len(d)
		}
		i += j
		// The quote is escaped when an odd number of backslashes precede it.
		n := 0
		for k := i - 1; k >= 0 && d[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return i + 1
		}
		i++
	}
	return len(d)
}

// hasEscape reports whether a string body needs decoding: an escape, or bytes that are not
// valid UTF-8 (which readers replace with U+FFFD).
func hasEscape(b []byte) bool {
	ascii := true
	for _, c := range b {
		if c == '\\' {
			return true
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
	}
	return !ascii && !utf8.Valid(b)
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		h := hexVal(c)
		if h < 0 {
			return -1
		}
		r = r<<4 | rune(h)
	}
	return r
}

// unescape appends the decoded contents of a validated string body to dst, replacing invalid
// UTF-8 and unpaired surrogates with U+FFFD exactly as encoding/json does.
func unescape(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		if c == '\\' && i+1 < len(b) {
			switch b[i+1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(b[i+2:])
				i += 6
				if utf16.IsSurrogate(r) {
					if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
						if r2 := hex4(b[i+2:]); r2 >= 0 {
							if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
								i += 6
								dst = utf8.AppendRune(dst, dec)
								continue
							}
						}
					}
					r = utf8.RuneError
				}
				if r < 0 {
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, b[i+1])
			}
			i += 2
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, b[i:i+size]...)
		}
		i += size
	}
	return dst
}
