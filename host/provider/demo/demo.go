// Package demo is the built-in `demo` provider: an OpenAI-compatible model that answers inside
// the process (echo and lorem), streaming included, so every gateway feature can be tried with
// no key and no network. It plugs in as an http.RoundTripper, so demo calls take exactly the
// path real upstream calls take.
package demo

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// MaxOutput caps the tokens (words) of any demo answer, whatever max_tokens asks for: the demo
// runs inside the gateway, so its output must never be sized by the client. An answer cut at
// the cap ends with finish_reason "length", as a real model's would.
const MaxOutput = 4096

// Transport answers OpenAI API calls locally.
type Transport struct {
	// ChunkDelay paces stream chunks so streaming is visible in a terminal.
	ChunkDelay time.Duration
	seq        atomic.Uint64
}

type message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type request struct {
	Model         string          `json:"model"`
	Messages      []message       `json:"messages"`
	Prompt        json.RawMessage `json:"prompt"`
	Input         json.RawMessage `json:"input"`
	Stream        bool            `json:"stream"`
	MaxTokens     int             `json:"max_tokens"`
	MaxCompletion int             `json:"max_completion_tokens"`
	Dimensions    int             `json:"dimensions"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("demo: reading request: %w", err)
	}
	var r request
	if err := json.Unmarshal(body, &r); err != nil {
		return reply(req, 400, errorJSON("invalid JSON body: "+err.Error())), nil
	}
	id := fmt.Sprintf("demo-%d", t.seq.Add(1))
	switch {
	case strings.HasSuffix(req.URL.Path, "/chat/completions"):
		text, finish := answer(r.Model, lastUser(r.Messages), max(r.MaxTokens, r.MaxCompletion))
		prompt := 0
		for _, m := range r.Messages {
			prompt += words(contentText(m.Content)) + 3
		}
		if r.Stream {
			return t.stream(req, id, r, text, finish, prompt), nil
		}
		return reply(req, 200, completion(id, r.Model, text, finish, prompt)), nil
	case strings.HasSuffix(req.URL.Path, "/completions"):
		text, finish := answer(r.Model, rawText(r.Prompt), max(r.MaxTokens, r.MaxCompletion))
		out := fmt.Sprintf(`{"id":%q,"object":"text_completion","created":%d,"model":%s,"choices":[{"index":0,"text":%s,"finish_reason":%q,"logprobs":null}],"usage":%s}`,
			id, time.Now().Unix(), quote(r.Model), quote(text), finish, usage(words(rawText(r.Prompt)), words(text)))
		return reply(req, 200, []byte(out)), nil
	case strings.HasSuffix(req.URL.Path, "/embeddings"):
		return reply(req, 200, embeddings(r)), nil
	}
	return reply(req, 404, errorJSON("the demo provider does not serve "+req.URL.Path)), nil
}

// answer is the model's text and finish reason: "length" when max_tokens or MaxOutput cut it.
func answer(model, prompt string, maxTokens int) (string, string) {
	limit, finish := MaxOutput, "length"
	if maxTokens > 0 && maxTokens <= MaxOutput {
		limit = maxTokens
	}
	switch model {
	case "lorem":
		n := 40
		if maxTokens > 0 {
			n = min(maxTokens, MaxOutput)
		}
		if maxTokens <= MaxOutput {
			finish = "stop"
		}
		var b strings.Builder
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(lorem[i%len(lorem)])
		}
		return b.String(), finish
	default:
		text := "You said: " + prompt
		// Count words without splitting the whole prompt: it may be as large as the body limit.
		end, n := 0, 0
		for f := range strings.FieldsSeq(text) {
			if n == limit {
				return strings.TrimRight(text[:end], " \t\r\n"), finish
			}
			n++
			end = strings.Index(text[end:], f) + end + len(f)
		}
		return text, "stop"
	}
}

var lorem = strings.Fields("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua")

func lastUser(ms []message) string {
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Role == "user" {
			return contentText(ms[i].Content)
		}
	}
	return ""
}

// contentText flattens a string or an array of content parts to its text.
func contentText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) == nil {
		var b strings.Builder
		for _, p := range parts {
			if p.Type == "text" {
				b.WriteString(p.Text)
			}
		}
		return b.String()
	}
	return ""
}

func rawText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var ss []string
	if json.Unmarshal(raw, &ss) == nil {
		return strings.Join(ss, " ")
	}
	return ""
}

func words(s string) int { return len(strings.Fields(s)) }

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

func usage(prompt, completion int) string {
	return fmt.Sprintf(`{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}`, prompt, completion, prompt+completion)
}

func completion(id, model, text, finish string, prompt int) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"object":"chat.completion","created":%d,"model":%s,"choices":[{"index":0,"message":{"role":"assistant","content":%s},"finish_reason":%q,"logprobs":null}],"usage":%s}`,
		id, time.Now().Unix(), quote(model), quote(text), finish, usage(prompt, words(text))))
}

