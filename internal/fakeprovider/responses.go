package fakeprovider

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// The OpenAI Responses API: POST /v1/responses (JSON or SSE), GET and DELETE
// /v1/responses/{id}, GET /v1/responses/{id}/input_items and POST /v1/responses/{id}/cancel.
// Requests are validated the way the real API does (unknown parameters, wrong types, item and
// tool shapes); stored responses (store defaults to true) resolve previous_response_id.

// storedResponse is a response kept under store semantics, with the context it was made in.
type storedResponse struct {
	obj     map[string]any // the response object as last returned
	input   []any          // this request's own input items, with ids
	context []any          // every item of the conversation up to and including the output
}

var responsesTopLevel = map[string]string{
	"model": "string", "input": "input", "instructions": "string?", "stream": "bool",
	"stream_options": "object", "store": "bool", "previous_response_id": "string?",
	"include": "array", "reasoning": "object?", "tools": "array", "tool_choice": "tool_choice",
	"parallel_tool_calls": "bool", "max_output_tokens": "int?", "max_tool_calls": "int?",
	"temperature": "number?", "top_p": "number?", "top_logprobs": "int?", "truncation": "string?",
	"metadata": "object?", "user": "string", "safety_identifier": "string", "prompt_cache_key": "string",
	"prompt_cache_retention": "string?", "service_tier": "string?", "text": "object", "background": "bool?",
	"prompt": "object?", "conversation": "any", "client_metadata": "object?",
}

var responsesInclude = []string{
	"code_interpreter_call.outputs", "computer_call_output.output.image_url", "file_search_call.results",
	"message.input_image.image_url", "message.output_text.logprobs", "reasoning.encrypted_content",
	"web_search_call.action.sources", "web_search_call.results",
}

// respError is a validation failure: status, message, param and code as OpenAI reports them.
type respError struct {
	status     int
	msg, param string
	code       string
	errType    string
}

func badParam(param, format string, args ...any) *respError {
	return &respError{status: 400, msg: fmt.Sprintf(format, args...), param: param, code: "invalid_value"}
}

func (e *respError) body() []byte {
	typ := e.errType
	if typ == "" {
		typ = "invalid_request_error"
	}
	var param, code any
	if e.param != "" {
		param = e.param
	}
	if e.code != "" {
		code = e.code
	}
	return mustJSON(map[string]any{"error": map[string]any{"message": e.msg, "type": typ, "param": param, "code": code}})
}

func typeOK(kind string, v any) bool {
	if strings.HasSuffix(kind, "?") {
		if v == nil {
			return true
		}
		kind = strings.TrimSuffix(kind, "?")
	}
	switch kind {
	case "string":
		_, ok := v.(string)
		return ok
	case "bool":
		_, ok := v.(bool)
		return ok
	case "int":
		_, ok := isInt(v)
		return ok
	case "number":
		_, ok := isNumber(v)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "input":
		switch v.(type) {
		case string, []any:
			return true
		}
		return false
	case "tool_choice":
		switch v.(type) {
		case string, map[string]any:
			return true
		}
		return false
	}
	return true
}

var typeWords = map[string]string{
	"string": "a string", "bool": "a boolean", "int": "an integer", "number": "a number",
	"object": "an object", "array": "an array", "input": "a string or an array", "tool_choice": "a string or an object",
}

func oneOf(v any, allowed ...string) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	for _, a := range allowed {
		if s == a {
			return true
		}
	}
	return false
}

