package sdk

import "strconv"

// Fused readers for the typed views. A function call costs about 15 ns inside a Go wasm guest
// (every call carries the stack-switching checks of Go's wasm ABI), so the typed views read
// each member and value with one call instead of a chain of small ones (whitespace, separator,
// quote, key, colon). Anything unusual (escapes, null, bad input) falls back to the general
// scanner methods, which report errors the same way.

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

// member advances to the next member of the object being read and returns its key; false at
// the closing brace or on an error. n counts the members seen; start it at 0.
func (s *scanner) member(n *int) ([]byte, bool) {
	b, i := s.b, s.i
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i >= len(b) {
		s.fail()
		return nil, false
	}
	if b[i] == '}' {
		s.i = i + 1
		return nil, false
	}
	if *n > 0 {
		if b[i] != ',' {
			s.fail()
			return nil, false
		}
		i++
		for i < len(b) && isSpace(b[i]) {
			i++
		}
	}
	*n++
	if i >= len(b) || b[i] != '"' {
		s.fail()
		return nil, false
	}
	start := i + 1
	j := start
	for j < len(b) && b[j] != '"' && b[j] != '\\' && b[j] >= 0x20 {
		j++
	}
	if j >= len(b) || b[j] != '"' {
		s.i = i
		k := s.key()
		return k, s.err == nil
	}
	k := b[start:j]
	j++
	for j < len(b) && isSpace(b[j]) {
		j++
	}
	if j >= len(b) || b[j] != ':' {
		s.fail()
		return nil, false
	}
	s.i = j + 1
	return k, true
}

// strVal reads a string value (null reads as ""), as a substring of src when it has no escapes.
func (s *scanner) strVal() string {
	b, i := s.b, s.i
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i < len(b) && b[i] == '"' {
		start := i + 1
		j := start
		for j < len(b) && b[j] != '"' && b[j] != '\\' && b[j] >= 0x20 {
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
	return s.str()
}

// numSpan returns the bytes of a number value, or nil when the value does not start like one.
func (s *scanner) numSpan() []byte {
	b, i := s.b, s.i
	for i < len(b) && isSpace(b[i]) {
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
	if i == start {
		s.i = start
		return nil
	}
	s.i = i
	return b[start:i]
}

// floatVal reads a number (null reads as 0).
func (s *scanner) floatVal() float64 {
	nb := s.numSpan()
	if nb == nil {
		return s.float()
	}
	if v, ok := simpleFloat(nb); ok {
		return v
	}
	f, err := strconv.ParseFloat(bstr(nb), 64)
	if err != nil {
		s.fail()
	}
	return f
}

// intVal reads an integer (a fraction is truncated; null reads as 0).
func (s *scanner) intVal() int64 {
	nb := s.numSpan()
	if nb == nil {
		return s.int()
	}
	if v, ok := simpleInt(nb); ok {
		return v
	}
	f, err := strconv.ParseFloat(bstr(nb), 64)
	if err != nil {
		s.fail()
	}
	return int64(f)
}
