package openai

// The catalogue of error codes sluice answers with (error.code of the OpenAI error object).
// Every code the host produces is a constant here with its entry in Codes; a test walks the
// code base and fails on a code that is not.
const (
	// Reading the request.
	CodeBadRequest      = "bad_request"
	CodeInvalidJSON     = "invalid_json"
	CodeDuplicateKey    = "duplicate_key"
	CodeTooManyMessages = "too_many_messages"
	CodeTooManyTools    = "too_many_tools"
	CodeInvalidHeader   = "invalid_header"
	CodeRequestTooLarge = "request_too_large"
	CodeClientClosed    = "client_closed"
	CodeMethodNotAllow  = "method_not_allowed"
	CodeNotFound        = "not_found"
	CodeInternal        = "internal_error"

	// Parameters (the Responses API bridge and the dialect converters).
	CodeInvalidRequest           = "invalid_request"
	CodeInvalidValue             = "invalid_value"
	CodeInvalidType              = "invalid_type"
	CodeMissingRequiredParameter = "missing_required_parameter"
	CodeUnknownParameter         = "unknown_parameter"
	CodeUnsupportedParameter     = "unsupported_parameter"
	CodeUnsupportedValue         = "unsupported_value"
	CodeUnsupportedOnBridge      = "unsupported_on_bridge"
	CodeConversionFailed         = "conversion_failed"

	// Identity and permissions.
	CodeMissingAPIKey          = "missing_api_key"
	CodeInvalidAPIKey          = "invalid_api_key"
	CodeModelNotAllowed        = "model_not_allowed"
	CodeRouterNotAllowed       = "router_not_allowed"
	CodeOverridesNotAllowed    = "overrides_not_allowed"
	CodeBYOKAmbiguous          = "byok_ambiguous"
	CodeBYOKNotAllowed         = "byok_not_allowed"
	CodeBYOKNotSupported       = "byok_not_supported"
	CodeProviderKeyRequired    = "provider_key_required"
	CodePassthroughNotAllowed  = "passthrough_not_allowed"
	CodePolicyBypassRefused    = "policy_bypass_refused"
	CodeInvalidPath            = "invalid_path"
	CodeUnsupported            = "unsupported"
	CodeBadProviderURL         = "bad_provider_url"
	CodeProviderNotFound       = "provider_not_found"
	CodeProviderNotConfigured  = "provider_not_configured"
	CodeMissingModel           = "missing_model"
	CodeInvalidModel           = "invalid_model"
	CodeModelNotFound          = "model_not_found"
	CodeRouterNotFound         = "router_not_found"
	CodeNoTarget               = "no_target"
	CodeTooManyStreams         = "too_many_streams"
	CodeRateLimitExceeded      = "rate_limit_exceeded"
	CodeInsufficientQuota      = "insufficient_quota"
	CodeRateLimitUnavailable   = "rate_limit_unavailable"
	CodeRateLimitError         = "rate_limit_error"
	CodeStoreDisabled          = "store_disabled"
	CodeStoreUnavailable       = "store_unavailable"
	CodePreviousResponseNotFnd = "previous_response_not_found"
	CodeNotCancellable         = "not_cancellable"

	// Upstream attempts and the response side.
	CodeUpstreamError            = "upstream_error"
	CodeUpstreamTimeout          = "upstream_timeout"
	CodeUpstreamUnreachable      = "upstream_unreachable"
	CodeTimeout                  = "timeout"
	CodeStreamBroken             = "stream_broken"
	CodeTranslationFailed        = "translation_failed"
	CodePluginError              = "plugin_error"
	CodePolicyRejected           = "policy_rejected"
	CodeBadChunk                 = "bad_chunk"
	CodePolicyBufferExceeded     = "policy_buffer_exceeded"
	CodePolicyRewriteUnsupported = "policy_rewrite_unsupported"
	CodePolicyUnsupported        = "policy_unsupported"

	// Plugin calls (host/plugin's own codes).
	CodePluginTrapped         = "plugin_trapped"
	CodePluginTimeout         = "plugin_timeout"
	CodePluginCanceled        = "plugin_canceled"
	CodePluginBusy            = "plugin_busy"
	CodePluginABIViolation    = "plugin_abi_violation"
	CodeHookNotExported       = "hook_not_exported"
	CodePluginUnavailable     = "plugin_unavailable"
	CodePluginBadErrorPayload = "plugin_bad_error_payload"
	CodePluginBadOutput       = "plugin_bad_output"
	CodePluginStackExhausted  = "plugin_stack_exhausted"

	// The admin API.
	CodeReloadRefused      = "reload_refused"
	CodeCacheDisabled      = "cache_disabled"
	CodePurgeFailed        = "purge_failed"
	CodeLimitsDisabled     = "limits_disabled"
	CodeKeysUnreadable     = "keys_unreadable"
	CodeUnknownKey         = "unknown_key"
	CodeMissingSubject     = "missing_subject"
	CodeHostNotAllowed     = "host_not_allowed"
	CodeCrossOriginRefused = "cross_origin_refused"
	CodeAdminTokenRequired = "admin_token_required"
)

// CodeInfo is the status and type a code is answered with.
type CodeInfo struct {
	// Status is the HTTP status; 0 when it varies (an upstream's status relayed, a plugin's
	// chosen one, or several situations sharing the code).
	Status int
	// Type is the error type; "" when it is TypeFor(Status) (or varies with it).
	Type string
}

