package abi

// OpenAI error types, the "type" of an error object a hook returns and a client receives.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAuthentication = "authentication_error"
	TypePermission     = "permission_error"
	TypeNotFound       = "not_found_error"
	TypeRateLimit      = "rate_limit_error"
	TypeServer         = "api_error"
	TypeUnavailable    = "service_unavailable"
)

// ErrorType is the error type paired with an HTTP status: the one table the host, the SDK and
// the first-party plugins share, so an error without a type gets the same one wherever it is
// made.
func ErrorType(status int) string {
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
