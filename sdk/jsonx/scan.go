package jsonx

import (
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// Scanner reads one document token by token in a single pass, validating what it reads with
// Parse's rules (encoding/json's grammar, nesting at most MaxDepth deep, strings decoded with
// encoding/json's handling of surrogates and invalid UTF-8). It is for decoders that know the
// shape they want, such as the SDK's typed hook views: where Parse then a walk reads the
// input about twice and makes a call per step, a Scanner reads it once with a call per member
// or value. A function call costs about 15 ns inside a Go wasm guest, so the common forms
// (a plain key, a plain string, a simple number) are read by one call each; anything unusual
// falls back to the general path, which reports errors the same way.
//
// The first error stops the scan: every later read returns a zero value and End returns it.
type Scanner struct {
	b     []byte
	i     int
	depth int
	err   error
	// src, when set, holds the same bytes as b as a string: strings that need no decoding are
	// then returned as substrings of it, without allocating, and stay valid after the scan.
	src string
}

// Reset starts a scan of b. src is "" or string(b), made once by the caller when the strings
// read should share one allocation.
func (s *Scanner) Reset(b []byte, src string) {
	*s = Scanner{b: b, src: src}
}

// Err is the first error of the scan.
func (s *Scanner) Err() error { return s.err }

// Fail stops the scan with err (the first error wins).
func (s *Scanner) Fail(err error) {
	if s.err == nil {
		s.err = err
	}
	s.i = len(s.b)
}

func (s *Scanner) fail(msg string) { s.Fail(synErr(s.i, msg)) }

func (s *Scanner) ws() {
	for s.i < len(s.b) && isWS(s.b[s.i]) {
		s.i++
	}
}

// Peek returns the next byte after whitespace (0 at the end).
func (s *Scanner) Peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// Open consumes the container opener c ('{' or '[').
func (s *Scanner) Open(c byte) bool {
	if s.Peek() != c {
		if c == '{' {
			s.fail("expected object")
		} else {
			s.fail("expected array")
		}
		return false
	}
	if s.depth >= MaxDepth {
		s.Fail(&SyntaxError{Offset: s.i, Msg: errDepth.Error()})
		return false
	}
	s.depth++
	s.i++
	return true
}

// Next advances to the next element of the array being read (after Open('[')) or member of
// the object (after Open('{'), then read the member with Key), consuming the separator; false
// at the closer end, which it consumes, or on an error. n counts the items; start it at 0.
func (s *Scanner) Next(n *int, end byte) bool {
	c := s.Peek()
	if c == end {
		s.i++
		s.depth--
		return false
	}
	if *n > 0 {
		if c != ',' {
			s.fail("expected ',' or closer")
			return false
		}
		s.i++
		if c := s.Peek(); c == end {
			s.fail("trailing comma")
			return false
		}
	}
	*n++
	return s.err == nil
}

// Key reads an object key and the colon after it. The bytes alias the input unless the key
// needed decoding.
func (s *Scanner) Key() []byte {
	k, _ := s.StrBytes()
	if s.err != nil {
		return nil
	}
	if s.Peek() != ':' {
		s.fail("expected ':' after object key")
		return nil
	}
	s.i++
	return k
}

// Member is Next and Key in one call for an object: it returns the next member's key, or false
// at the closing brace or on an error.
func (s *Scanner) Member(n *int) ([]byte, bool) {
	b, i := s.b, s.i
	for i < len(b) && isWS(b[i]) {
		i++
	}
	if i < len(b) && b[i] == '}' {
		s.i = i + 1
		s.depth--
		return nil, false
	}
	if *n > 0 {
		if i >= len(b) || b[i] != ',' {
			s.i = i
			s.fail("expected ',' or '}' in object")
			return nil, false
		}
		i++
		for i < len(b) && isWS(b[i]) {
			i++
		}
	}
	*n++
	if i >= len(b) || b[i] != '"' {
		s.i = i
		s.fail("expected object key")
		return nil, false
	}
	start := i + 1
	j := start
	for j < len(b) && b[j] != '"' && b[j] != '\\' && b[j] >= 0x20 && b[j] < utf8.RuneSelf {
		j++
	}
	if j >= len(b) || b[j] != '"' {
		s.i = i
		k := s.Key()
		return k, s.err == nil
	}
	k := b[start:j]
	j++
	for j < len(b) && isWS(b[j]) {
		j++
	}
	if j >= len(b) || b[j] != ':' {
		s.i = j
		s.fail("expected ':' after object key")
		return nil, false
	}
	s.i = j + 1
	return k, true
}

// StrBytes reads a string and returns its decoded contents (a sub-slice of the input when it
// needs no decoding) and whether it needed decoding.
func (s *Scanner) StrBytes() ([]byte, bool) {
	if s.Peek() != '"' {
		s.fail("expected string")
		return nil, false
	}
	start := s.i
	end, esc, err := scanString(s.b, start)
	if err != nil {
		s.Fail(err)
		return nil, false
	}
	s.i = end
	body := s.b[start+1 : end-1]
	if !esc && !hasEscape(body) {
		return body, false
	}
	return unescape(make([]byte, 0, len(body)), body), true
}

// Str reads a string (null reads as ""), as a substring of src when it needs no decoding.
func (s *Scanner) Str() string {
	b, i := s.b, s.i
	for i < len(b) && isWS(b[i]) {
		i++
	}
	if i < len(b) && b[i] == '"' {
		start := i + 1
		j := start
		for j < len(b) && b[j] != '"' && b[j] != '\\' && b[j] >= 0x20 && b[j] < utf8.RuneSelf {
			j++
		}
		if j < len(b) && b[j] == '"' {
			s.i = j + 1
			if s.src != "" {
				return s.src[start:j]
			}
			return string(b[start:j])
		}
	}
	s.i = i
	if s.Null() {
		return ""
	}
	start := s.i + 1
	v, dec := s.StrBytes()
	if s.err != nil {
		return ""
	}
	if !dec && s.src != "" {
		return s.src[start : start+len(v)]
	}
	return string(v)
}

// Null consumes a null and reports whether there was one.
func (s *Scanner) Null() bool {
	if s.Peek() == 'n' && s.i+4 <= len(s.b) && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		return true
	}
	return false
}

