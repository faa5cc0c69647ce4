package provider

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// Embeddings for providers whose embedding APIs are not OpenAI's: Gemini (embedContent for one
// input, batchEmbedContents for several), Vertex AI (predict) and Bedrock (InvokeModel with
// Amazon Titan or Cohere embed bodies). The OpenAI request is read here, each parameter mapped
// or refused by name, and the answer written in OpenAI's shape: float arrays, or with
// encoding_format "base64" little-endian float32 bytes in base64, as OpenAI sends them.

// embedRequest is an OpenAI embeddings request.
type embedRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     *int            `json:"dimensions"`
	User           string          `json:"user"`
	// Extensions for the provider's own input-type hints; absent, the provider's default applies.
	TaskType  string `json:"task_type"`  // Gemini and Vertex: RETRIEVAL_QUERY, SEMANTIC_SIMILARITY, ...
	InputType string `json:"input_type"` // Cohere: search_document (the default), search_query, ...
}

// embedKnown are the request members read above; anything else is refused by name.
var embedKnown = map[string]bool{
	"model": true, "input": true, "encoding_format": true, "dimensions": true, "user": true,
	"task_type": true, "input_type": true,
}

// embedResult is one provider answer: one vector per input, and the tokens the provider
// counted (-1 when it did not say).
type embedResult struct {
	vectors [][]float32
	tokens  int
}

// embedFail is an answer that ends the request: a refusal or an upstream error, OpenAI-shaped.
type embedFail struct {
	status int
	body   []byte
	header http.Header
}

func (e *embedFail) Error() string { return string(e.body) }

func (e *embedFail) response() *Response {
	return &Response{Status: e.status, Header: e.header, Body: e.body}
}

func embedRefuse(param, format string, args ...any) *embedFail {
	e := &openai.Error{Status: 400, Type: openai.TypeFor(400), Code: "unsupported_parameter", Param: param, Message: fmt.Sprintf(format, args...)}
	return &embedFail{status: 400, body: e.Body()}
}

// doEmbeddings answers an OpenAI embeddings request from Gemini, Vertex AI or Bedrock.
func (p *Provider) doEmbeddings(ctx context.Context, r *Request) (*Response, error) {
	req, inputs, fail := p.parseEmbed(r)
	if fail != nil {
		return fail.response(), nil
	}
	var res embedResult
	var err error
	switch {
	case p.vertex != nil:
		res, err = p.vertexEmbed(ctx, r, req, inputs)
	case p.Kind == "gemini":
		res, err = p.geminiEmbed(ctx, r, req, inputs)
	default:
		res, err = p.bedrockEmbed(ctx, r, req, inputs)
	}
	if errors.As(err, &fail) {
		return fail.response(), nil
	}
	if err != nil {
		return nil, err
	}
	return p.embedResponse(r, req, inputs, res), nil
}

// parseEmbed reads the request and refuses what no provider of this kind can take.
func (p *Provider) parseEmbed(r *Request) (*embedRequest, []string, *embedFail) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &members); err != nil {
		return nil, nil, embedRefuse("", "embeddings: the body is not a JSON object: %v", err)
	}
	var unknown []string
	for k := range members {
		if !embedKnown[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, nil, embedRefuse(unknown[0], "embeddings: %s not supported by %s (kind %s)", strings.Join(unknown, ", "), p.Name, p.Kind)
	}
	var req embedRequest
	if err := json.Unmarshal(r.Body, &req); err != nil {
		return nil, nil, embedRefuse("", "embeddings: %v", err)
	}
	switch req.EncodingFormat {
	case "", "float", "base64":
	default:
		return nil, nil, embedRefuse("encoding_format", "embeddings: encoding_format %q is not float or base64", req.EncodingFormat)
	}
	if req.Dimensions != nil && *req.Dimensions <= 0 {
		return nil, nil, embedRefuse("dimensions", "embeddings: dimensions must be a positive integer")
	}
	var one string
	var many []string
	switch {
	case json.Unmarshal(req.Input, &one) == nil:
		many = []string{one}
	case json.Unmarshal(req.Input, &many) == nil:
	default:
		return nil, nil, embedRefuse("input", "embeddings: input must be a string or an array of strings for %s: token arrays are an OpenAI tokenizer's and %s has no such input", p.Kind, p.Kind)
	}
	if len(many) == 0 {
		return nil, nil, embedRefuse("input", "embeddings: input must not be empty")
	}
	for i, s := range many {
		if s == "" {
			return nil, nil, embedRefuse("input", "embeddings: input[%d] is empty", i)
		}
	}
	if req.InputType != "" && !(p.Kind == "bedrock" && isCohereEmbed(r.Model)) {
		return nil, nil, embedRefuse("input_type", "embeddings: input_type is Cohere's and %s is not a Cohere model; use task_type for Gemini", r.Model)
	}
	if req.TaskType != "" && p.Kind == "bedrock" {
		return nil, nil, embedRefuse("task_type", "embeddings: task_type is Gemini's; Bedrock's Cohere models take input_type")
	}
	return &req, many, nil
}

