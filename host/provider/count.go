package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// ErrNoCounter is CountTokens's answer for a provider that has no token counter of its own.
var ErrNoCounter = errors.New("provider: no token counter")

// HasCounter reports whether CountTokens can ask this provider: Gemini's models.countTokens,
// which takes the generateContent request the provider's translator builds.
func (p *Provider) HasCounter() bool {
	return p.Kind == "gemini" && p.translator != nil && p.unavailable == ""
}

// CountTokens asks the upstream's own counter for the input tokens of chatBody, a chat
// completions request, sent to model. For Gemini the translator turns it into the
// generateContent body it would send, and models/{model}:countTokens counts it wrapped as
// {"generateContentRequest": {"model": "models/<model>", ...}}. Providers without a counter
// answer ErrNoCounter.
func (p *Provider) CountTokens(ctx context.Context, chatBody []byte, model string) (int64, error) {
	if !p.HasCounter() {
		return 0, ErrNoCounter
	}
	out, err := p.translator.TranslateRequest(ctx, p.requestEnvelope(&Request{Endpoint: ChatCompletions, Model: model, Body: chatBody}))
	if err != nil {
		return 0, err
	}
	var call upstreamCall
	if err := json.Unmarshal(out, &call); err != nil {
		return 0, p.fail(FailTranslate, "translator %s: translate_request returned invalid JSON: %w", p.translator.Name(), err)
	}
	var gen map[string]json.RawMessage
	if err := json.Unmarshal(call.Body, &gen); err != nil || gen == nil {
		return 0, p.fail(FailTranslate, "translator %s: the request body is not a JSON object", p.translator.Name())
	}
	gen["model"] = json.RawMessage(jsonx.AppendString(nil, "models/"+model))
	body, err := json.Marshal(map[string]any{"generateContentRequest": gen})
	if err != nil {
		return 0, p.fail(FailTranslate, "count tokens body: %w", err)
	}
	u := p.BaseURL + "/models/" + url.PathEscape(model) + ":countTokens"
	req, err := p.newRequest(ctx, http.MethodPost, u, body, &Request{Header: mergeHeaders(nil, call.Headers)})
	if err != nil {
		return 0, err
	}
	resp, err := p.send(req, false)
	if err != nil {
		return 0, err
	}
	b, err := readAll(p, resp.Body, resp.ContentLength)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("provider %s: countTokens answered %d: %s", p.Name, resp.StatusCode, snippet(b))
	}
	n, ok := jsonx.Get(b, "totalTokens").Int()
	if !ok || n < 0 {
		return 0, p.fail(FailTranslate, "countTokens answer has no totalTokens: %s", snippet(b))
	}
	return n, nil
}
