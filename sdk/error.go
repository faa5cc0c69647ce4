package sdk

import "fmt"

// Error is what a hook returns to make the host answer the client with an OpenAI-shaped error.
// Status is the HTTP status the client sees (400 when zero); Type and Code follow OpenAI's
// error object.
type Error struct {
	Status  int
	Type    string
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf builds an *Error with the given status and code and a formatted message.
func Errorf(status int, code, format string, args ...any) *Error {
	typ := "invalid_request_error"
	if status >= 500 {
		typ = "api_error"
	}
	return &Error{Status: status, Type: typ, Code: code, Message: fmt.Sprintf(format, args...)}
}
