package cache

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// maxDepth bounds nesting so a hostile body cannot exhaust the stack; it is the limit every
// JSON reader of sluice shares, so a body the gateway accepts is never unkeyable for depth.
const maxDepth = jsonx.MaxDepth

var errSyntax = errors.New("invalid JSON")

// member locates one `"key":value` pair inside canon.dst while its object is open.
type member struct {
	start, keyStart, keyEnd, end int
}

// canon is a single-pass JSON canonicaliser: it tokenises the input and writes
// the canonical form (no whitespace, object keys sorted bytewise, duplicate keys
// resolved to the last one, strings with minimal escapes, numbers normalised)
// straight into dst. Objects are emitted in input order and only rebuilt when
// their keys were not already sorted, so typical bodies are copied once.
type canon struct {
	src     []byte
	pos     int
	dst     []byte
	tmp     []byte
	members []member

	// top-level filtering, set by the caller for request bodies.
	top      bool
	defaults map[string]string
	ignore   []string
	extract  bool
	ex       Extract
}

func (c *canon) reset(src []byte) {
	c.src, c.pos = src, 0
	c.dst = c.dst[:0]
	c.tmp = c.tmp[:0]
	c.members = c.members[:0]
	c.top, c.defaults, c.ignore, c.extract = false, nil, nil, false
	c.ex = Extract{}
}

func (c *canon) errorf(what string) error {
	return fmt.Errorf("%w: %s at offset %d", errSyntax, what, c.pos)
}

// run canonicalises the whole of src.
func (c *canon) run() error {
	c.skipWS()
	if c.top && (c.pos >= len(c.src) || c.src[c.pos] != '{') {
		return c.errorf("request body is not a JSON object")
	}
	if err := c.value(0); err != nil {
		return err
	}
	c.skipWS()
	if c.pos != len(c.src) {
		return c.errorf("trailing data")
	}
	return nil
}

