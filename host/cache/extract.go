package cache

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// Extract holds the prompt text a cache_key plugin is given instead of the
// whole body. Both fields are plain text (content parts of type "text" joined
// by newlines); either is empty when the request has none.
type Extract struct {
	// LastUser is the text of the last message with role "user", or the
	// prompt/input of completions and embeddings requests.
	LastUser string
	// System is the text of all "system" and "developer" messages, in order,
	// joined by newlines (or the "instructions" field when present).
	System string
}

// The helpers below walk canonical JSON produced by canon, so they can assume
// valid, whitespace-free input whose strings use only canonical escapes.

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		// A quote ends the string unless an odd run of backslashes precedes it.
		i++
		for {
			q := bytes.IndexByte(b[i:], '"')
			if q < 0 {
				return len(b)
			}
			j := i + q
			n := 0
			for k := j - 1; k >= i && b[k] == '\\'; k-- {
				n++
			}
			i = j + 1
			if n%2 == 0 {
				return i
			}
		}
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipValue(b, i)
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
		return i
	default:
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' {
			i++
		}
		return i
	}
}

// eachElem calls fn with every element of the canonical array b.
func eachElem(b []byte, fn func(elem []byte)) {
	if len(b) < 2 || b[0] != '[' {
		return
	}
	i := 1
	for i < len(b) && b[i] != ']' {
		j := skipValue(b, i)
		fn(b[i:j])
		i = j
		if i < len(b) && b[i] == ',' {
			i++
		}
	}
}

// field returns the value of key in the canonical object b, or nil.
func field(b []byte, key string) []byte {
	if len(b) < 2 || b[0] != '{' {
		return nil
	}
	i := 1
	for i < len(b) && b[i] == '"' {
		ke := skipValue(b, i)
		k := b[i+1 : ke-1]
		vs := ke + 1
		ve := skipValue(b, vs)
		if string(k) == key {
			return b[vs:ve]
		}
		i = ve
		if i < len(b) && b[i] == ',' {
			i++
		}
	}
	return nil
}

// unquote decodes a canonical JSON string literal.
func unquote(b []byte) string {
	if len(b) < 2 || b[0] != '"' {
		return ""
	}
	b = b[1 : len(b)-1]
	if !containsByte(b, '\\') {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			sb.WriteByte(b[i])
			continue
		}
		i++
		switch b[i] {
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'u':
			if r, ok := hex4(b, i+1); ok {
				sb.WriteRune(r)
				i += 4
			}
		default:
			sb.WriteByte(b[i])
		}
	}
	return sb.String()
}

func containsByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}

// textOf returns the text of a content value: a string, or an array of parts
// whose "text" fields are joined by newlines (or strings, for prompt arrays).
func textOf(v []byte) string {
	if len(v) == 0 {
		return ""
	}
	switch v[0] {
	case '"':
		return unquote(v)
	case '[':
		var parts []string
		eachElem(v, func(p []byte) {
			switch {
			case len(p) > 0 && p[0] == '"':
				parts = append(parts, unquote(p))
			case len(p) > 0 && p[0] == '{':
				if t := field(p, "text"); t != nil {
					parts = append(parts, unquote(t))
				}
			}
		})
		return strings.Join(parts, "\n")
	}
	return ""
}

func extractMessages(msgs []byte, ex *Extract) {
	// Only spans are collected while walking; text is decoded once at the end,
	// so earlier user turns cost a scan but no allocation.
	var lastUser []byte
	var sysArr [4][]byte
	system := sysArr[:0]
	eachElem(msgs, func(m []byte) {
		switch unquoteRole(field(m, "role")) {
		case "system", "developer":
			system = append(system, field(m, "content"))
		case "user":
			lastUser = field(m, "content")
		}
	})
	ex.LastUser = textOf(lastUser)
	switch len(system) {
	case 0:
	case 1:
		ex.System = textOf(system[0])
	default:
		parts := make([]string, len(system))
		for i, s := range system {
			parts[i] = textOf(s)
		}
		ex.System = strings.Join(parts, "\n")
	}
}

// unquoteRole avoids an allocation for the common role names.
func unquoteRole(b []byte) string {
	if len(b) >= 2 && utf8.Valid(b) {
		switch string(b[1 : len(b)-1]) {
		case "system":
			return "system"
		case "developer":
			return "developer"
		case "user":
			return "user"
		}
	}
	return ""
}
