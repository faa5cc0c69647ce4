package jsonx

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// Writer appends JSON to one buffer. It inserts commas itself: a comma goes before any key or
// value that follows a complete value at the same level. It does not check nesting; callers
// balance ObjectStart/ObjectEnd and ArrayStart/ArrayEnd and put a Key before each member value.
type Writer struct {
	buf   []byte
	comma bool
}

// NewWriter returns a Writer that appends to buf[:0] (pass nil or a reused buffer).
func NewWriter(buf []byte) *Writer { return &Writer{buf: buf[:0]} }

// Bytes returns the JSON written so far (aliases the internal buffer).
func (w *Writer) Bytes() []byte { return w.buf }

// Len returns the number of bytes written so far.
func (w *Writer) Len() int { return len(w.buf) }

// Reset empties the writer, keeping its buffer.
func (w *Writer) Reset() { w.buf, w.comma = w.buf[:0], false }

func (w *Writer) sep() {
	if w.comma {
		w.buf = append(w.buf, ',')
	}
}

// ObjectStart writes '{'.
func (w *Writer) ObjectStart() { w.sep(); w.buf = append(w.buf, '{'); w.comma = false }

// ObjectEnd writes '}'.
func (w *Writer) ObjectEnd() { w.buf = append(w.buf, '}'); w.comma = true }

// ArrayStart writes '['.
func (w *Writer) ArrayStart() { w.sep(); w.buf = append(w.buf, '['); w.comma = false }

// ArrayEnd writes ']'.
func (w *Writer) ArrayEnd() { w.buf = append(w.buf, ']'); w.comma = true }

// Key writes an object member name and its colon.
func (w *Writer) Key(k string) {
	w.sep()
	w.buf = appendQuoted(w.buf, k)
	w.buf = append(w.buf, ':')
	w.comma = false
}

// String writes s as a JSON string.
func (w *Writer) String(s string) { w.sep(); w.buf = appendQuoted(w.buf, s); w.comma = true }

// StringBytes writes b as a JSON string.
func (w *Writer) StringBytes(b []byte) {
	w.sep()
	w.buf = appendQuoted(w.buf, b)
	w.comma = true
}

// StringRaw writes a JSON string whose contents are already escaped, as Value.AppendRawStr
// returns them. The caller vouches for the escaping; the bytes are copied as they are.
func (w *Writer) StringRaw(escaped []byte) {
	w.sep()
	w.buf = append(w.buf, '"')
	w.buf = append(w.buf, escaped...)
	w.buf = append(w.buf, '"')
	w.comma = true
}

// Fragment appends a constant piece of JSON text, such as `,"object":"chat.completion",
// "choices":[{"index":`, in one copy instead of one call per token: fixed parts of an output
// cost a memmove rather than a dozen writer calls. A separator is written first when one is
// due and frag does not itself start with ',', '}' or ']'; after it, a separator is due unless
// frag ends with '{', '[', ':' or ','. The caller vouches that the result stays valid JSON.
func (w *Writer) Fragment(frag string) {
	if frag == "" {
		return
	}
	if w.comma {
		switch frag[0] {
		case ',', '}', ']':
		default:
			w.buf = append(w.buf, ',')
		}
	}
	w.buf = append(w.buf, frag...)
	switch frag[len(frag)-1] {
	case '{', '[', ':', ',':
		w.comma = false
	default:
		w.comma = true
	}
}

// Int writes an integer.
func (w *Writer) Int(n int64) { w.sep(); w.buf = strconv.AppendInt(w.buf, n, 10); w.comma = true }

// Float writes a float the way encoding/json formats float64; NaN and infinities, which JSON
// cannot express, are written as null.
func (w *Writer) Float(f float64) {
	w.sep()
	w.comma = true
	if math.IsNaN(f) || math.IsInf(f, 0) {
		w.buf = append(w.buf, "null"...)
		return
	}
	abs := math.Abs(f)
	fmtc := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmtc = 'e'
	}
	start := len(w.buf)
	w.buf = strconv.AppendFloat(w.buf, f, fmtc, -1, 64)
	if fmtc == 'e' {
		// Shorten e-07 to e-7 as encoding/json does.
		b := w.buf[start:]
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			w.buf = w.buf[:len(w.buf)-1]
		}
	}
}

