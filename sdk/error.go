package sdk

import (
	"fmt"

	"github.com/sluice-gw/sluice/sdk/abi"
)

// Error is what a hook returns to make the host answer the client with an OpenAI-shaped error.
// Status is the HTTP status the client sees (400 when zero); Type and Code follow OpenAI's
// error object; Errorf gives the type abi.ErrorType pairs with the status.
type Error struct {
	Status  int
	Type    string
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf builds an *Error with the given status and code and a formatted message.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Type: abi.ErrorType(status), Code: code, Message: fmt.Sprintf(format, args...)}
}
