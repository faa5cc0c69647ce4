package openai

import (
	"net/http"

	"github.com/sluice-gw/sluice/sdk/abi"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// Error types as OpenAI uses them (sdk/abi holds them, shared with plugins).
const (
	TypeInvalidRequest = abi.TypeInvalidRequest
	TypeAuthentication = abi.TypeAuthentication
	TypePermission     = abi.TypePermission
	TypeNotFound       = abi.TypeNotFound
	TypeRateLimit      = abi.TypeRateLimit
	TypeServer         = abi.TypeServer
	TypeUnavailable    = abi.TypeUnavailable
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

// TypeFor returns the OpenAI error type paired with an HTTP status: abi.ErrorType, the table
// plugins use too.
func TypeFor(status int) string { return abi.ErrorType(status) }

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