func supported(allowed []string) string {
	q := make([]string, len(allowed))
	for i, a := range allowed {
		q[i] = "'" + a + "'"
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + ", and " + q[len(q)-1]
}

func enumParam(m map[string]any, key, param string, allowed ...string) *respError {
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	if !oneOf(v, allowed...) {
		return badParam(param, "Invalid value: '%v'. Supported values are: %s.", v, supported(allowed))
	}
	return nil
}

// validateResponses checks a create request; it returns nil when the API would accept it.
func validateResponses(m map[string]any) *respError {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kind, ok := responsesTopLevel[k]
		if !ok {
			return &respError{status: 400, msg: "Unknown parameter: '" + k + "'.", param: k, code: "unknown_parameter"}
		}
		if !typeOK(kind, m[k]) {
			return &respError{status: 400, msg: fmt.Sprintf("Invalid type for '%s': expected %s, but got %s instead.", k, typeWords[strings.TrimSuffix(kind, "?")], jsonKind(m[k])), param: k, code: "invalid_type"}
		}
	}
	if s, _ := m["model"].(string); s == "" {
		return &respError{status: 400, msg: "Missing required parameter: 'model'.", param: "model", code: "missing_required_parameter"}
	}
	if _, ok := m["input"]; !ok {
		if _, ok := m["prompt"]; !ok {
			return &respError{status: 400, msg: "Missing required parameter: 'input'.", param: "input", code: "missing_required_parameter"}
		}
	}
	if _, ok := m["stream_options"]; ok && m["stream"] != true {
		return badParam("stream_options", "Invalid value: 'stream_options'. stream_options is only allowed when stream is true.")
	}
	if so, ok := m["stream_options"].(map[string]any); ok {
		for k, v := range so {
			if k != "include_obfuscation" {
				return &respError{status: 400, msg: "Unknown parameter: 'stream_options." + k + "'.", param: "stream_options." + k, code: "unknown_parameter"}
			}
			if _, ok := v.(bool); !ok {
				return badParam("stream_options.include_obfuscation", "Invalid type for 'stream_options.include_obfuscation': expected a boolean.")
			}
		}
	}
	if m["previous_response_id"] != nil && m["conversation"] != nil {
		return badParam("previous_response_id", "Mutually exclusive parameters: Ensure you are only providing one of: 'previous_response_id' or 'conversation'.")
	}
	if inc, ok := m["include"].([]any); ok {
		for i, v := range inc {
			if !oneOf(v, responsesInclude...) {
				return badParam(fmt.Sprintf("include[%d]", i), "Invalid value: '%v'. Supported values are: %s.", v, supported(responsesInclude))
			}
		}
	}
	if r, ok := m["reasoning"].(map[string]any); ok {
		for k := range r {
			if k != "effort" && k != "summary" && k != "generate_summary" {
				return &respError{status: 400, msg: "Unknown parameter: 'reasoning." + k + "'.", param: "reasoning." + k, code: "unknown_parameter"}
			}
		}
		if e := enumParam(r, "effort", "reasoning.effort", "none", "minimal", "low", "medium", "high", "xhigh"); e != nil {
			return e
		}
		if e := enumParam(r, "summary", "reasoning.summary", "auto", "concise", "detailed"); e != nil {
			return e
		}
	}
	if n, ok := isInt(m["max_output_tokens"]); ok && n < 16 {
		return badParam("max_output_tokens", "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got %d instead.", n)
	}
	if f, ok := isNumber(m["temperature"]); ok && (f < 0 || f > 2) {
		return badParam("temperature", "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got %v instead.", f)
	}
	if f, ok := isNumber(m["top_p"]); ok && (f < 0 || f > 1) {
		return badParam("top_p", "Invalid 'top_p': decimal above maximum value. Expected a value <= 1, but got %v instead.", f)
	}
	if e := enumParam(m, "truncation", "truncation", "auto", "disabled"); e != nil {
		return e
	}
	if e := enumParam(m, "service_tier", "service_tier", "auto", "default", "flex", "scale", "priority"); e != nil {
		return e
	}
	if e := enumParam(m, "prompt_cache_retention", "prompt_cache_retention", "in-memory", "24h"); e != nil {
		return e
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		if len(md) > 16 {
			return badParam("metadata", "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with %d properties instead.", len(md))
		}
		for k, v := range md {
			if _, ok := v.(string); !ok {
				return badParam("metadata."+k, "Invalid type for 'metadata.%s': expected a string, but got %s instead.", k, jsonKind(v))
			}
		}
	}
	if t, ok := m["text"].(map[string]any); ok {
		if e := validateResponsesText(t); e != nil {
			return e
		}
	}
	names := map[string]bool{}
	if tools, ok := m["tools"].([]any); ok {
		for i, raw := range tools {
			if e := validateResponsesTool(fmt.Sprintf("tools[%d]", i), raw, names); e != nil {
				return e
			}
		}
	}
	if e := validateResponsesToolChoice(m["tool_choice"], names); e != nil {
		return e
	}
	if items, ok := m["input"].([]any); ok {
		for i, raw := range items {
			if e := validateResponsesItem(fmt.Sprintf("input[%d]", i), raw); e != nil {
				return e
			}
		}
	}
	return nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "a value"
}

func validateResponsesText(t map[string]any) *respError {
	for k := range t {
		if k != "format" && k != "verbosity" {
			return &respError{status: 400, msg: "Unknown parameter: 'text." + k + "'.", param: "text." + k, code: "unknown_parameter"}
		}
	}
	if e := enumParam(t, "verbosity", "text.verbosity", "low", "medium", "high"); e != nil {
		return e
	}
	f, ok := t["format"].(map[string]any)
	if !ok {
		if t["format"] != nil {
			return badParam("text.format", "Invalid type for 'text.format': expected an object.")
		}
		return nil
	}
	switch f["type"] {
	case "text", "json_object":
	case "json_schema":
		if n, _ := f["name"].(string); n == "" {
			return &respError{status: 400, msg: "Missing required parameter: 'text.format.name'.", param: "text.format.name", code: "missing_required_parameter"}
		}
		if _, ok := f["schema"].(map[string]any); !ok {
			return &respError{status: 400, msg: "Missing required parameter: 'text.format.schema'.", param: "text.format.schema", code: "missing_required_parameter"}
		}
	default:
		return badParam("text.format.type", "Invalid value: '%v'. Supported values are: 'text', 'json_schema', and 'json_object'.", f["type"])
	}
	return nil
}

