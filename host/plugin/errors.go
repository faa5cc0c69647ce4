package plugin

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sluice-gw/sluice/sdk/abi"
)

// Error is a failed hook call. Guest errors (the ABI error bit) keep the guest's status, type,
// code and message; traps, deadlines and ABI violations have Trap set, a 5xx status and the
// tail of the instance's stderr. Error() is safe to show a client.
type Error struct {
	Plugin  string
	Hook    string
	Status  int    // HTTP status for the client
	Type    string // OpenAI error type
	Code    string // OpenAI error code
	Message string
	Trap    bool   // the instance was discarded (trap, deadline, cancellation or ABI violation)
	Stderr  string // guest stderr: first 512 and last 1024 bytes (for logs, not clients)
	Err     error  // underlying runtime error, if any
}

func (e *Error) Error() string {
	prefix := fmt.Sprintf("plugin %q hook %q: ", e.Plugin, e.Hook)
	switch {
	case e.Code == CodeTrapped:
		return prefix + "trapped: " + e.Message
	case e.Code == "":
		return prefix + e.Message
	default:
		return prefix + e.Code + ": " + e.Message
	}
}

func (e *Error) Unwrap() error { return e.Err }

// Error codes the host itself produces.
const (
	CodeTrapped        = "plugin_trapped"
	CodeTimeout        = "plugin_timeout"
	CodeStackExhausted = "plugin_stack_exhausted"
	CodeCanceled       = "plugin_canceled"
	CodeBusy           = "plugin_busy"
	CodeABIViolation   = "plugin_abi_violation"
	CodeHookMissing    = "hook_not_exported"
	CodeUnavailable    = "plugin_unavailable"
	CodeBadGuestError  = "plugin_bad_error_payload"
	CodeBadOutput      = "plugin_bad_output"
	typeAPIError       = abi.TypeServer
	typeInvalidRequest = abi.TypeInvalidRequest
)

// guestError decodes the guest's error payload.
func guestError(plugin, hook string, payload []byte) *Error {
	var p struct {
		Status  int    `json:"status"`
		Type    string `json:"type"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return &Error{Plugin: plugin, Hook: hook, Status: 502, Type: typeAPIError, Code: CodeBadGuestError,
			Message: fmt.Sprintf("error payload is not JSON: %q", truncate(string(payload), 200))}
	}
	if p.Status < 400 || p.Status > 599 {
		p.Status = 400
	}
	if p.Type == "" {
		p.Type = abi.ErrorType(p.Status)
	}
	return &Error{Plugin: plugin, Hook: hook, Status: p.Status, Type: p.Type, Code: p.Code, Message: p.Message}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// firstLine keeps the runtime error's headline; wazero appends a multi-line stack trace.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
