package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/sluice-gw/sluice/host/messagesapi"
	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// bedrockAnthropicVersion is the version InvokeModel wants in the body of Anthropic models.
const bedrockAnthropicVersion = "bedrock-2023-05-31"

// bedrockMessagesBody turns a Messages request into InvokeModel's body for an Anthropic model:
// the model goes in the path, the stream choice in the operation, the version and beta
// features in the body; everything else passes as the client sent it.
func bedrockMessagesBody(body []byte, beta []string) ([]byte, error) {
	for _, k := range []string{"model", "stream"} {
		r, err := openai.ParseRequest(body)
		if err != nil {
			return nil, err
		}
		body = r.Delete(k)
	}
	r, err := openai.ParseRequest(body)
	if err != nil {
		return nil, err
	}
	edits := []openai.Edit{{Key: "anthropic_version", Raw: []byte(`"` + bedrockAnthropicVersion + `"`)}}
	if len(beta) > 0 && !r.Has("anthropic_beta") {
		w := jsonx.NewWriter(nil)
		w.ArrayStart()
		for _, b := range beta {
			w.String(b)
		}
		w.ArrayEnd()
		edits = append(edits, openai.Edit{Key: "anthropic_beta", Raw: w.Bytes()})
	}
	return r.With(edits...), nil
}

func betaList(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, b := range strings.Split(v, ",") {
			if b = strings.TrimSpace(b); b != "" {
				out = append(out, b)
			}
		}
	}
	return out
}

// doBedrockMessages sends a Messages request to Bedrock's InvokeModel. A stream's event-stream
// chunks carry Anthropic's own events base64-encoded; they are relayed as SSE events named by
// their type. Bedrock's error bodies become Anthropic-shaped ones.
func (p *Provider) doBedrockMessages(ctx context.Context, r *NativeRequest) (*Response, error) {
	beta := betaList(r.Header.Values("Anthropic-Beta"))
	body, err := bedrockMessagesBody(r.Body, beta)
	if err != nil {
		return nil, p.fail(FailTranslate, "building the InvokeModel body: %w", err)
	}
	h := r.Header.Clone()
	h.Del("Anthropic-Version")
	h.Del("Anthropic-Beta")
	if r.Stream {
		// Set before signing: Accept is one of the signed headers.
		h.Set("Accept", "application/vnd.amazon.eventstream")
	}
	req, err := p.newRequest(ctx, "POST", p.nativeURL(r), body, &Request{Stream: r.Stream, Header: h, ClientKey: r.ClientKey})
	if err != nil {
		return nil, err
	}
	resp, err := p.send(req, r.Stream)
	if err != nil {
		return nil, err
	}
	out := &Response{Status: resp.StatusCode, Header: relayHeaders(resp.Header)}
	if resp.StatusCode/100 == 2 && r.Stream && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/vnd.amazon.eventstream") {
		ir := newIdleReader(resp.Body, p.IdleTimeout)
		out.Events = &bedrockEvents{p: p, body: ir, dec: eventstream.NewDecoder()}
		return out, nil
	}
	b, err := readAll(p, resp.Body, resp.ContentLength)
	if err != nil {
		return nil, err
	}
	out.Body = b
	if resp.StatusCode >= 400 {
		// Bedrock spells it "message"; errors from AWS's own front (IAM) say "Message".
		msg := jsonx.Get(b, "message").Str()
		if msg == "" {
			msg = jsonx.Get(b, "Message").Str()
		}
		out.Body = anthropicError(resp.StatusCode, msg, b)
	}
	return out, nil
}

// anthropicError is Anthropic's error body for an upstream that answered in another shape,
// typed the way Anthropic types its statuses.
func anthropicError(status int, msg string, raw []byte) []byte {
	if msg == "" {
		msg = snippet(raw)
	}
	return messagesapi.ErrorBody(status, "", msg)
}

// bedrockEvents yields the Anthropic events inside an InvokeModel response stream.
type bedrockEvents struct {
	p    *Provider
	body *idleReader
	dec  *eventstream.Decoder
	buf  []byte
	out  []byte
}

func (s *bedrockEvents) NextEvent() (string, []byte, error) {
	for {
		msg, err := s.dec.Decode(s.body, s.buf)
		if err == io.EOF {
			return "", nil, io.EOF
		}
		if err != nil {
			return "", nil, s.p.streamErr(err)
		}
		s.buf = msg.Payload[:0]
		name, exception := "", false
		for _, h := range msg.Headers {
			switch h.Name {
			case ":event-type":
				name = h.Value.String()
			case ":exception-type":
				name, exception = h.Value.String(), true
			case ":message-type":
				if v := h.Value.String(); v == "exception" || v == "error" {
					exception = true
				}
			}
		}
		if exception {
			m := jsonx.Get(msg.Payload, "message").Str()
			if m == "" {
				m = name
			}
			return "error", anthropicError(exceptionStatus(name), "bedrock: "+m, msg.Payload), nil
		}
		if name != "chunk" {
			continue
		}
		var chunk struct {
			Bytes string `json:"bytes"`
		}
		if err := json.Unmarshal(msg.Payload, &chunk); err != nil {
			return "", nil, s.p.fail(FailBroken, "bedrock chunk: %w", err)
		}
		n := base64.StdEncoding.DecodedLen(len(chunk.Bytes))
		if cap(s.out) < n {
			s.out = make([]byte, n)
		}
		k, err := base64.StdEncoding.Decode(s.out[:n], []byte(chunk.Bytes))
		if err != nil {
			return "", nil, s.p.fail(FailBroken, "bedrock chunk: %w", err)
		}
		data := s.out[:k]
		return jsonx.Get(data, "type").Str(), data, nil
	}
}

func (s *bedrockEvents) Close() error { return s.body.Close() }

// exceptionStatus is the HTTP status Bedrock gives an exception outside a stream, so that an
// in-stream one gets the Anthropic error type a client expects (throttling is a rate limit).
func exceptionStatus(name string) int {
	switch strings.TrimSuffix(strings.ToLower(name), "exception") {
	case "validation":
		return 400
	case "throttling", "servicequotaexceeded":
		return 429
	case "serviceunavailable":
		return 503
	}
	return 500
}