var responsesToolTypes = []string{
	"function", "namespace", "custom", "web_search", "web_search_preview", "web_search_2025_08_26",
	"file_search", "code_interpreter", "image_generation", "computer_use_preview", "local_shell", "shell",
	"apply_patch", "mcp",
}

// validateResponsesTool checks one entry of tools (a namespace's entries too) and collects
// function names for tool_choice.
func validateResponsesTool(param string, raw any, names map[string]bool) *respError {
	tool, ok := raw.(map[string]any)
	if !ok {
		return badParam(param, "Invalid type for '%s': expected an object, but got %s instead.", param, jsonKind(raw))
	}
	typ, _ := tool["type"].(string)
	allowed := map[string]bool{"type": true}
	switch typ {
	case "function":
		for _, k := range []string{"name", "description", "parameters", "strict", "defer_loading"} {
			allowed[k] = true
		}
		name, _ := tool["name"].(string)
		if name == "" {
			return &respError{status: 400, msg: "Missing required parameter: '" + param + ".name'.", param: param + ".name", code: "missing_required_parameter"}
		}
		if !toolNameRE.MatchString(name) || len(name) > 64 {
			return badParam(param+".name", "Invalid '%s.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.", param)
		}
		if p, ok := tool["parameters"]; ok && p != nil {
			schema, ok := p.(map[string]any)
			if !ok {
				return badParam(param+".parameters", "Invalid type for '%s.parameters': expected an object.", param)
			}
			if t, ok := schema["type"]; ok && t != "object" {
				return badParam(param+".parameters", "Invalid schema for function '%s': schema must be a JSON Schema of 'type: \"object\"', got 'type: \"%v\"'.", name, t)
			}
		}
		if v, ok := tool["strict"]; ok && v != nil {
			if _, ok := v.(bool); !ok {
				return badParam(param+".strict", "Invalid type for '%s.strict': expected a boolean.", param)
			}
		}
		names[name] = true
	case "namespace":
		for _, k := range []string{"name", "description", "tools"} {
			allowed[k] = true
		}
		if n, _ := tool["name"].(string); n == "" {
			return &respError{status: 400, msg: "Missing required parameter: '" + param + ".name'.", param: param + ".name", code: "missing_required_parameter"}
		}
		inner, ok := tool["tools"].([]any)
		if !ok {
			return &respError{status: 400, msg: "Missing required parameter: '" + param + ".tools'.", param: param + ".tools", code: "missing_required_parameter"}
		}
		for i, t := range inner {
			sub := fmt.Sprintf("%s.tools[%d]", param, i)
			if tm, ok := t.(map[string]any); !ok || tm["type"] != "function" {
				return badParam(sub+".type", "Invalid value: '%v'. Supported values are: 'function'.", lookup(t, "type"))
			}
			if e := validateResponsesTool(sub, t, names); e != nil {
				return e
			}
		}
	case "custom":
		for _, k := range []string{"name", "description", "format"} {
			allowed[k] = true
		}
		name, _ := tool["name"].(string)
		if name == "" {
			return &respError{status: 400, msg: "Missing required parameter: '" + param + ".name'.", param: param + ".name", code: "missing_required_parameter"}
		}
		names[name] = true
	case "web_search", "web_search_preview", "web_search_2025_08_26":
		for _, k := range []string{"search_context_size", "user_location", "filters", "external_web_access"} {
			allowed[k] = true
		}
		if v, ok := tool["external_web_access"]; ok {
			if _, ok := v.(bool); !ok {
				return badParam(param+".external_web_access", "Invalid type for '%s.external_web_access': expected a boolean.", param)
			}
		}
		if e := enumParam(tool, "search_context_size", param+".search_context_size", "low", "medium", "high"); e != nil {
			return e
		}
	case "file_search":
		for _, k := range []string{"vector_store_ids", "max_num_results", "ranking_options", "filters"} {
			allowed[k] = true
		}
		if _, ok := tool["vector_store_ids"].([]any); !ok {
			return &respError{status: 400, msg: "Missing required parameter: '" + param + ".vector_store_ids'.", param: param + ".vector_store_ids", code: "missing_required_parameter"}
		}
	case "":
		return &respError{status: 400, msg: "Missing required parameter: '" + param + ".type'.", param: param + ".type", code: "missing_required_parameter"}
	default:
		if !oneOf(typ, responsesToolTypes...) {
			return badParam(param+".type", "Invalid value: '%s'. Supported values are: %s.", typ, supported(responsesToolTypes))
		}
		return nil // the remaining built-in tools: their options are not checked
	}
	for k := range tool {
		if !allowed[k] {
			return &respError{status: 400, msg: "Unknown parameter: '" + param + "." + k + "'.", param: param + "." + k, code: "unknown_parameter"}
		}
	}
	return nil
}

