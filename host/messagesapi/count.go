package messagesapi

import (
	"unicode/utf8"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// The fixed costs of the count_tokens estimate, in tokens.
const (
	// charsPerToken is the usual rule of thumb for English text and code.
	charsPerToken = 4
	// imageTokens is Anthropic's cost of an image at its largest unscaled size (about 1.15
	// megapixels at width*height/750); images are not decoded to measure them.
	imageTokens = 1600
	// pdfPageTokens and pdfPageBytes: Anthropic counts each PDF page as its text plus an image
	// of the page, typically 1,500 to 3,000 tokens; pages are guessed from the file's size.
	pdfPageTokens = 2000
	pdfPageBytes  = 50 << 10
	// messageTokens is the framing of each message (role and separators).
	messageTokens = 4
	// toolsTokens is the system prompt that tool use adds (Anthropic documents 300 to 350
	// tokens for recent models); toolTokens frames each definition.
	toolsTokens = 346
	toolTokens  = 8
)

// CountTokens estimates the input tokens of an Anthropic Messages (or count_tokens) request for
// a target that cannot count them itself: the request is converted as ToOpenAI converts it, and
// its text is counted at about four characters a token, images at a fixed cost (imageTokens),
// PDFs by their size (pdfPageTokens per pdfPageBytes), tools by their names, descriptions and
// schemas plus the tool-use system prompt. It is an estimate: the gateway says so in the
// x-sluice-token-count: estimate header. Requests ToOpenAI refuses, or cannot bridge
// (Converted.Refusal), are refused alike.
func CountTokens(body []byte) (inputTokens int64, err error) {
	conv, err := ToOpenAI(body)
	if err == nil {
		err = conv.Refusal
	}
	if err != nil {
		return 0, err
	}
	req, err := jsonx.Parse(conv.Body)
	if err != nil {
		return 0, err // ToOpenAI writes valid JSON; kept for safety
	}
	var chars, fixed int64
	text := func(v jsonx.Value) {
		if v.IsString() {
			chars += int64(utf8.RuneCount(v.AppendStr(nil)))
		}
	}
	for _, m := range req.Get("messages").Elems() {
		fixed += messageTokens
		content := m.Get("content")
		text(content)
		for _, p := range content.Elems() {
			switch t := p.Get("type"); {
			case t.Is("text"):
				text(p.Get("text"))
			case t.Is("image_url"):
				fixed += imageTokens
			case t.Is("file"):
				fixed += pdfTokens(p.Get("file", "file_data").Str())
			}
		}
		text(m.Get("reasoning_content"))
		for _, tc := range m.Get("tool_calls").Elems() {
			text(tc.Get("function", "name"))
			text(tc.Get("function", "arguments"))
		}
	}
	if tools := req.Get("tools"); tools.Len() > 0 {
		fixed += toolsTokens
		for _, t := range tools.Elems() {
			fn := t.Get("function")
			fixed += toolTokens
			text(fn.Get("name"))
			text(fn.Get("description"))
			chars += int64(len(compact(fn.Get("parameters"))))
		}
	}
	return fixed + (chars+charsPerToken-1)/charsPerToken, nil
}

// pdfTokens estimates a base64 data URI's PDF from its decoded size.
func pdfTokens(dataURI string) int64 {
	n := int64(len(dataURI)) * 3 / 4
	pages := max((n+pdfPageBytes-1)/pdfPageBytes, 1)
	return pages * pdfPageTokens
}
