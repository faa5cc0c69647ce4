package openai

import (
	"net/http"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// Error types as OpenAI uses them.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAuthentication = "authentication_error"
	TypePermission     = "permission_error"
	TypeNotFound       = "not_found_error"
	TypeRateLimit      = "rate_limit_error"
	TypeServer         = "api_error"
	TypeUnavailable    = "service_unavailable"
)

// Error is an error a client receives as `{"error":{"message","type","code","param"}}`.
type Error struct {
	Status  int
	Type    string
	Code    string
	Param   string
	Message string
	// Header holds extra response headers (retry-after, rate-limit headers).
	Header http.Header
}

func (e *Error) Error() string { return e.Message }

// Errorf builds an Error with a type derived from the status.
func Errorf(status int, code, msg string) *Error {
	return &Error{Status: status, Type: TypeFor(status), Code: code, Message: msg}
}

// TypeFor returns the OpenAI error type conventionally paired with an HTTP status.
func TypeFor(status int) string {
	switch {
	case status == 401:
		return TypeAuthentication
	case status == 403:
		return TypePermission
	case status == 404:
		return TypeNotFound
	case status == 429:
		return TypeRateLimit
	case status == 503:
		return TypeUnavailable
	case status >= 500:
		return TypeServer
	default:
		return TypeInvalidRequest
	}
}

// Body renders the error object. Every string is escaped for JSON (control characters, quotes,
// invalid UTF-8), so the body is valid whatever the message quotes from a client or upstream.
func (e *Error) Body() []byte {
	b := make([]byte, 0, 96+len(e.Message))
	b = append(b, `{"error":{"message":`...)
	b = jsonx.AppendString(b, e.Message)
	b = append(b, `,"type":`...)
	b = jsonx.AppendString(b, e.Type)
	b = append(b, `,"param":`...)
	if e.Param == "" {
		b = append(b, "null"...)
	} else {
		b = jsonx.AppendString(b, e.Param)
	}
	b = append(b, `,"code":`...)
	if e.Code == "" {
		b = append(b, "null"...)
	} else {
		b = jsonx.AppendString(b, e.Code)
	}
	return append(b, "}}\n"...)
}

// Write sends the error as the whole response.
func (e *Error) Write(w http.ResponseWriter) {
	h := w.Header()
	for k, vs := range e.Header {
		h[k] = vs
	}
	h.Set("Content-Type", "application/json")
	status := e.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	w.WriteHeader(status)
	_, _ = w.Write(e.Body())
}
