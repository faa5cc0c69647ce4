package openai

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// span is the byte range of one top-level value (key included from keyStart).
type span struct{ keyStart, start, end int }

// Request is what the pipeline needs from an OpenAI request body, found in one pass. Raw keeps
// the body; edits return a new slice.
type Request struct {
	Raw          []byte
	Model        string
	Stream       bool
	IncludeUsage bool
	MaxTokens    int64
	Temperature  *float64
	User         string
	// TokenEstimate approximates prompt tokens (about 4 bytes of text per token) so limits can
	// reserve before the real usage is known.
	TokenEstimate int64
	// Messages and Tools count the elements of the messages and tools arrays (0 when absent or
	// not an array), so the gateway can cap them before any later stage walks them.
	Messages, Tools int

	fields map[string]span
}

// ErrNotObject reports a body that is not a JSON object.
var ErrNotObject = errors.New("request body must be a JSON object")

// DuplicateKeyError reports a top-level key that appears twice. Readers disagree on which
// occurrence wins (this scanner, encoding/json and upstream servers do not all take the same
// one), so a policy could check one value while the upstream acts on the other: such a body
// is refused.
type DuplicateKeyError struct{ Key string }

func (e *DuplicateKeyError) Error() string {
	return fmt.Sprintf("key %q appears more than once; send each top-level key once", e.Key)
}

// ParseRequest scans body. Malformed JSON is an error that says where.
func ParseRequest(body []byte) (*Request, error) {
	r := &Request{Raw: body, fields: make(map[string]span, 12)}
	s := scanner{b: body}
	s.ws()
	if s.i >= len(body) || body[s.i] != '{' {
		return nil, ErrNotObject
	}
	s.i++
	for first := true; ; first = false {
		s.ws()
		if s.peek() == '}' && first {
			s.i++
			break
		}
		ks := s.i
		key, err := s.str()
		if err != nil {
			return nil, err
		}
		s.ws()
		if s.peek() != ':' {
			return nil, s.errf("expected ':' after key %q", key)
		}
		s.i++
		s.ws()
		if _, dup := r.fields[key]; dup {
			return nil, &DuplicateKeyError{Key: key}
		}
		vs := s.i
		switch key {
		case "messages":
			r.Messages, err = s.skipCount()
		case "tools":
			r.Tools, err = s.skipCount()
		default:
			err = s.skip(1)
		}
		if err != nil {
			return nil, err
		}
		r.fields[key] = span{keyStart: ks, start: vs, end: s.i}
		s.ws()
		if c := s.peek(); c == ',' {
			s.i++
		} else if c == '}' {
			s.i++
			break
		} else {
			return nil, s.errf("expected ',' or '}' after value of %q", key)
		}
	}
	s.ws()
	if s.i != len(body) {
		return nil, s.errf("unexpected data after the JSON object")
	}
	if err := r.extract(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Request) value(key string) ([]byte, bool) {
	sp, ok := r.fields[key]
	if !ok {
		return nil, false
	}
	return r.Raw[sp.start:sp.end], true
}

// Has reports whether the top-level key is present and not null.
func (r *Request) Has(key string) bool {
	v, ok := r.value(key)
	return ok && string(v) != "null"
}

// Field returns the raw JSON of a top-level key.
func (r *Request) Field(key string) ([]byte, bool) { return r.value(key) }

func (r *Request) extract() error {
	if v, ok := r.value("model"); ok {
		s, err := unquote(v)
		if err != nil {
			return fmt.Errorf("model must be a string")
		}
		r.Model = s
	}
	if v, ok := r.value("stream"); ok {
		switch string(v) {
		case "true":
			r.Stream = true
		case "false", "null":
		default:
			return fmt.Errorf("stream must be a boolean")
		}
	}
	if v, ok := r.value("stream_options"); ok && r.Stream {
		r.IncludeUsage = bytes.Contains(v, []byte(`"include_usage"`)) && includeUsageTrue(v)
	}
	for _, k := range []string{"max_completion_tokens", "max_tokens"} {
		if v, ok := r.value(k); ok && string(v) != "null" {
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil || n < 0 {
				return fmt.Errorf("%s must be a non-negative integer", k)
			}
			r.MaxTokens = n
			break
		}
	}
	if v, ok := r.value("temperature"); ok && string(v) != "null" {
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return fmt.Errorf("temperature must be a number")
		}
		r.Temperature = &f
	}
	if v, ok := r.value("user"); ok {
		r.User, _ = unquote(v)
	}
	// The prompt (with inline media at its media cost), and what providers put into the prompt
	// besides: tool definitions and output schemas.
	for _, k := range []string{"messages", "prompt", "input", "instructions", "system"} {
		if v, ok := r.value(k); ok {
			r.TokenEstimate += estimateContent(v)
		}
	}
	for _, k := range []string{"tools", "functions", "response_format", "text"} {
		if v, ok := r.value(k); ok && string(v) != "null" {
			r.TokenEstimate += int64(len(v)+bytesPerToken-1) / bytesPerToken
		}
	}
	return nil
}