func validateResponsesToolChoice(v any, names map[string]bool) *respError {
	switch c := v.(type) {
	case nil:
	case string:
		if !oneOf(c, "none", "auto", "required") {
			return badParam("tool_choice", "Invalid value: '%s'. Supported values are: 'none', 'auto', and 'required'.", c)
		}
	case map[string]any:
		switch c["type"] {
		case "function", "custom":
			name, _ := c["name"].(string)
			if !names[name] {
				return badParam("tool_choice", "Tool choice '%s' not found in 'tools' parameter.", name)
			}
		case "allowed_tools":
			if !oneOf(c["mode"], "auto", "required") {
				return badParam("tool_choice.mode", "Invalid value: '%v'. Supported values are: 'auto' and 'required'.", c["mode"])
			}
		case "web_search_preview", "web_search", "file_search", "code_interpreter", "image_generation", "computer_use_preview", "mcp":
		default:
			return badParam("tool_choice.type", "Invalid value: '%v'.", c["type"])
		}
	}
	return nil
}

var responsesItemTypes = []string{
	"message", "function_call", "function_call_output", "reasoning", "item_reference",
	"custom_tool_call", "custom_tool_call_output", "local_shell_call", "local_shell_call_output",
	"web_search_call", "file_search_call", "computer_call", "computer_call_output",
	"image_generation_call", "code_interpreter_call", "mcp_call", "mcp_list_tools",
	"mcp_approval_request", "mcp_approval_response", "compaction",
}

func missing(param string) *respError {
	return &respError{status: 400, msg: "Missing required parameter: '" + param + "'.", param: param, code: "missing_required_parameter"}
}

func needString(item map[string]any, param, key string) *respError {
	v, ok := item[key]
	if !ok {
		return missing(param + "." + key)
	}
	if _, ok := v.(string); !ok {
		return &respError{status: 400, msg: fmt.Sprintf("Invalid type for '%s.%s': expected a string, but got %s instead.", param, key, jsonKind(v)), param: param + "." + key, code: "invalid_type"}
	}
	return nil
}

// validateResponsesItem checks one input item.
func validateResponsesItem(param string, raw any) *respError {
	item, ok := raw.(map[string]any)
	if !ok {
		return badParam(param, "Invalid type for '%s': expected an object, but got %s instead.", param, jsonKind(raw))
	}
	typ, hasType := item["type"].(string)
	if !hasType {
		if _, ok := item["role"]; !ok {
			return missing(param + ".type")
		}
		typ = "message" // an easy input message: role and content
	}
	if v, ok := item["id"]; ok && v != nil {
		if _, ok := v.(string); !ok {
			return badParam(param+".id", "Invalid type for '%s.id': expected a string.", param)
		}
	}
	switch typ {
	case "message":
		role, _ := item["role"].(string)
		if !oneOf(role, "user", "assistant", "system", "developer") {
			return badParam(param+".role", "Invalid value: '%v'. Supported values are: 'assistant', 'system', 'developer', and 'user'.", item["role"])
		}
		if e := enumParam(item, "status", param+".status", "in_progress", "completed", "incomplete"); e != nil {
			return e
		}
		for k := range item {
			switch k {
			case "type", "role", "content", "id", "status", "phase":
			default:
				return &respError{status: 400, msg: "Unknown parameter: '" + param + "." + k + "'.", param: param + "." + k, code: "unknown_parameter"}
			}
		}
		switch c := item["content"].(type) {
		case string:
		case []any:
			for j, p := range c {
				if e := validateResponsesPart(fmt.Sprintf("%s.content[%d]", param, j), role, p); e != nil {
					return e
				}
			}
		case nil:
			return missing(param + ".content")
		default:
			return badParam(param+".content", "Invalid type for '%s.content': expected one of a string or array of objects, but got %s instead.", param, jsonKind(c))
		}
	case "function_call":
		for _, k := range []string{"call_id", "name", "arguments"} {
			if e := needString(item, param, k); e != nil {
				return e
			}
		}
	case "function_call_output", "custom_tool_call_output":
		if e := needString(item, param, "call_id"); e != nil {
			return e
		}
		switch o := item["output"].(type) {
		case string:
		case []any:
			for j, p := range o {
				if e := validateResponsesPart(fmt.Sprintf("%s.output[%d]", param, j), "user", p); e != nil {
					return e
				}
			}
		case nil:
			return missing(param + ".output")
		default:
			return badParam(param+".output", "Invalid type for '%s.output': expected one of a string or array of objects, but got %s instead.", param, jsonKind(o))
		}
	case "custom_tool_call":
		for _, k := range []string{"call_id", "name", "input"} {
			if e := needString(item, param, k); e != nil {
				return e
			}
		}
	case "reasoning":
		if _, ok := item["summary"].([]any); !ok {
			return missing(param + ".summary")
		}
	case "item_reference":
		if e := needString(item, param, "id"); e != nil {
			return e
		}
	case "local_shell_call_output":
		if e := needString(item, param, "id"); e != nil {
			return e
		}
	default:
		if !oneOf(typ, responsesItemTypes...) {
			return badParam(param+".type", "Invalid value: '%s'. Supported values are: %s.", typ, supported(responsesItemTypes))
		}
	}
	return nil
}

