package xlate

import "github.com/sluice-gw/sluice/sdk/jsonx"

// FilePart is a chat file content part's data: {"type":"file","file":{"file_data":
// "data:<media type>;base64,...","filename":...}}.
type FilePart struct {
	DataURI
	Filename string
}

// ReadFilePart reads the file member of messages[i]'s file part. A file_id names a file in
// OpenAI's Files API, which no other provider can read (and the gateway keeps no files): a 400
// saying to send file_data. So is anything but a base64 data URI.
func ReadFilePart(file jsonx.Value, i int, provider string) (FilePart, error) {
	var f [3]jsonx.Value
	file.Fields(f[:], "file_data", "filename", "file_id")
	if !f[0].Exists() && f[2].Exists() && !f[2].IsNull() {
		return FilePart{}, BadRequest("unsupported_parameter",
			"%s: messages[%d]: parameter file.file_id is not supported: uploaded files cannot be read from this provider; send the file inline as file.file_data (a base64 data URI)", provider, i)
	}
	d, ok := ParseDataURI(f[0].Str())
	if !ok {
		return FilePart{}, BadRequest("invalid_request", "%s: messages[%d]: file.file_data must be a base64 data URI (data:<media type>;base64,...)", provider, i)
	}
	return FilePart{DataURI: d, Filename: f[1].Str()}, nil
}

// TextOnly refuses a content array of messages[i] holding parts other than text (and
// refusal): where a provider takes only text (system prompts, some tool results, assistant
// turns), another part would otherwise be dropped in silence. what names the message kind.
func TextOnly(content jsonx.Value, i int, what, provider string) error {
	if !content.IsArray() {
		return nil
	}
	for _, p := range content.Elems() {
		if t := p.Get("type"); !t.Is("text") && !t.Is("refusal") {
			return BadRequest("unsupported_content", "%s: messages[%d]: %s content part type %s is not supported", provider, i, what, t.Raw())
		}
	}
	return nil
}