func includeUsageTrue(obj []byte) bool {
	i := bytes.Index(obj, []byte(`"include_usage"`))
	rest := bytes.TrimLeft(obj[i+len(`"include_usage"`):], " \t\r\n:")
	return bytes.HasPrefix(rest, []byte("true"))
}

// Set returns a copy of the body with a top-level key set to raw JSON (added if absent).
func (r *Request) Set(key string, raw []byte) []byte {
	return r.With(Edit{Key: key, Raw: raw})
}

// Edit sets one top-level key to raw JSON.
type Edit struct {
	Key string
	Raw []byte
}

// With returns a copy of the body with every edit applied in one pass over the original
// bytes: present keys are replaced in place, absent ones appended. Keys must be distinct.
func (r *Request) With(edits ...Edit) []byte {
	size := len(r.Raw)
	for _, e := range edits {
		size += len(e.Key) + len(e.Raw) + 4
	}
	out := make([]byte, 0, size)
	pos := 0
	// Present keys, in the order they stand in the body.
	for {
		next, at := -1, len(r.Raw)
		for i, e := range edits {
			if sp, ok := r.fields[e.Key]; ok && sp.start >= pos && sp.start < at {
				next, at = i, sp.start
			}
		}
		if next < 0 {
			break
		}
		sp := r.fields[edits[next].Key]
		out = append(out, r.Raw[pos:sp.start]...)
		out = append(out, edits[next].Raw...)
		pos = sp.end
	}
	end := bytes.LastIndexByte(r.Raw, '}')
	out = append(out, r.Raw[pos:end]...)
	n := len(r.fields)
	for _, e := range edits {
		if _, ok := r.fields[e.Key]; ok {
			continue
		}
		if n > 0 {
			out = append(out, ',')
		}
		n++
		out = jsonx.AppendString(out, e.Key)
		out = append(out, ':')
		out = append(out, e.Raw...)
	}
	return append(out, r.Raw[end:]...)
}

// Delete returns a copy of the body without a top-level key.
func (r *Request) Delete(key string) []byte {
	sp, ok := r.fields[key]
	if !ok {
		return r.Raw
	}
	start, end := sp.keyStart, sp.end
	// Take the comma after the value, or else the one before the key.
	j := end
	for j < len(r.Raw) && isSpace(r.Raw[j]) {
		j++
	}
	if j < len(r.Raw) && r.Raw[j] == ',' {
		end = j + 1
	} else {
		k := start - 1
		for k >= 0 && isSpace(r.Raw[k]) {
			k--
		}
		if k >= 0 && r.Raw[k] == ',' {
			start = k
		}
	}
	out := make([]byte, 0, len(r.Raw)-(end-start))
	out = append(out, r.Raw[:start]...)
	return append(out, r.Raw[end:]...)
}

// Quote returns s as a JSON string (control characters escaped, invalid UTF-8 as U+FFFD).
func Quote(s string) []byte { return jsonx.AppendString(nil, s) }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func unquote(v []byte) (string, error) {
	if len(v) < 2 || v[0] != '"' {
		return "", errors.New("not a string")
	}
	if bytes.IndexByte(v[1:len(v)-1], '\\') < 0 {
		return string(v[1 : len(v)-1]), nil
	}
	s := scanner{b: v}
	return s.str()
}