// validateResponsesPart checks one content part of a message (or of a tool output, as "user").
func validateResponsesPart(param, role string, raw any) *respError {
	p, ok := raw.(map[string]any)
	if !ok {
		return badParam(param, "Invalid type for '%s': expected an object, but got %s instead.", param, jsonKind(raw))
	}
	typ, _ := p["type"].(string)
	if role == "assistant" {
		switch typ {
		case "output_text":
			return needString(p, param, "text")
		case "refusal":
			return needString(p, param, "refusal")
		}
		return badParam(param+".type", "Invalid value: '%s'. Supported values are: 'output_text' and 'refusal'.", typ)
	}
	switch typ {
	case "input_text":
		return needString(p, param, "text")
	case "input_image":
		if p["image_url"] == nil && p["file_id"] == nil {
			return missing(param + ".image_url")
		}
		return enumParam(p, "detail", param+".detail", "low", "high", "auto")
	case "input_file":
		if p["file_id"] == nil && p["file_data"] == nil && p["file_url"] == nil {
			return missing(param + ".file_id")
		}
		return nil
	}
	return badParam(param+".type", "Invalid value: '%s'. Supported values are: 'input_text', 'input_image', and 'input_file'.", typ)
}

// itemText is the text of a message item (its string content or its text parts).
func itemText(item map[string]any) string {
	switch c := item["content"].(type) {
	case string:
		return c
	case []any:
		var parts []string
		for _, p := range c {
			if t, ok := lookup(p, "text").(string); ok {
				parts = append(parts, t)
			}
		}
		return strings.Join(parts, " ")
	}
	return ""
}

func (s *Server) serveResponses(w http.ResponseWriter, r *http.Request, rec *Received, path string) {
	rest := strings.TrimPrefix(strings.TrimPrefix(path, "/v1/responses"), "/")
	id, sub, _ := strings.Cut(rest, "/")
	var fail *respError
	var body map[string]any
	switch {
	case s.cfg.key != "" && r.Header.Get("Authorization") != "Bearer "+s.cfg.key:
		fail = &respError{status: 401, msg: "Incorrect API key provided.", code: "invalid_api_key"}
	case id == "" && r.Method != http.MethodPost,
		id != "" && sub == "" && r.Method != http.MethodGet && r.Method != http.MethodDelete,
		sub == "input_items" && r.Method != http.MethodGet,
		sub == "cancel" && r.Method != http.MethodPost:
		fail = &respError{status: 405, msg: "Method " + r.Method + " is not allowed for " + path + ".", code: "method_not_allowed"}
	case sub != "" && sub != "input_items" && sub != "cancel":
		fail = &respError{status: 404, msg: "Invalid URL (" + r.Method + " " + path + ")"}
	case id == "":
		var err error
		if body, err = decodeObject(rec.Body); err != nil {
			fail = &respError{status: 400, msg: "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)"}
			break
		}
		rec.Model, _ = body["model"].(string)
		rec.Stream, _ = body["stream"].(bool)
		fail = validateResponses(body)
		if fail == nil {
			fail = s.checkResponsesContext(body)
		}
	}
	if fail != nil {
		rec.Invalid = fail.msg
	}
	reply := s.record(rec)
	x := s.newExchange(w, r, reply)
	x.w.Header().Set("X-Request-Id", "req_fake_"+strconv.Itoa(rec.Seq))
	if fail != nil {
		x.body(fail.status, "application/json", fail.body())
		return
	}
	if reply.Status >= 400 && reply.Body == nil {
		msg := reply.Message
		if msg == "" {
			msg = http.StatusText(reply.Status)
		}
		x.body(reply.Status, "application/json", openAIError(reply.Status, "", msg))
		return
	}
	if reply.Body != nil && (!rec.Stream || reply.Chunks == nil) {
		x.body(http.StatusOK, "application/json", reply.Body)
		return
	}
	if id != "" {
		s.responsesByID(x, r.Method, id, sub)
		return
	}
	s.responsesCreate(x, rec, body)
}