// numSpan returns the bytes of the number at the scan position (nil when the value does not
// start like one) and whether they are known valid: the fast paths check the grammar as they
// parse, so a span they accept needs no separate scan.
func (s *Scanner) numSpan() []byte {
	b, i := s.b, s.i
	for i < len(b) && isWS(b[i]) {
		i++
	}
	start := i
	for i < len(b) {
		c := b[i]
		if (c >= '0' && c <= '9') || c == '-' || c == '.' || c == 'e' || c == 'E' || c == '+' {
			i++
			continue
		}
		break
	}
	s.i = i
	if i == start {
		return nil
	}
	return b[start:i]
}

// leadingZero reports a number with a zero before another digit, which the grammar refuses and
// the fast paths would read.
func leadingZero(nb []byte) bool {
	if len(nb) > 0 && nb[0] == '-' {
		nb = nb[1:]
	}
	return len(nb) > 1 && nb[0] == '0' && nb[1] >= '0' && nb[1] <= '9'
}

// slowNumber validates the number at start with the grammar and returns its text, or fails.
func (s *Scanner) slowNumber(start int) []byte {
	end, err := scanNumber(s.b, start)
	if err != nil {
		s.Fail(err)
		return nil
	}
	s.i = end
	return s.b[start:end]
}

// nullOr consumes a null at the scan position (reset to start), or fails with msg.
func (s *Scanner) nullOr(start int, msg string) {
	s.i = start
	if !s.Null() {
		s.fail(msg)
	}
}

// bstr is an allocation-free string view of b for parsing calls that do not keep it.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// Float reads a number (null reads as 0); numbers out of float64's range are an error, as
// encoding/json makes them.
func (s *Scanner) Float() float64 {
	start := s.i
	nb := s.numSpan()
	if nb == nil {
		s.nullOr(start, "expected number")
		return 0
	}
	if v, ok := simpleFloat(nb); ok && !leadingZero(nb) {
		return v
	}
	for start < len(s.b) && isWS(s.b[start]) {
		start++
	}
	if nb = s.slowNumber(start); nb == nil {
		return 0
	}
	f, err := strconv.ParseFloat(bstr(nb), 64)
	if err != nil {
		s.fail("number " + string(nb) + " is out of range")
		return 0
	}
	return f
}

// Int reads an integer (null reads as 0). As encoding/json into an int64, a fraction, an
// exponent or a value out of range is an error.
func (s *Scanner) Int() int64 {
	start := s.i
	nb := s.numSpan()
	if nb == nil {
		s.nullOr(start, "expected number")
		return 0
	}
	if v, ok := parseSimpleInt(nb); ok && !leadingZero(nb) {
		return v
	}
	for start < len(s.b) && isWS(s.b[start]) {
		start++
	}
	if nb = s.slowNumber(start); nb == nil {
		return 0
	}
	n, err := strconv.ParseInt(bstr(nb), 10, 64)
	if err != nil {
		s.fail("number " + string(nb) + " is not an integer in range")
		return 0
	}
	return n
}

// Bool reads a boolean (null reads as false).
func (s *Scanner) Bool() bool {
	switch s.Peek() {
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
		if s.Null() {
			return false
		}
	}
	s.fail("expected boolean")
	return false
}

// Skip consumes one value of any kind, validating it.
func (s *Scanner) Skip() {
	s.ws()
	if s.err != nil {
		return
	}
	end, err := scanValue(s.b, nil, s.i, s.depth)
	if err != nil {
		s.Fail(err)
		return
	}
	s.i = end
}

// Raw consumes one value and returns its text.
func (s *Scanner) Raw() []byte {
	s.ws()
	start := s.i
	s.Skip()
	if s.err != nil {
		return nil
	}
	return s.b[start:s.i]
}

// End reports the scan's error, or an error when anything but whitespace follows.
func (s *Scanner) End() error {
	s.ws()
	if s.err == nil && s.i != len(s.b) {
		s.err = synErr(s.i, "unexpected data after top-level value")
	}
	return s.err
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

// Text returns b, a slice this scanner returned (a key from Member or Key, bytes from
// StrBytes), as a string: a substring of src, without allocating, when b aliases the input.
func (s *Scanner) Text(b []byte) string {
	if s.src != "" && len(b) > 0 {
		if off := cap(s.b) - cap(b); off >= 0 && off+len(b) <= len(s.src) && &s.b[off] == &b[0] {
			return s.src[off : off+len(b)]
		}
	}
	return string(b)
}