// scanner is a minimal validating JSON scanner over a byte slice.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) errf(format string, args ...any) error {
	return fmt.Errorf("invalid JSON at byte %d: %s", s.i, fmt.Sprintf(format, args...))
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) ws() {
	for s.i < len(s.b) && isSpace(s.b[s.i]) {
		s.i++
	}
}

// skip consumes one value; depth counts the arrays and objects around it, the body's own
// object included, and at most jsonx.MaxDepth may be open.
func (s *scanner) skip(depth int) error {
	if c := s.peek(); depth >= jsonx.MaxDepth && (c == '{' || c == '[') {
		return s.errf("nesting deeper than %d", jsonx.MaxDepth)
	}
	switch c := s.peek(); {
	case c == '"':
		return s.skipStr()
	case c == '{' || c == '[':
		close := byte('}')
		if c == '[' {
			close = ']'
		}
		s.i++
		s.ws()
		if s.peek() == close {
			s.i++
			return nil
		}
		for {
			s.ws()
			if c == '{' {
				if s.peek() != '"' {
					return s.errf("expected a key")
				}
				if err := s.skipStr(); err != nil {
					return err
				}
				s.ws()
				if s.peek() != ':' {
					return s.errf("expected ':'")
				}
				s.i++
				s.ws()
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			s.ws()
			switch s.peek() {
			case ',':
				s.i++
			case close:
				s.i++
				return nil
			default:
				return s.errf("expected ',' or '%c'", close)
			}
		}
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 0:
		return s.errf("unexpected end of input")
	default:
		return s.errf("unexpected character %q", c)
	}
}

// skipCount consumes a top-level member's value and, when it is an array, counts its elements.
func (s *scanner) skipCount() (int, error) {
	if s.peek() != '[' {
		return 0, s.skip(1)
	}
	s.i++
	s.ws()
	if s.peek() == ']' {
		s.i++
		return 0, nil
	}
	for n := 1; ; n++ {
		s.ws()
		if err := s.skip(2); err != nil {
			return 0, err
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return n, nil
		default:
			return 0, s.errf("expected ',' or ']'")
		}
	}
}

func (s *scanner) lit(w string) error {
	if !bytes.HasPrefix(s.b[s.i:], []byte(w)) {
		return s.errf("invalid literal")
	}
	s.i += len(w)
	return nil
}

func (s *scanner) skipStr() error {
	s.i++
	for s.i < len(s.b) {
		// Jump over plain text to the next quote or backslash.
		if j := bytes.IndexAny(s.b[s.i:], "\"\\"); j > 0 {
			for _, c := range s.b[s.i : s.i+j] {
				if c < 0x20 {
					return s.errf("control character in string")
				}
			}
			s.i += j
		}
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return nil
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return s.errf("unterminated string")
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) || !isHex4(s.b[s.i+2:s.i+6]) {
					return s.errf("bad unicode escape")
				}
				s.i += 6
			default:
				return s.errf("bad escape")
			}
		case c < 0x20:
			return s.errf("control character in string")
		default:
			s.i++
		}
	}
	return s.errf("unterminated string")
}

// str reads a string value and unescapes it.
func (s *scanner) str() (string, error) {
	if s.peek() != '"' {
		return "", s.errf("expected a string")
	}
	st := s.i
	if err := s.skipStr(); err != nil {
		return "", err
	}
	raw := s.b[st+1 : s.i-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw), nil
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(raw) {
			return "", s.errf("bad escape")
		}
		switch raw[i] {
		case '"', '\\', '/':
			out = append(out, raw[i])
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
			if i+4 >= len(raw) {
				return "", s.errf("bad unicode escape")
			}
			n, err := strconv.ParseUint(string(raw[i+1:i+5]), 16, 32)
			if err != nil {
				return "", s.errf("bad unicode escape")
			}
			out = utf8.AppendRune(out, rune(n))
			i += 4
		default:
			return "", s.errf("bad escape")
		}
	}
	return string(out), nil
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// number accepts exactly JSON's number grammar.
func (s *scanner) number() error {
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		digits()
	default:
		return s.errf("invalid number")
	}
	if s.peek() == '.' {
		s.i++
		if digits() == 0 {
			return s.errf("invalid number")
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if digits() == 0 {
			return s.errf("invalid number")
		}
	}
	return nil
}