// checkResponsesContext resolves previous_response_id and checks that every tool output
// answers a call made earlier in the conversation.
func (s *Server) checkResponsesContext(body map[string]any) *respError {
	ctx, err := s.responsesContext(body)
	if err != nil {
		return err
	}
	calls := map[string]bool{}
	for _, raw := range ctx {
		item, _ := raw.(map[string]any)
		switch item["type"] {
		case "function_call", "custom_tool_call", "local_shell_call", "computer_call":
			if c, ok := item["call_id"].(string); ok {
				calls[c] = true
			}
		case "function_call_output", "custom_tool_call_output", "computer_call_output":
			c, _ := item["call_id"].(string)
			if !calls[c] {
				return &respError{status: 400, msg: "No tool call found for function call output with call_id " + c + ".", param: "input"}
			}
		}
	}
	return nil
}

// responsesContext is the conversation a request continues: the stored chain of
// previous_response_id, then the request's own input.
func (s *Server) responsesContext(body map[string]any) ([]any, *respError) {
	var ctx []any
	if prev, ok := body["previous_response_id"].(string); ok {
		s.mu.Lock()
		st := s.stored[prev]
		if st != nil {
			ctx = append(ctx, st.context...)
		}
		s.mu.Unlock()
		if st == nil {
			return nil, &respError{status: 404, msg: "Previous response with id '" + prev + "' not found.", param: "previous_response_id", code: "previous_response_not_found"}
		}
	}
	switch in := body["input"].(type) {
	case string:
		ctx = append(ctx, map[string]any{"type": "message", "role": "user", "content": in})
	case []any:
		for _, raw := range in {
			item, _ := raw.(map[string]any)
			if _, ok := item["type"]; !ok {
				cp := map[string]any{"type": "message"}
				for k, v := range item {
					cp[k] = v
				}
				item = cp
			}
			ctx = append(ctx, item)
		}
	}
	return ctx, nil
}

func (s *Server) responsesByID(x *exchange, method, id, sub string) {
	s.mu.Lock()
	st := s.stored[id]
	var out []byte
	status := http.StatusOK
	switch {
	case st == nil:
	case sub == "input_items":
		q := x.r.URL.Query()
		items := append([]any(nil), st.input...)
		if q.Get("order") != "asc" {
			for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
				items[i], items[j] = items[j], items[i]
			}
		}
		if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 && n < len(items) {
			items = items[:n]
		}
		list := map[string]any{"object": "list", "data": items, "has_more": false, "first_id": nil, "last_id": nil}
		if len(items) > 0 {
			list["first_id"] = lookup(items[0], "id")
			list["last_id"] = lookup(items[len(items)-1], "id")
		}
		out = mustJSON(list)
	case sub == "cancel":
		if st.obj["background"] != true {
			status = http.StatusBadRequest
			out = (&respError{status: 400, msg: "Only responses created with background=true can be cancelled."}).body()
			break
		}
		st.obj["status"] = "cancelled"
		out = mustJSON(st.obj)
	case method == http.MethodDelete:
		delete(s.stored, id)
		out = mustJSON(map[string]any{"id": id, "object": "response.deleted", "deleted": true})
	default:
		if st.obj["status"] == "queued" {
			st.obj["status"] = "completed" // a background response is done when first looked at
		}
		out = mustJSON(st.obj)
	}
	s.mu.Unlock()
	if st == nil {
		x.body(http.StatusNotFound, "application/json", (&respError{status: 404, msg: "Response with id '" + id + "' not found.", param: "response_id"}).body())
		return
	}
	x.body(status, "application/json", out)
}