// Bool writes true or false.
func (w *Writer) Bool(b bool) {
	w.sep()
	if b {
		w.buf = append(w.buf, "true"...)
	} else {
		w.buf = append(w.buf, "false"...)
	}
	w.comma = true
}

// Null writes null.
func (w *Writer) Null() { w.sep(); w.buf = append(w.buf, "null"...); w.comma = true }

// Raw writes raw as one value. The caller vouches that raw is valid JSON (a Value's Raw is);
// empty raw is written as null so the output stays valid.
func (w *Writer) Raw(raw []byte) {
	w.sep()
	if len(raw) == 0 {
		raw = []byte("null")
	}
	w.buf = append(w.buf, raw...)
	w.comma = true
}

// Value writes v's JSON text as is (null when v is Invalid).
func (w *Writer) Value(v Value) { w.Raw(v.raw) }

// Copy re-encodes v token by token: strings are decoded and re-escaped, whitespace is dropped,
// numbers are kept verbatim. An Invalid v is written as null.
func (w *Writer) Copy(v Value) {
	switch v.Kind() {
	case Object:
		w.ObjectStart()
		for k, val := range v.Members() {
			w.sep()
			w.buf = append(w.buf, '"')
			w.buf = appendEscaped(w.buf, k.AppendStr(nil))
			w.buf = append(w.buf, '"', ':')
			w.comma = false
			w.Copy(val)
		}
		w.ObjectEnd()
	case Array:
		w.ArrayStart()
		for _, e := range v.Elems() {
			w.Copy(e)
		}
		w.ArrayEnd()
	case String:
		w.sep()
		w.buf = append(w.buf, '"')
		w.buf = appendEscaped(w.buf, v.AppendStr(nil))
		w.buf = append(w.buf, '"')
		w.comma = true
	default:
		w.Raw(v.raw)
	}
}

// AppendString appends s as a quoted JSON string to dst.
func AppendString(dst []byte, s string) []byte { return appendQuoted(dst, s) }

const hexDigits = "0123456789abcdef"

func appendQuoted[S string | []byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, s)
	return append(dst, '"')
}

func appendEscaped[S string | []byte](dst []byte, s S) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
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
			continue
		}
		r, size := decodeRune(s, i)
		if size == 0 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		// U+2028 and U+2029 break JavaScript string literals; encoding/json escapes them too.
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// decodeRune decodes the UTF-8 sequence at s[i] (s[i] >= 0x80) with utf8.DecodeRune's rules;
// size 0 means an invalid byte. It is generic so string and []byte share it without conversion.
func decodeRune[S string | []byte](s S, i int) (rune, int) {
	c0 := s[i]
	n := len(s) - i
	cx := func(k int) (byte, bool) {
		if k >= n {
			return 0, false
		}
		c := s[i+k]
		return c, c&0xC0 == 0x80
	}
	switch {
	case c0 >= 0xC2 && c0 <= 0xDF:
		c1, ok := cx(1)
		if !ok {
			return 0, 0
		}
		return rune(c0&0x1F)<<6 | rune(c1&0x3F), 2
	case c0 >= 0xE0 && c0 <= 0xEF:
		c1, ok1 := cx(1)
		c2, ok2 := cx(2)
		if !ok1 || !ok2 || (c0 == 0xE0 && c1 < 0xA0) || (c0 == 0xED && c1 > 0x9F) {
			return 0, 0
		}
		return rune(c0&0x0F)<<12 | rune(c1&0x3F)<<6 | rune(c2&0x3F), 3
	case c0 >= 0xF0 && c0 <= 0xF4:
		c1, ok1 := cx(1)
		c2, ok2 := cx(2)
		c3, ok3 := cx(3)
		if !ok1 || !ok2 || !ok3 || (c0 == 0xF0 && c1 < 0x90) || (c0 == 0xF4 && c1 > 0x8F) {
			return 0, 0
		}
		return rune(c0&0x07)<<18 | rune(c1&0x3F)<<12 | rune(c2&0x3F)<<6 | rune(c3&0x3F), 4
	}
	return 0, 0
}
