package telemetry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
)

// Redacted replaces every secret the Redactor removes.
const Redacted = "[REDACTED]"

// RedactConfig lists what to hide in addition to the built-in defaults.
type RedactConfig struct {
	// Headers are extra header names whose values are hidden
	// (case-insensitive). Authorization, Proxy-Authorization, Cookie,
	// Set-Cookie, X-Api-Key, Api-Key and X-Goog-Api-Key always are.
	Headers []string
	// Fields are JSON object keys whose values are hidden wherever they
	// appear in a body (case-insensitive). api_key, apikey, password,
	// secret, client_secret, access_token, refresh_token, authorization
	// always are.
	Fields []string
	// MaxBytes caps a captured body after redaction; default 4096.
	MaxBytes int
}

// Redactor prepares headers and bodies for the access log. It is safe for
// concurrent use.
type Redactor struct {
	headers map[string]bool
	fields  map[string]bool
	max     int
	fieldRE *regexp.Regexp
}

var (
	defaultRedactHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Api-Key", "Api-Key", "X-Goog-Api-Key"}
	defaultRedactFields  = []string{"api_key", "apikey", "password", "secret", "client_secret", "access_token", "refresh_token", "authorization"}
	// secretRE matches credentials that leak into free text: bearer tokens,
	// OpenAI/Anthropic-style keys, AWS access key ids, Google API keys.
	secretRE = regexp.MustCompile(`(?i:bearer)\s+[A-Za-z0-9._~+/=-]{8,}|sk-[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}`)
)

// NewRedactor builds a Redactor from cfg plus the defaults.
func NewRedactor(cfg RedactConfig) *Redactor {
	r := &Redactor{headers: map[string]bool{}, fields: map[string]bool{}, max: cfg.MaxBytes}
	if r.max <= 0 {
		r.max = 4096
	}
	for _, h := range append(append([]string{}, defaultRedactHeaders...), cfg.Headers...) {
		r.headers[http.CanonicalHeaderKey(h)] = true
	}
	var quoted []string
	for _, f := range append(append([]string{}, defaultRedactFields...), cfg.Fields...) {
		r.fields[strings.ToLower(f)] = true
		quoted = append(quoted, regexp.QuoteMeta(f))
	}
	sort.Strings(quoted)
	// Fallback for bodies that are not valid JSON (cut off, or not JSON at
	// all): hide "field": <string, number or literal>.
	r.fieldRE = regexp.MustCompile(`(?i)("(?:` + strings.Join(quoted, "|") + `)"\s*:\s*)("(?:[^"\\]|\\.)*"?|[^,}\]\s]+)`)
	return r
}

// Headers returns a copy of h with one line per header, secrets hidden.
// For Authorization-style values the scheme is kept ("Bearer [REDACTED]").
func (r *Redactor) Headers(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, vs := range h {
		ck := http.CanonicalHeaderKey(k)
		v := strings.Join(vs, ", ")
		if r.headers[ck] {
			if i := strings.IndexByte(v, ' '); i > 0 && (ck == "Authorization" || ck == "Proxy-Authorization") {
				v = v[:i+1] + Redacted
			} else {
				v = Redacted
			}
		} else {
			v = secretRE.ReplaceAllString(v, Redacted)
		}
		out[ck] = v
	}
	return out
}

// Body returns b with configured JSON fields and secret-looking strings
// hidden, cut to MaxBytes. Valid JSON is re-encoded compactly with its key
// order kept; anything else is treated as text.
func (r *Redactor) Body(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	w := &capBuffer{max: r.max}
	if err := r.redactJSON(b, w); err == nil || errors.Is(err, errCapped) {
		return w.result(len(b))
	}
	w = &capBuffer{max: r.max}
	s := r.fieldRE.ReplaceAllString(string(b), `${1}"`+Redacted+`"`)
	w.WriteString(secretRE.ReplaceAllString(s, Redacted))
	return w.result(len(b))
}

var errCapped = errors.New("capped")

// capBuffer stops accepting writes past max bytes.
type capBuffer struct {
	buf    bytes.Buffer
	max    int
	capped bool
}

func (c *capBuffer) WriteString(s string) error {
	if c.capped {
		return errCapped
	}
	if room := c.max - c.buf.Len(); len(s) > room {
		c.buf.WriteString(s[:room])
		c.capped = true
		return errCapped
	}
	c.buf.WriteString(s)
	return nil
}

func (c *capBuffer) result(inLen int) string {
	if c.capped {
		return c.buf.String() + fmt.Sprintf("...[truncated, %d bytes]", inLen)
	}
	return c.buf.String()
}

func (r *Redactor) redactJSON(b []byte, w *capBuffer) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if err := r.value(dec, w, tok); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}

// value copies the JSON value that starts with tok to w, redacted: secrets in strings
// replaced, objects and arrays walked member by member.
func (r *Redactor) value(dec *json.Decoder, w *capBuffer, tok json.Token) error {
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			return r.object(dec, w)
		case '[':
			return r.array(dec, w)
		}
		return fmt.Errorf("unexpected %v", v)
	case string:
		return writeJSONString(w, secretRE.ReplaceAllString(v, Redacted))
	case json.Number:
		return w.WriteString(v.String())
	case bool:
		if v {
			return w.WriteString("true")
		}
		return w.WriteString("false")
	case nil:
		return w.WriteString("null")
	}
	return fmt.Errorf("unexpected token %T", tok)
}

// object copies the members of an object whose '{' was just read, through its '}': the
// value of a member named in fields is replaced whole, the others are redacted in turn.
func (r *Redactor) object(dec *json.Decoder, w *capBuffer) error {
	if err := w.WriteString("{"); err != nil {
		return err
	}
	for first := true; dec.More(); first = false {
		kt, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := kt.(string)
		if !first {
			if err := w.WriteString(","); err != nil {
				return err
			}
		}
		if err := writeJSONString(w, key); err != nil {
			return err
		}
		if err := w.WriteString(":"); err != nil {
			return err
		}
		vt, err := dec.Token()
		if err != nil {
			return err
		}
		if r.fields[strings.ToLower(key)] {
			if err := skip(dec, vt); err != nil {
				return err
			}
			if err := writeJSONString(w, Redacted); err != nil {
				return err
			}
			continue
		}
		if err := r.value(dec, w, vt); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	return w.WriteString("}")
}

// array copies the elements of an array whose '[' was just read, through its ']', each
// redacted in turn.
func (r *Redactor) array(dec *json.Decoder, w *capBuffer) error {
	if err := w.WriteString("["); err != nil {
		return err
	}
	for first := true; dec.More(); first = false {
		if !first {
			if err := w.WriteString(","); err != nil {
				return err
			}
		}
		et, err := dec.Token()
		if err != nil {
			return err
		}
		if err := r.value(dec, w, et); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	return w.WriteString("]")
}

// skip consumes the rest of a value whose first token is tok.
func skip(dec *json.Decoder, tok json.Token) error {
	d, ok := tok.(json.Delim)
	if !ok || (d != '{' && d != '[') {
		return nil
	}
	for depth := 1; depth > 0; {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := t.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

func writeJSONString(w *capBuffer, s string) error {
	b, _ := json.Marshal(s)
	return w.WriteString(string(b))
}