// responsesCreate answers a valid create request with a derived or scripted reply.
func (s *Server) responsesCreate(x *exchange, rec *Received, body map[string]any) {
	reply := &x.reply
	ctx, _ := s.responsesContext(body)
	seq := strconv.Itoa(rec.Seq)
	echo, promptWords := "", 0
	if ins, ok := body["instructions"].(string); ok {
		promptWords += words(ins)
	}
	for _, raw := range ctx {
		item, _ := raw.(map[string]any)
		t := itemText(item)
		if o, ok := item["output"].(string); ok {
			t = o
		}
		promptWords += words(t)
		if item["type"] == "message" && item["role"] == "user" {
			echo = t
		}
	}
	text := s.replyText(reply, echo)
	encrypted := false
	if inc, ok := body["include"].([]any); ok {
		for _, v := range inc {
			encrypted = encrypted || v == "reasoning.encrypted_content"
		}
	}
	var output []any
	if reply.Thinking != "" {
		rs := map[string]any{"id": "rs_fake_" + seq, "type": "reasoning",
			"summary": []any{map[string]any{"type": "summary_text", "text": reply.Thinking}}}
		if encrypted {
			rs["encrypted_content"] = "enc_fake_" + seq
		}
		output = append(output, rs)
	}
	if text != "" {
		output = append(output, map[string]any{"id": "msg_fake_" + seq, "type": "message", "status": "completed", "role": "assistant",
			"content": []any{map[string]any{"type": "output_text", "annotations": []any{}, "logprobs": []any{}, "text": text}}})
	}
	outWords := words(text)
	for i, c := range reply.ToolCalls {
		output = append(output, map[string]any{"id": "fc_fake_" + seq + "_" + strconv.Itoa(i), "type": "function_call", "status": "completed",
			"arguments": toolArgs(c), "call_id": toolCallID(c, rec.Seq, i), "name": c.Name})
		outWords += words(c.Name) + words(c.Arguments)
	}
	if output == nil {
		output = []any{}
	}
	reasoning := pick(reply.Usage.Reasoning, words(reply.Thinking))
	in := pick(reply.Usage.Input, promptWords)
	out := pick(reply.Usage.Output, outWords+reasoning)
	status := "completed"
	var incomplete any
	switch reply.FinishReason {
	case "max_output_tokens", "length", "content_filter":
		reason := reply.FinishReason
		if reason == "length" {
			reason = "max_output_tokens"
		}
		status, incomplete = "incomplete", map[string]any{"reason": reason}
	}
	obj := map[string]any{
		"id": "resp_fake_" + seq, "object": "response", "created_at": created, "status": status,
		"background": body["background"] == true, "error": nil, "incomplete_details": incomplete,
		"instructions": body["instructions"], "max_output_tokens": body["max_output_tokens"],
		"max_tool_calls": body["max_tool_calls"], "model": rec.Model, "output": output,
		"parallel_tool_calls": body["parallel_tool_calls"] != false, "previous_response_id": body["previous_response_id"],
		"prompt_cache_key": body["prompt_cache_key"], "reasoning": map[string]any{"effort": lookup(body, "reasoning", "effort"), "summary": lookup(body, "reasoning", "summary")},
		"safety_identifier": body["safety_identifier"], "service_tier": "default", "store": body["store"] != false,
		"temperature": orDefault(body["temperature"], 1.0), "text": orDefault(body["text"], map[string]any{"format": map[string]any{"type": "text"}, "verbosity": "medium"}),
		"tool_choice": orDefault(body["tool_choice"], "auto"), "tools": orDefault(body["tools"], []any{}), "top_logprobs": orDefault(body["top_logprobs"], 0),
		"top_p": orDefault(body["top_p"], 1.0), "truncation": orDefault(body["truncation"], "disabled"), "user": body["user"],
		"metadata": orDefault(body["metadata"], map[string]any{}),
		"usage": map[string]any{
			"input_tokens": in, "input_tokens_details": map[string]any{"cached_tokens": reply.Usage.CacheRead},
			"output_tokens": out, "output_tokens_details": map[string]any{"reasoning_tokens": reasoning},
			"total_tokens": in + out,
		},
	}
	if body["store"] != false {
		s.storeResponse(obj, body, ctx, output)
	}
	if !rec.Stream {
		if obj["background"] == true {
			q := copyMap(obj)
			q["status"], q["output"], q["usage"] = "queued", []any{}, nil
			x.body(http.StatusOK, "application/json", mustJSON(q))
			return
		}
		x.body(http.StatusOK, "application/json", mustJSON(obj))
		return
	}
	s.responsesStream(x, obj, output)
}

func orDefault(v, def any) any {
	if v == nil {
		return def
	}
	return v
}

