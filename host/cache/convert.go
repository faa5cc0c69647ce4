package cache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// ErrNotConvertible is returned when an entry cannot be served in the other
// shape (stream vs non-stream), e.g. an embeddings body asked for as a stream.
// The caller should treat the lookup as a miss.
var ErrNotConvertible = errors.New("cache: entry cannot be converted")

// contentPiece bounds the size of content deltas made from a non-stream answer;
// pieces end after whitespace where possible so paced replay reads naturally.
const contentPiece = 48

type toolCall struct {
	Index    *int   `json:"index,omitempty"`
	ID       string `json:"id,omitempty"`
	Type     string `json:"type,omitempty"`
	Function struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type chunkIn struct {
	ID                string `json:"id"`
	Object            string `json:"object"`
	Created           int64  `json:"created"`
	Model             string `json:"model"`
	SystemFingerprint string `json:"system_fingerprint"`
	Choices           []struct {
		Index int `json:"index"`
		Delta struct {
			Role      string     `json:"role"`
			Content   *string    `json:"content"`
			Refusal   *string    `json:"refusal"`
			ToolCalls []toolCall `json:"tool_calls"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage json.RawMessage `json:"usage"`
}

type message struct {
	Role      string     `json:"role"`
	Content   *string    `json:"content"`
	Refusal   *string    `json:"refusal"`
	ToolCalls []toolCall `json:"tool_calls,omitempty"`
}

type completionChoice struct {
	Index        int             `json:"index"`
	Message      message         `json:"message"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason *string         `json:"finish_reason"`
}

type completion struct {
	ID                string             `json:"id"`
	Object            string             `json:"object"`
	Created           int64              `json:"created"`
	Model             string             `json:"model"`
	Choices           []completionChoice `json:"choices"`
	Usage             json.RawMessage    `json:"usage,omitempty"`
	SystemFingerprint string             `json:"system_fingerprint,omitempty"`
}

var jsonNull = json.RawMessage("null")

// AsCompletion returns the answer as a non-stream chat.completion body. A
// non-stream entry returns its Body unchanged; a stream entry is assembled from
// its chunks: content and refusal concatenated, tool_calls merged by index,
// the last finish_reason, and the usage chunk (or Entry.Usage).
// Logprobs are not carried over.
func (e *Entry) AsCompletion() ([]byte, error) {
	if !e.Stream() {
		return e.Body, nil
	}
	a := assembly{out: completion{Object: "chat.completion", Model: e.Model}}
	if !e.Created.IsZero() {
		a.out.Created = e.Created.Unix()
	}
	for _, raw := range e.Chunks {
		if err := a.add(raw); err != nil {
			return nil, err
		}
	}
	if a.out.Usage == nil && e.Usage != (Usage{}) {
		a.out.Usage = usageJSON(e.Usage)
	}
	a.out.Choices = make([]completionChoice, len(a.choices))
	for i, c := range a.choices {
		a.out.Choices[i] = completionChoice{Index: i, Message: c.message(), Logprobs: jsonNull, FinishReason: c.finish}
	}
	return json.Marshal(a.out)
}

// assembly is a chat completion being assembled from stream chunks.
type assembly struct {
	out     completion
	choices []*choiceAcc
}

// choiceAcc is one choice of an assembly: its deltas so far.
type choiceAcc struct {
	role             string
	content, refusal []byte
	hasContent       bool
	hasRefusal       bool
	tools            []toolCall
	finish           *string
}

// add folds one chunk into the assembly: the last id, created, model, fingerprint and
// usage seen win (the first id), and each choice's delta is appended to its choice.
func (a *assembly) add(raw []byte) error {
	var ch chunkIn
	if err := json.Unmarshal(raw, &ch); err != nil {
		return fmt.Errorf("cache: assemble completion: %w", err)
	}
	if ch.Object != "" && ch.Object != "chat.completion.chunk" {
		return fmt.Errorf("%w: chunk object %q", ErrNotConvertible, ch.Object)
	}
	if a.out.ID == "" {
		a.out.ID = ch.ID
	}
	if ch.Created != 0 {
		a.out.Created = ch.Created
	}
	if ch.Model != "" {
		a.out.Model = ch.Model
	}
	if ch.SystemFingerprint != "" {
		a.out.SystemFingerprint = ch.SystemFingerprint
	}
	if len(ch.Usage) > 0 && !bytes.Equal(ch.Usage, jsonNull) {
		a.out.Usage = ch.Usage
	}
	for _, c := range ch.Choices {
		if c.Index < 0 || c.Index > 127 {
			return fmt.Errorf("%w: choice index %d", ErrNotConvertible, c.Index)
		}
		for len(a.choices) <= c.Index {
			a.choices = append(a.choices, &choiceAcc{})
		}
		acc := a.choices[c.Index]
		if c.Delta.Role != "" {
			acc.role = c.Delta.Role
		}
		if c.Delta.Content != nil {
			acc.hasContent = true
			acc.content = append(acc.content, *c.Delta.Content...)
		}
		if c.Delta.Refusal != nil {
			acc.hasRefusal = true
			acc.refusal = append(acc.refusal, *c.Delta.Refusal...)
		}
		if err := acc.addToolCalls(c.Delta.ToolCalls); err != nil {
			return err
		}
		if c.FinishReason != nil {
			acc.finish = c.FinishReason
		}
	}
	return nil
}

// addToolCalls merges tool call deltas by index: the id and type are set once, the name and
// arguments are concatenated.
func (acc *choiceAcc) addToolCalls(calls []toolCall) error {
	for _, tc := range calls {
		idx := 0
		if tc.Index != nil {
			idx = *tc.Index
		}
		if idx < 0 || idx > 1023 {
			return fmt.Errorf("%w: tool call index %d", ErrNotConvertible, idx)
		}
		for len(acc.tools) <= idx {
			acc.tools = append(acc.tools, toolCall{})
		}
		t := &acc.tools[idx]
		if tc.ID != "" {
			t.ID = tc.ID
		}
		if tc.Type != "" {
			t.Type = tc.Type
		}
		t.Function.Name += tc.Function.Name
		t.Function.Arguments += tc.Function.Arguments
	}
	return nil
}

// message is the assembled choice's message: role assistant unless one was sent, content
// and refusal present only when some delta carried them, tool calls typed "function" when
// no type was sent.
func (acc *choiceAcc) message() message {
	m := message{Role: acc.role}
	if m.Role == "" {
		m.Role = "assistant"
	}
	if acc.hasContent {
		s := string(acc.content)
		m.Content = &s
	}
	if acc.hasRefusal {
		s := string(acc.refusal)
		m.Refusal = &s
	}
	for j := range acc.tools {
		if acc.tools[j].Type == "" {
			acc.tools[j].Type = "function"
		}
	}
	m.ToolCalls = acc.tools
	return m
}

func usageJSON(u Usage) json.RawMessage {
	b, _ := json.Marshal(struct {
		P int64 `json:"prompt_tokens"`
		C int64 `json:"completion_tokens"`
		T int64 `json:"total_tokens"`
	}{u.PromptTokens, u.CompletionTokens, u.TotalTokens})
	return b
}

type delta struct {
	Role      string     `json:"role,omitempty"`
	Content   *string    `json:"content,omitempty"`
	Refusal   *string    `json:"refusal,omitempty"`
	ToolCalls []toolCall `json:"tool_calls,omitempty"`
}

type chunkChoice struct {
	Index        int             `json:"index"`
	Delta        delta           `json:"delta"`
	Logprobs     json.RawMessage `json:"logprobs"`
	FinishReason *string         `json:"finish_reason"`
}

type chunkOut struct {
	ID                string          `json:"id"`
	Object            string          `json:"object"`
	Created           int64           `json:"created"`
	Model             string          `json:"model"`
	SystemFingerprint string          `json:"system_fingerprint,omitempty"`
	Choices           []chunkChoice   `json:"choices"`
	Usage             json.RawMessage `json:"usage,omitempty"`
}

// AsChunks returns the answer as chat.completion.chunk payloads for an SSE
// replay (without [DONE]). A stream entry returns its chunks byte for byte,
// minus a usage-only chunk when includeUsage is false (plus one made from
// Entry.Usage when includeUsage is true and the stream had none). A non-stream
// entry is split per choice into a role chunk, content chunks, tool_calls
// chunks (header, then arguments) and a finish chunk, then a usage chunk when
// includeUsage and the usage is known.
func (e *Entry) AsChunks(includeUsage bool) ([][]byte, error) {
	if e.Stream() {
		return e.replayChunks(includeUsage)
	}
	var c completion
	if err := json.Unmarshal(e.Body, &c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotConvertible, err)
	}
	if c.Object != "chat.completion" {
		return nil, fmt.Errorf("%w: object %q", ErrNotConvertible, c.Object)
	}
	s := splitter{c: &c}
	for _, ch := range c.Choices {
		if err := s.choice(ch); err != nil {
			return nil, err
		}
	}
	if includeUsage {
		u := c.Usage
		if (len(u) == 0 || bytes.Equal(u, jsonNull)) && e.Usage != (Usage{}) {
			u = usageJSON(e.Usage)
		}
		// Unknown usage is left out rather than reported as zero tokens.
		if len(u) > 0 && !bytes.Equal(u, jsonNull) {
			if err := s.emit(nil, u); err != nil {
				return nil, err
			}
		}
	}
	return s.out, nil
}

// splitter cuts a chat completion into stream chunks that carry its id, created, model and
// fingerprint.
type splitter struct {
	c   *completion
	out [][]byte
}

// emit appends a chunk with these choices (none: []) and usage.
func (s *splitter) emit(choices []chunkChoice, usage json.RawMessage) error {
	if choices == nil {
		choices = []chunkChoice{}
	}
	b, err := json.Marshal(chunkOut{ID: s.c.ID, Object: "chat.completion.chunk", Created: s.c.Created,
		Model: s.c.Model, SystemFingerprint: s.c.SystemFingerprint, Choices: choices, Usage: usage})
	s.out = append(s.out, b)
	return err
}

// one appends a chunk with one choice's delta.
func (s *splitter) one(idx int, d delta, finish *string) error {
	return s.emit([]chunkChoice{{Index: idx, Delta: d, Logprobs: jsonNull, FinishReason: finish}}, nil)
}

// choice appends one choice's chunks: the role, the content in pieces, the refusal, each
// tool call (header, then arguments), and the finish reason (stop when there was none).
func (s *splitter) choice(ch completionChoice) error {
	role := ch.Message.Role
	if role == "" {
		role = "assistant"
	}
	// Like OpenAI: the role chunk opens content with "" unless the answer
	// has none (tool calls only), which keeps a null content null.
	head := delta{Role: role}
	if ch.Message.Content != nil {
		head.Content = new(string)
	}
	if err := s.one(ch.Index, head, nil); err != nil {
		return err
	}
	if ch.Message.Content != nil {
		for _, p := range splitText(*ch.Message.Content, contentPiece) {
			if err := s.one(ch.Index, delta{Content: &p}, nil); err != nil {
				return err
			}
		}
	}
	if ch.Message.Refusal != nil {
		r := *ch.Message.Refusal
		if err := s.one(ch.Index, delta{Refusal: &r}, nil); err != nil {
			return err
		}
	}
	for i, tc := range ch.Message.ToolCalls {
		idx := i
		head := toolCall{Index: &idx, ID: tc.ID, Type: tc.Type}
		head.Function.Name = tc.Function.Name
		if err := s.one(ch.Index, delta{ToolCalls: []toolCall{head}}, nil); err != nil {
			return err
		}
		if tc.Function.Arguments != "" {
			args := toolCall{Index: &idx}
			args.Function.Arguments = tc.Function.Arguments
			if err := s.one(ch.Index, delta{ToolCalls: []toolCall{args}}, nil); err != nil {
				return err
			}
		}
	}
	finish := ch.FinishReason
	if finish == nil {
		stop := "stop"
		finish = &stop
	}
	return s.one(ch.Index, delta{}, finish)
}

// replayChunks returns the stored chunks, adjusting only the usage-only chunk.
func (e *Entry) replayChunks(includeUsage bool) ([][]byte, error) {
	usageAt := -1
	for i, c := range e.Chunks {
		if !bytes.Contains(c, []byte(`"usage"`)) {
			continue
		}
		var probe struct {
			Choices []json.RawMessage `json:"choices"`
			Usage   json.RawMessage   `json:"usage"`
		}
		if json.Unmarshal(c, &probe) == nil && len(probe.Choices) == 0 &&
			len(probe.Usage) > 0 && !bytes.Equal(probe.Usage, jsonNull) {
			usageAt = i
		}
	}
	switch {
	case !includeUsage && usageAt >= 0:
		out := make([][]byte, 0, len(e.Chunks)-1)
		out = append(out, e.Chunks[:usageAt]...)
		return append(out, e.Chunks[usageAt+1:]...), nil
	case includeUsage && usageAt < 0 && e.Usage != (Usage{}) && len(e.Chunks) > 0:
		var head chunkIn
		if err := json.Unmarshal(e.Chunks[0], &head); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotConvertible, err)
		}
		b, err := json.Marshal(chunkOut{ID: head.ID, Object: "chat.completion.chunk", Created: head.Created,
			Model: head.Model, SystemFingerprint: head.SystemFingerprint, Choices: []chunkChoice{}, Usage: usageJSON(e.Usage)})
		if err != nil {
			return nil, err
		}
		out := make([][]byte, 0, len(e.Chunks)+1)
		out = append(out, e.Chunks...)
		return append(out, b), nil
	}
	return e.Chunks, nil
}

// splitText cuts s into pieces of at most max bytes (longer only for a single
// rune), preferring cuts just after whitespace and never inside a rune.
func splitText(s string, max int) []string {
	if s == "" {
		return nil
	}
	var out []string
	for len(s) > max {
		cut := -1
		for i, r := range s {
			if i > max {
				break
			}
			if i > 0 && unicode.IsSpace(r) && i+utf8.RuneLen(r) <= max {
				cut = i + utf8.RuneLen(r)
			}
		}
		if cut <= 0 {
			cut = max
			for cut > 0 && !utf8.RuneStart(s[cut]) {
				cut--
			}
			if cut == 0 {
				_, cut = utf8.DecodeRuneInString(s)
			}
		}
		out = append(out, s[:cut])
		s = s[cut:]
	}
	return append(out, s)
}