func (c *canon) skipWS() {
	for c.pos < len(c.src) {
		switch c.src[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

func (c *canon) value(depth int) error {
	c.skipWS()
	if c.pos >= len(c.src) {
		return c.errorf("unexpected end")
	}
	switch c.src[c.pos] {
	case '{':
		return c.object(depth + 1)
	case '[':
		return c.array(depth + 1)
	case '"':
		return c.str()
	case 't':
		return c.literal("true")
	case 'f':
		return c.literal("false")
	case 'n':
		return c.literal("null")
	default:
		return c.number()
	}
}

func (c *canon) literal(lit string) error {
	if len(c.src)-c.pos < len(lit) || string(c.src[c.pos:c.pos+len(lit)]) != lit {
		return c.errorf("invalid literal")
	}
	c.pos += len(lit)
	c.dst = append(c.dst, lit...)
	return nil
}

func (c *canon) array(depth int) error {
	if depth > maxDepth {
		return c.errorf("nesting too deep")
	}
	c.pos++
	c.dst = append(c.dst, '[')
	c.skipWS()
	if c.pos < len(c.src) && c.src[c.pos] == ']' {
		c.pos++
		c.dst = append(c.dst, ']')
		return nil
	}
	for {
		if err := c.value(depth); err != nil {
			return err
		}
		c.skipWS()
		if c.pos >= len(c.src) {
			return c.errorf("unterminated array")
		}
		switch c.src[c.pos] {
		case ',':
			c.pos++
			c.dst = append(c.dst, ',')
		case ']':
			c.pos++
			c.dst = append(c.dst, ']')
			return nil
		default:
			return c.errorf("expected , or ]")
		}
	}
}

func (c *canon) object(depth int) error {
	if depth > maxDepth {
		return c.errorf("nesting too deep")
	}
	c.pos++
	c.dst = append(c.dst, '{')
	region := len(c.dst)
	base := len(c.members)
	c.skipWS()
	if c.pos < len(c.src) && c.src[c.pos] == '}' {
		c.pos++
		c.dst = append(c.dst, '}')
		return nil
	}
	for {
		c.skipWS()
		if c.pos >= len(c.src) || c.src[c.pos] != '"' {
			return c.errorf("expected object key")
		}
		mark := len(c.dst)
		if len(c.members) > base {
			c.dst = append(c.dst, ',')
		}
		start := len(c.dst)
		if err := c.str(); err != nil {
			return err
		}
		m := member{start: start, keyStart: start + 1, keyEnd: len(c.dst) - 1}
		c.skipWS()
		if c.pos >= len(c.src) || c.src[c.pos] != ':' {
			return c.errorf("expected :")
		}
		c.pos++
		c.dst = append(c.dst, ':')
		valStart := len(c.dst)
		if err := c.value(depth); err != nil {
			return err
		}
		m.end = len(c.dst)
		if depth == 1 && c.top && !c.keepTop(c.dst[m.keyStart:m.keyEnd], c.dst[valStart:m.end]) {
			c.dst = c.dst[:mark]
		} else {
			c.members = append(c.members, m)
		}
		c.skipWS()
		if c.pos >= len(c.src) {
			return c.errorf("unterminated object")
		}
		if c.src[c.pos] == ',' {
			c.pos++
			continue
		}
		if c.src[c.pos] != '}' {
			return c.errorf("expected , or }")
		}
		c.pos++
		break
	}
	ms := c.members[base:]
	if !c.strictlySorted(ms) {
		c.rebuild(region, ms)
	}
	c.members = c.members[:base]
	c.dst = append(c.dst, '}')
	return nil
}

func (c *canon) key(m member) []byte { return c.dst[m.keyStart:m.keyEnd] }

func (c *canon) strictlySorted(ms []member) bool {
	for i := 1; i < len(ms); i++ {
		if string(c.key(ms[i-1])) >= string(c.key(ms[i])) {
			return false
		}
	}
	return true
}

// rebuild re-emits the members of the object that starts at region in key order,
// keeping only the last of duplicate keys (what most JSON decoders do).
func (c *canon) rebuild(region int, ms []member) {
	c.tmp = append(c.tmp[:0], c.dst[region:]...)
	tmp := c.tmp
	rel := func(m member) []byte { return tmp[m.keyStart-region : m.keyEnd-region] }
	slices.SortStableFunc(ms, func(a, b member) int {
		ka, kb := rel(a), rel(b)
		switch {
		case string(ka) < string(kb):
			return -1
		case string(ka) > string(kb):
			return 1
		}
		return 0
	})
	c.dst = c.dst[:region]
	first := true
	for i, m := range ms {
		if i+1 < len(ms) && string(rel(m)) == string(rel(ms[i+1])) {
			continue
		}
		if !first {
			c.dst = append(c.dst, ',')
		}
		first = false
		c.dst = append(c.dst, tmp[m.start-region:m.end-region]...)
	}
}

// keepTop decides whether a top-level request field takes part in the key.
func (c *canon) keepTop(key, val []byte) bool {
	switch string(key) {
	case "user", "stream", "stream_options", "metadata", "store", "model":
		// Non-semantic for the answer, or (model) supplied resolved in KeyParts.
		return false
	}
	for _, ig := range c.ignore {
		if string(key) == ig {
			return false
		}
	}
	if string(val) == "null" {
		return false
	}
	if d, ok := c.defaults[string(key)]; ok && d == string(val) {
		return false
	}
	if c.extract {
		switch string(key) {
		case "messages":
			extractMessages(val, &c.ex)
		case "prompt", "input":
			c.ex.LastUser = textOf(val)
		case "instructions":
			c.ex.System = textOf(val)
		}
	}
	return true
}

func (c *canon) number() error {
	s := c.src
	i := c.pos
	start := i
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i >= len(s) {
		return c.errorf("invalid number")
	}
	switch {
	case s[i] == '0':
		i++
	case s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return c.errorf("invalid value")
	}
	integer := true
	if i < len(s) && s[i] == '.' {
		integer = false
		i++
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return c.errorf("invalid number")
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		integer = false
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return c.errorf("invalid number")
		}
	}
	lit := s[start:i]
	c.pos = i
	if integer {
		// Integer literals are already canonical (JSON forbids leading zeros),
		// and keeping them verbatim preserves 64-bit seeds exactly.
		if string(lit) == "-0" {
			lit = lit[1:]
		}
		c.dst = append(c.dst, lit...)
		return nil
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		// Out of float64 range: still valid JSON, keep the literal.
		c.dst = append(c.dst, lit...)
		return nil
	}
	if f == float64(int64(f)) && f < 1e15 && f > -1e15 {
		c.dst = strconv.AppendInt(c.dst, int64(f), 10)
		return nil
	}
	c.dst = strconv.AppendFloat(c.dst, f, 'g', -1, 64)
	return nil
}

// str copies a JSON string in canonical form: UTF-8 verbatim, escapes only for
// `"`, `\` and control characters, invalid UTF-8 replaced by U+FFFD.
func (c *canon) str() error {
	s := c.src
	c.pos++
	start := c.pos
	ascii := true
	for i := start; i < len(s); i++ {
		b := s[i]
		if b == '"' {
			seg := s[start:i]
			if ascii || utf8.Valid(seg) {
				c.dst = append(c.dst, '"')
				c.dst = append(c.dst, seg...)
				c.dst = append(c.dst, '"')
				c.pos = i + 1
				return nil
			}
			break
		}
		if b == '\\' || b < 0x20 {
			break
		}
		if b >= utf8.RuneSelf {
			ascii = false
		}
	}
	return c.strSlow(start)
}

// strSlow writes the string at src[start] decoded and re-encoded: escapes resolved and
// invalid UTF-8 replaced, so that equal strings give equal bytes however they were spelled.
func (c *canon) strSlow(start int) error {
	s := c.src
	i := start
	c.dst = append(c.dst, '"')
	for {
		if i >= len(s) {
			c.pos = i
			return c.errorf("unterminated string")
		}
		b := s[i]
		switch {
		case b == '"':
			c.dst = append(c.dst, '"')
			c.pos = i + 1
			return nil
		case b < 0x20:
			c.pos = i
			return c.errorf("control character in string")
		case b == '\\':
			r, next, err := c.escape(i)
			if err != nil {
				return err
			}
			c.dst = appendRune(c.dst, r)
			i = next
		default:
			i = c.copyRun(i)
		}
	}
}

// escape decodes the escape sequence at src[i] (a backslash) and returns its rune and the
// index after it. A lone or mismatched surrogate becomes U+FFFD, like encoding/json.
func (c *canon) escape(i int) (rune, int, error) {
	s := c.src
	if i+1 >= len(s) {
		c.pos = i
		return 0, 0, c.errorf("unterminated escape")
	}
	e := s[i+1]
	i += 2
	switch e {
	case '"', '\\', '/':
		return rune(e), i, nil
	case 'b':
		return '\b', i, nil
	case 'f':
		return '\f', i, nil
	case 'n':
		return '\n', i, nil
	case 'r':
		return '\r', i, nil
	case 't':
		return '\t', i, nil
	case 'u':
		r, ok := hex4(s, i)
		if !ok {
			c.pos = i
			return 0, 0, c.errorf("invalid \\u escape")
		}
		i += 4
		if utf16.IsSurrogate(r) {
			r2, ok2 := rune(0), false
			if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
				r2, ok2 = hex4(s, i+2)
			}
			if d := utf16.DecodeRune(r, r2); ok2 && d != utf8.RuneError {
				return d, i + 6, nil
			}
			return utf8.RuneError, i, nil
		}
		return r, i, nil
	}
	c.pos = i
	return 0, 0, c.errorf("invalid escape")
}

// copyRun copies the run of plain bytes from src[i] up to the next quote, backslash or
// control byte in one go, invalid UTF-8 replaced by U+FFFD, and returns the index after it.
func (c *canon) copyRun(i int) int {
	s := c.src
	j := i + 1
	for j < len(s) && s[j] != '"' && s[j] != '\\' && s[j] >= 0x20 {
		j++
	}
	run := s[i:j]
	if utf8.Valid(run) {
		c.dst = append(c.dst, run...)
	} else {
		for len(run) > 0 {
			r, n := utf8.DecodeRune(run)
			c.dst = utf8.AppendRune(c.dst, r)
			run = run[n:]
		}
	}
	return j
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, b := range s[i : i+4] {
		r <<= 4
		switch {
		case b >= '0' && b <= '9':
			r |= rune(b - '0')
		case b >= 'a' && b <= 'f':
			r |= rune(b - 'a' + 10)
		case b >= 'A' && b <= 'F':
			r |= rune(b - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

const hexDigits = "0123456789abcdef"

// appendRune writes r with the canonical escaping rules.
func appendRune(dst []byte, r rune) []byte {
	switch r {
	case '"':
		return append(dst, '\\', '"')
	case '\\':
		return append(dst, '\\', '\\')
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	if r < 0x20 {
		return append(dst, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xf])
	}
	return utf8.AppendRune(dst, r)
}