func copyMap(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// storeResponse keeps obj with its input items (ids filled in) and its whole context.
func (s *Server) storeResponse(obj, body map[string]any, ctx, output []any) {
	var own []any
	n := 0
	if prev, ok := body["previous_response_id"].(string); ok {
		s.mu.Lock()
		if st := s.stored[prev]; st != nil {
			n = len(st.context)
		}
		s.mu.Unlock()
	}
	for i, raw := range ctx[n:] {
		item := copyMap(raw.(map[string]any))
		if _, ok := item["id"]; !ok {
			item["id"] = fmt.Sprintf("%s_in_%d", strings.Replace(obj["id"].(string), "resp_", "item_", 1), i)
		}
		own = append(own, item)
	}
	st := &storedResponse{obj: copyMap(obj), input: own, context: append(append([]any(nil), ctx...), output...)}
	if st.obj["background"] == true {
		st.obj["status"] = "queued"
	}
	s.mu.Lock()
	if s.stored == nil {
		s.stored = map[string]*storedResponse{}
	}
	s.stored[obj["id"].(string)] = st
	s.mu.Unlock()
}

// responsesStream writes the event sequence of the Responses API for obj.
func (s *Server) responsesStream(x *exchange, obj map[string]any, output []any) {
	if !x.begin(http.StatusOK, "text/event-stream; charset=utf-8") {
		return
	}
	seq := 0
	ev := func(v map[string]any) bool {
		v["sequence_number"] = seq
		seq++
		return x.chunk(responsesFrame(mustJSON(v)))
	}
	if x.reply.Chunks != nil {
		for _, c := range x.reply.Chunks {
			if !x.chunk(responsesFrame([]byte(c))) {
				return
			}
		}
		x.end(nil)
		return
	}
	start := copyMap(obj)
	start["status"], start["output"], start["usage"] = "in_progress", []any{}, nil
	if !ev(map[string]any{"type": "response.created", "response": start}) ||
		!ev(map[string]any{"type": "response.in_progress", "response": start}) {
		return
	}
	pieces := x.reply.Pieces
	for i, raw := range output {
		item := raw.(map[string]any)
		id := item["id"]
		var added map[string]any
		var middle []map[string]any
		switch item["type"] {
		case "reasoning":
			added = map[string]any{"id": id, "type": "reasoning", "summary": []any{}}
			text := lookup(item, "summary", 0, "text").(string)
			part := map[string]any{"type": "summary_text", "text": ""}
			middle = append(middle, map[string]any{"type": "response.reasoning_summary_part.added", "item_id": id, "output_index": i, "summary_index": 0, "part": part})
			for _, p := range split(text, pieces) {
				middle = append(middle, map[string]any{"type": "response.reasoning_summary_text.delta", "item_id": id, "output_index": i, "summary_index": 0, "delta": p})
			}
			middle = append(middle,
				map[string]any{"type": "response.reasoning_summary_text.done", "item_id": id, "output_index": i, "summary_index": 0, "text": text},
				map[string]any{"type": "response.reasoning_summary_part.done", "item_id": id, "output_index": i, "summary_index": 0, "part": map[string]any{"type": "summary_text", "text": text}})
		case "message":
			added = map[string]any{"id": id, "type": "message", "status": "in_progress", "role": "assistant", "content": []any{}}
			text := lookup(item, "content", 0, "text").(string)
			empty := map[string]any{"type": "output_text", "annotations": []any{}, "logprobs": []any{}, "text": ""}
			middle = append(middle, map[string]any{"type": "response.content_part.added", "item_id": id, "output_index": i, "content_index": 0, "part": empty})
			for _, p := range split(text, pieces) {
				middle = append(middle, map[string]any{"type": "response.output_text.delta", "item_id": id, "output_index": i, "content_index": 0, "delta": p, "logprobs": []any{}})
			}
			middle = append(middle,
				map[string]any{"type": "response.output_text.done", "item_id": id, "output_index": i, "content_index": 0, "text": text, "logprobs": []any{}},
				map[string]any{"type": "response.content_part.done", "item_id": id, "output_index": i, "content_index": 0, "part": lookup(item, "content", 0)})
		case "function_call":
			added = copyMap(item)
			added["status"], added["arguments"] = "in_progress", ""
			args := item["arguments"].(string)
			for _, p := range []string{args[:len(args)/2], args[len(args)/2:]} {
				middle = append(middle, map[string]any{"type": "response.function_call_arguments.delta", "item_id": id, "output_index": i, "delta": p})
			}
			middle = append(middle, map[string]any{"type": "response.function_call_arguments.done", "item_id": id, "output_index": i, "name": item["name"], "arguments": args})
		}
		if !ev(map[string]any{"type": "response.output_item.added", "output_index": i, "item": added}) {
			return
		}
		for _, m := range middle {
			if !ev(m) {
				return
			}
		}
		if !ev(map[string]any{"type": "response.output_item.done", "output_index": i, "item": item}) {
			return
		}
	}
	final := "response.completed"
	if obj["status"] == "incomplete" {
		final = "response.incomplete"
	}
	if !ev(map[string]any{"type": final, "response": obj}) {
		return
	}
	x.end(nil)
}

// responsesFrame is one SSE frame: the event line names the payload's type.
func responsesFrame(payload []byte) []byte {
	var head struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(payload, &head)
	b := make([]byte, 0, len(payload)+len(head.Type)+16)
	b = append(b, "event: "...)
	b = append(b, head.Type...)
	b = append(b, "\ndata: "...)
	b = append(b, payload...)
	return append(b, '\n', '\n')
}

// ResponsesFailedEvent is the JSON of a response.failed event, for Reply.Chunks.
func ResponsesFailedEvent(id, code, msg string, seq int) string {
	return string(mustJSON(map[string]any{"type": "response.failed", "sequence_number": seq, "response": map[string]any{
		"id": id, "object": "response", "created_at": created, "status": "failed", "output": []any{},
		"error": map[string]any{"code": code, "message": msg},
	}}))
}

// lookup walks a decoded JSON value by keys and indexes; nil when a step is missing.
func lookup(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}
