package xlate

import "github.com/sluice-gw/sluice/sdk/jsonx"

// AnswerTool is the name of the tool a translator adds for structured output on a provider
// without a JSON mode: the request forces a call to it, whose input schema is the answer's,
// and the response turns that call back into the message content. Client tools of this name
// are refused.
const AnswerTool = "sluice_json_answer"

// answerDescription tells the model what the answer tool is for.
const answerDescription = "Respond to the user with this tool: its input is your whole answer, as the JSON the schema describes."

// FormatKind is an OpenAI response_format type.
type FormatKind int

// The response_format types.
const (
	FormatText FormatKind = iota
	FormatJSONObject
	FormatJSONSchema
)

// Format is a parsed response_format.
type Format struct {
	Kind   FormatKind
	Name   string
	Schema jsonx.Value // json_schema's schema (an object)
}

// ReadResponseFormat reads response_format; an unknown type or a json_schema without an object
// schema is a 400 prefixed with provider.
func ReadResponseFormat(rf jsonx.Value, provider string) (Format, error) {
	if !rf.Exists() || rf.IsNull() {
		return Format{}, nil
	}
	switch t := rf.Get("type"); {
	case t.Is("text"):
		return Format{}, nil
	case t.Is("json_object"):
		return Format{Kind: FormatJSONObject}, nil
	case t.Is("json_schema"):
		js := rf.Get("json_schema")
		s := js.Get("schema")
		if !s.IsObject() {
			return Format{}, BadRequest("invalid_request", "%s: response_format.json_schema.schema must be a JSON Schema object", provider)
		}
		return Format{Kind: FormatJSONSchema, Name: js.Get("name").Str(), Schema: s}, nil
	default:
		return Format{}, BadRequest("invalid_request", "%s: unsupported response_format type %s", provider, t.Raw())
	}
}

// WriteAnswerSchema writes the answer tool's input schema: the json_schema's, or any object for
// json_object. A forced tool's input is an object, so a schema whose root type is something
// else is a 400 prefixed with provider.
func (f Format) WriteAnswerSchema(w *jsonx.Writer, provider string) error {
	if f.Kind == FormatJSONObject {
		w.Raw([]byte(`{"type":"object"}`))
		return nil
	}
	if t := f.Schema.Get("type"); t.Exists() && !t.Is("object") {
		return BadRequest("unsupported_parameter", "%s: response_format.json_schema.schema must describe an object (its root type is %s)", provider, t.Raw())
	}
	w.Value(f.Schema)
	return nil
}

// WriteAnswerName writes the answer tool's name and description members.
func WriteAnswerName(w *jsonx.Writer) {
	w.Key("name")
	w.String(AnswerTool)
	w.Key("description")
	w.String(answerDescription)
}

// AnswerChoice is how a request that carries the answer tool chooses tools: forced to the answer
// tool when the client sent no tools, else "any" tool (the client's or the answer), which
// keeps a tool loop possible. A client tool_choice that forbids tools or forces one function
// cannot be kept and is a 400 prefixed with provider.
func AnswerChoice(clientTools bool, tc ToolChoice, provider string) (forceAnswer bool, err error) {
	if !clientTools {
		return true, nil
	}
	switch tc {
	case ChoiceNone, ChoiceFunction:
		return false, BadRequest("unsupported_parameter", "%s: response_format with tool_choice \"none\" or a named function is not supported (structured output is a forced tool here)", provider)
	}
	return false, nil
}

// CheckToolName refuses a client tool named like the answer tool.
func CheckToolName(name jsonx.Value, provider string) error {
	if name.Is(AnswerTool) {
		return BadRequest("invalid_request", "%s: the tool name %s is reserved", provider, AnswerTool)
	}
	return nil
}

// AppendEscaped appends raw JSON text escaped as the inside of a JSON string, for content
// written with StringRaw (the answer tool's input becomes the message's text).
func AppendEscaped(dst, raw []byte) []byte {
	q := jsonx.AppendString(nil, string(raw))
	return append(dst, q[1:len(q)-1]...)
}