// Codes is the catalogue: every code above with its status and type.
var Codes = map[string]CodeInfo{
	CodeBadRequest:      {Status: 400},
	CodeInvalidJSON:     {Status: 400},
	CodeDuplicateKey:    {Status: 400},
	CodeTooManyMessages: {Status: 400},
	CodeTooManyTools:    {Status: 400},
	CodeInvalidHeader:   {Status: 400},
	CodeRequestTooLarge: {Status: 413},
	CodeClientClosed:    {Status: 499},
	CodeMethodNotAllow:  {Status: 405},
	CodeNotFound:        {Status: 404},
	CodeInternal:        {Status: 500},

	CodeInvalidRequest:           {Status: 400},
	CodeInvalidValue:             {Status: 400},
	CodeInvalidType:              {Status: 400},
	CodeMissingRequiredParameter: {Status: 400},
	CodeUnknownParameter:         {Status: 400},
	CodeUnsupportedParameter:     {Status: 400},
	CodeUnsupportedValue:         {Status: 400},
	CodeUnsupportedOnBridge:      {Status: 400},
	CodeConversionFailed:         {Status: 502},

	// OpenAI answers a missing or wrong key as a 401 invalid_request_error; so does sluice.
	CodeMissingAPIKey:          {Status: 401, Type: TypeInvalidRequest},
	CodeInvalidAPIKey:          {Status: 401, Type: TypeInvalidRequest},
	CodeModelNotAllowed:        {Status: 403, Type: TypePermission},
	CodeRouterNotAllowed:       {Status: 403, Type: TypePermission},
	CodeOverridesNotAllowed:    {Status: 403},
	CodeBYOKAmbiguous:          {Status: 400},
	CodeBYOKNotAllowed:         {Status: 403},
	CodeBYOKNotSupported:       {Status: 400},
	CodeProviderKeyRequired:    {Status: 401},
	CodePassthroughNotAllowed:  {Status: 403},
	CodePolicyBypassRefused:    {Status: 403},
	CodeInvalidPath:            {Status: 400},
	CodeUnsupported:            {Status: 400},
	CodeBadProviderURL:         {Status: 500},
	CodeProviderNotFound:       {Status: 404},
	CodeProviderNotConfigured:  {Status: 503},
	CodeMissingModel:           {Status: 400},
	CodeInvalidModel:           {Status: 400},
	CodeModelNotFound:          {Status: 404},
	CodeRouterNotFound:         {Status: 404},
	CodeNoTarget:               {Status: 503},
	CodeTooManyStreams:         {Status: 503},
	CodeRateLimitExceeded:      {Status: 429},
	CodeInsufficientQuota:      {Status: 429},
	CodeRateLimitUnavailable:   {Status: 503},
	CodeRateLimitError:         {Status: 500},
	CodeStoreDisabled:          {}, // 400 when storing is off, 404 when reading from it
	CodeStoreUnavailable:       {Status: 503},
	CodePreviousResponseNotFnd: {Status: 404},
	CodeNotCancellable:         {Status: 400},

	CodeUpstreamError:            {}, // the upstream's own status
	CodeUpstreamTimeout:          {Status: 504},
	CodeUpstreamUnreachable:      {Status: 502},
	CodeTimeout:                  {Status: 504},
	CodeStreamBroken:             {Status: 502},
	CodeTranslationFailed:        {Status: 502},
	CodePluginError:              {}, // 502 from the host; a guest's own status otherwise
	CodePolicyRejected:           {}, // the policy's status, 403 when it names none
	CodeBadChunk:                 {}, // a Responses stream's failure event: no status
	CodePolicyBufferExceeded:     {Status: 502},
	CodePolicyRewriteUnsupported: {Status: 502},
	CodePolicyUnsupported:        {Status: 502},

	CodePluginTrapped:         {Status: 502, Type: TypeServer},
	CodePluginTimeout:         {Status: 504, Type: TypeServer},
	CodePluginCanceled:        {Type: TypeServer},
	CodePluginBusy:            {Status: 503, Type: TypeServer},
	CodePluginABIViolation:    {Status: 502, Type: TypeServer},
	CodeHookNotExported:       {Status: 500, Type: TypeServer},
	CodePluginUnavailable:     {Status: 503, Type: TypeServer},
	CodePluginBadErrorPayload: {Status: 502, Type: TypeServer},
	CodePluginBadOutput:       {Status: 502, Type: TypeServer},
	CodePluginStackExhausted:  {Status: 502, Type: TypeServer},

	// The admin API answers every error as an invalid_request_error.
	CodeReloadRefused:      {Status: 422, Type: TypeInvalidRequest},
	CodeCacheDisabled:      {Status: 404, Type: TypeInvalidRequest},
	CodePurgeFailed:        {Status: 502, Type: TypeInvalidRequest},
	CodeLimitsDisabled:     {Status: 404, Type: TypeInvalidRequest},
	CodeKeysUnreadable:     {Status: 500, Type: TypeInvalidRequest},
	CodeUnknownKey:         {Status: 404, Type: TypeInvalidRequest},
	CodeMissingSubject:     {Status: 400, Type: TypeInvalidRequest},
	CodeHostNotAllowed:     {Status: 403, Type: TypeInvalidRequest},
	CodeCrossOriginRefused: {Status: 403, Type: TypeInvalidRequest},
	CodeAdminTokenRequired: {Status: 401, Type: TypeInvalidRequest},
}