// embedResponse writes the OpenAI list. The usage is the provider's count when it gave one,
// else an estimate (about four bytes a token), said so in x-sluice-usage-estimated.
func (p *Provider) embedResponse(r *Request, req *embedRequest, inputs []string, res embedResult) *Response {
	h := http.Header{}
	tokens := res.tokens
	if tokens < 0 {
		tokens = 0
		for _, s := range inputs {
			tokens += (len(s) + 3) / 4
		}
		h.Set("X-Sluice-Usage-Estimated", "prompt_tokens")
	}
	if req.User != "" {
		// An end-user id for OpenAI's abuse monitoring: these providers take none.
		h.Add("X-Sluice-Ignored", "user")
	}
	size := 128
	for _, v := range res.vectors {
		size += len(v) * 12
	}
	b := make([]byte, 0, size)
	b = append(b, `{"object":"list","data":[`...)
	for i, v := range res.vectors {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"object":"embedding","index":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `,"embedding":`...)
		if req.EncodingFormat == "base64" {
			raw := make([]byte, 4*len(v))
			for j, f := range v {
				binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(f))
			}
			b = append(b, '"')
			b = base64.StdEncoding.AppendEncode(b, raw)
			b = append(b, '"')
		} else {
			b = append(b, '[')
			for j, f := range v {
				if j > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendFloat(b, float64(f), 'g', -1, 32)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	b = append(b, `],"model":`...)
	b = jsonx.AppendString(b, r.Model)
	b = append(b, `,"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(tokens), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(tokens), 10)
	b = append(b, "}}"...)
	return &Response{Status: 200, Header: h, Body: b}
}

// embedPost sends one embedding call and decodes a 2xx JSON answer into out. Any other answer
// becomes an embedFail carrying the provider's message in OpenAI's shape.
func (p *Provider) embedPost(ctx context.Context, r *Request, u string, body any, out any) (http.Header, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, p.fail(FailTranslate, "embeddings: %w", err)
	}
	req, err := p.newRequest(ctx, http.MethodPost, u, b, &Request{Header: r.Header, ClientKey: r.ClientKey})
	if err != nil {
		return nil, err
	}
	resp, err := p.send(req, false)
	if err != nil {
		return nil, err
	}
	data, err := readAll(p, resp.Body, resp.ContentLength)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		msg := upstreamErrorMessage(data)
		e := &openai.Error{Status: resp.StatusCode, Type: openai.TypeFor(resp.StatusCode), Code: "upstream_error",
			Message: fmt.Sprintf("provider %s answered %d: %s", p.Name, resp.StatusCode, msg)}
		return nil, &embedFail{status: resp.StatusCode, body: e.Body(), header: relayHeaders(resp.Header)}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return nil, p.failSent(FailBroken, "embeddings: the answer is not the JSON expected: %v: %s", err, snippet(data))
	}
	return resp.Header, nil
}

// upstreamErrorMessage finds the message of a Google ({"error":{"message"}}) or AWS
// ({"message"} or {"Message"}) error body, else quotes the body.
func upstreamErrorMessage(b []byte) string {
	var m struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	if json.Unmarshal(b, &m) == nil {
		for _, s := range []string{m.Error.Message, m.Message, m.MessageU} {
			if s != "" {
				return s
			}
		}
	}
	return snippet(b)
}

// fanOut runs n calls with at most limit at once and returns the first error.
func fanOut(ctx context.Context, n, limit int, call func(ctx context.Context, i int) error) error {
	if n == 1 {
		return call(ctx, 0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		if ctx.Err() != nil {
			<-sem
			break
		}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			if err := call(ctx, i); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}(i)
	}
	wg.Wait()
	return first
}

// --- Gemini API ---

type geminiContent struct {
	Parts []geminiPart `json:"parts"`
}

type geminiPart struct {
	Text string `json:"text"`
}

type geminiEmbedReq struct {
	Model                string        `json:"model,omitempty"`
	Content              geminiContent `json:"content"`
	TaskType             string        `json:"taskType,omitempty"`
	OutputDimensionality *int          `json:"outputDimensionality,omitempty"`
}

type geminiValues struct {
	Values []float32 `json:"values"`
}

// geminiUsage is the token count newer Gemini API answers carry; older ones have none.
type geminiUsage struct {
	UsageMetadata *struct {
		PromptTokenCount int `json:"promptTokenCount"`
	} `json:"usageMetadata"`
}

func (u geminiUsage) tokens() int {
	if u.UsageMetadata == nil {
		return -1
	}
	return u.UsageMetadata.PromptTokenCount
}

// geminiEmbed calls embedContent for one input, batchEmbedContents for several (at most 100 a
// call, the API's limit).
func (p *Provider) geminiEmbed(ctx context.Context, r *Request, req *embedRequest, inputs []string) (embedResult, error) {
	one := func(s string, model string) geminiEmbedReq {
		return geminiEmbedReq{Model: model, Content: geminiContent{Parts: []geminiPart{{Text: s}}}, TaskType: req.TaskType, OutputDimensionality: req.Dimensions}
	}
	base := p.BaseURL + "/models/" + url.PathEscape(r.Model)
	if len(inputs) == 1 {
		var out struct {
			Embedding geminiValues `json:"embedding"`
			geminiUsage
		}
		if _, err := p.embedPost(ctx, r, base+":embedContent", one(inputs[0], ""), &out); err != nil {
			return embedResult{}, err
		}
		return embedResult{vectors: [][]float32{out.Embedding.Values}, tokens: out.tokens()}, nil
	}
	const batch = 100
	vectors := make([][]float32, len(inputs))
	n := (len(inputs) + batch - 1) / batch
	counts := make([]int, n)
	err := fanOut(ctx, n, 4, func(ctx context.Context, k int) error {
		lo, hi := k*batch, min((k+1)*batch, len(inputs))
		reqs := make([]geminiEmbedReq, 0, hi-lo)
		for _, s := range inputs[lo:hi] {
			reqs = append(reqs, one(s, "models/"+r.Model))
		}
		var out struct {
			Embeddings []geminiValues `json:"embeddings"`
			geminiUsage
		}
		if _, err := p.embedPost(ctx, r, base+":batchEmbedContents", map[string]any{"requests": reqs}, &out); err != nil {
			return err
		}
		if len(out.Embeddings) != hi-lo {
			return p.failSent(FailBroken, "embeddings: %d inputs got %d embeddings", hi-lo, len(out.Embeddings))
		}
		for i, e := range out.Embeddings {
			vectors[lo+i] = e.Values
		}
		counts[k] = out.tokens()
		return nil
	})
	if err != nil {
		return embedResult{}, err
	}
	total := 0
	for _, c := range counts {
		if c < 0 {
			return embedResult{vectors: vectors, tokens: -1}, nil
		}
		total += c
	}
	return embedResult{vectors: vectors, tokens: total}, nil
}

// --- Vertex AI ---

// vertexEmbed calls predict on a Google embedding model. gemini-embedding models take one
// instance a call; the text-embedding models up to 250.
func (p *Provider) vertexEmbed(ctx context.Context, r *Request, req *embedRequest, inputs []string) (embedResult, error) {
	if vertexPublisher(r.Model) != "google" {
		return embedResult{}, embedRefuse("model", "embeddings: %s is not an embedding model on Vertex AI", r.Model)
	}
	batch := 250
	if strings.HasPrefix(r.Model, "gemini-") {
		batch = 1
	}
	type instance struct {
		Content  string `json:"content"`
		TaskType string `json:"task_type,omitempty"`
	}
	params := map[string]any{}
	if req.Dimensions != nil {
		params["outputDimensionality"] = *req.Dimensions
	}
	u := p.vertexRoot() + "/publishers/google/models/" + url.PathEscape(r.Model) + ":predict"
	vectors := make([][]float32, len(inputs))
	counts := make([]int, len(inputs))
	n := (len(inputs) + batch - 1) / batch
	err := fanOut(ctx, n, 4, func(ctx context.Context, k int) error {
		lo, hi := k*batch, min((k+1)*batch, len(inputs))
		inst := make([]instance, 0, hi-lo)
		for _, s := range inputs[lo:hi] {
			inst = append(inst, instance{Content: s, TaskType: req.TaskType})
		}
		body := map[string]any{"instances": inst}
		if len(params) > 0 {
			body["parameters"] = params
		}
		var out struct {
			Predictions []struct {
				Embeddings struct {
					Values     []float32 `json:"values"`
					Statistics struct {
						TokenCount float64 `json:"token_count"`
					} `json:"statistics"`
				} `json:"embeddings"`
			} `json:"predictions"`
		}
		if _, err := p.embedPost(ctx, r, u, body, &out); err != nil {
			return err
		}
		if len(out.Predictions) != hi-lo {
			return p.failSent(FailBroken, "embeddings: %d instances got %d predictions", hi-lo, len(out.Predictions))
		}
		for i, pr := range out.Predictions {
			vectors[lo+i] = pr.Embeddings.Values
			counts[lo+i] = int(pr.Embeddings.Statistics.TokenCount)
		}
		return nil
	})
	if err != nil {
		return embedResult{}, err
	}
	total := 0
	for _, c := range counts {
		total += c
	}
	return embedResult{vectors: vectors, tokens: total}, nil
}

// --- Bedrock ---

func isCohereEmbed(model string) bool { return strings.Contains(model, "cohere.embed") }

// titanDimensions and cohereV4Dimensions are the sizes those models produce.
var (
	titanDimensions    = []int{256, 512, 1024}
	cohereV4Dimensions = []int{256, 512, 1024, 1536}
)

func dimsList(ds []int) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = strconv.Itoa(d)
	}
	return strings.Join(s, ", ")
}

func hasInt(ds []int, d int) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}