func (t *Transport) stream(req *http.Request, id string, r request, text, finish string, prompt int) *http.Response {
	pr, pw := io.Pipe()
	ctx := req.Context()
	go func() {
		created := time.Now().Unix()
		chunk := func(delta, finish string, u string) error {
			fin := "null"
			if finish != "" {
				fin = strconv.Quote(finish)
			}
			choices := fmt.Sprintf(`[{"index":0,"delta":%s,"finish_reason":%s,"logprobs":null}]`, delta, fin)
			if u != "" {
				choices = "[]"
			}
			ub := ""
			if r.StreamOptions != nil && r.StreamOptions.IncludeUsage {
				ub = `,"usage":null`
				if u != "" {
					ub = `,"usage":` + u
				}
			}
			_, err := fmt.Fprintf(pw, "data: {\"id\":%q,\"object\":\"chat.completion.chunk\",\"created\":%d,\"model\":%s,\"choices\":%s%s}\n\n", id, created, quote(r.Model), choices, ub)
			return err
		}
		fail := func(err error) { pw.CloseWithError(err) }
		if err := chunk(`{"role":"assistant","content":""}`, "", ""); err != nil {
			fail(err)
			return
		}
		ws := strings.SplitAfter(text, " ")
		for _, w := range ws {
			if t.ChunkDelay > 0 {
				select {
				case <-time.After(t.ChunkDelay):
				case <-ctx.Done():
					fail(ctx.Err())
					return
				}
			}
			if err := chunk(`{"content":`+quote(w)+`}`, "", ""); err != nil {
				fail(err)
				return
			}
		}
		if err := chunk(`{}`, finish, ""); err != nil {
			fail(err)
			return
		}
		if r.StreamOptions != nil && r.StreamOptions.IncludeUsage {
			if err := chunk("", "", usage(prompt, words(text))); err != nil {
				fail(err)
				return
			}
		}
		io.WriteString(pw, "data: [DONE]\n\n")
		pw.Close()
	}()
	resp := reply(req, 200, nil)
	resp.Header.Set("Content-Type", "text/event-stream")
	resp.Body = pr
	resp.ContentLength = -1
	return resp
}

func embeddings(r request) []byte {
	var inputs []string
	var s string
	if json.Unmarshal(r.Input, &s) == nil {
		inputs = []string{s}
	} else {
		_ = json.Unmarshal(r.Input, &inputs)
	}
	dim := r.Dimensions
	if dim <= 0 || dim > 3072 {
		dim = 16
	}
	var b bytes.Buffer
	b.WriteString(`{"object":"list","data":[`)
	total := 0
	for i, in := range inputs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"object":"embedding","index":%d,"embedding":[`, i)
		vec := vector(in, dim)
		for j, v := range vec {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatFloat(v, 'f', 6, 64))
		}
		b.WriteString("]}")
		total += words(in)
	}
	fmt.Fprintf(&b, `],"model":%s,"usage":{"prompt_tokens":%d,"total_tokens":%d}}`, quote(r.Model), total, total)
	return b.Bytes()
}

// vector is a deterministic unit vector derived from the text.
func vector(s string, dim int) []float64 {
	out := make([]float64, dim)
	var norm float64
	for i := range out {
		h := sha256.Sum256([]byte(strconv.Itoa(i) + "\x00" + s))
		v := float64(int32(binary.LittleEndian.Uint32(h[:4]))) / math.MaxInt32
		out[i] = v
		norm += v * v
	}
	norm = math.Sqrt(norm)
	for i := range out {
		out[i] /= norm
	}
	return out
}

func errorJSON(msg string) []byte {
	return []byte(`{"error":{"message":` + quote(msg) + `,"type":"invalid_request_error","param":null,"code":null}}`)
}

func reply(req *http.Request, status int, body []byte) *http.Response {
	return &http.Response{
		StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"application/json"}},
		Body:    io.NopCloser(bytes.NewReader(body)),
		Request: req, ContentLength: int64(len(body)),
	}
}
