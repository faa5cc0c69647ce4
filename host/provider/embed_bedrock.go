package provider

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// bedrockEmbed calls InvokeModel: Titan Text Embeddings take one text a call (v2 with
// dimensions and normalize), Cohere embed up to 96 texts with input_type and embedding_types
// (v4 also output_dimension). The token count comes from the X-Amzn-Bedrock-Input-Token-Count
// header Bedrock sets on every InvokeModel answer.
func (p *Provider) bedrockEmbed(ctx context.Context, r *Request, req *embedRequest, inputs []string) (embedResult, error) {
	c := &bedrockEmbedCall{
		p: p, r: r, req: req, inputs: inputs,
		u:       p.BaseURL + "/model/" + url.PathEscape(r.Model) + "/invoke",
		vectors: make([][]float32, len(inputs)),
		counts:  make([]int, len(inputs)),
		counted: true,
	}
	var err error
	switch {
	case strings.Contains(r.Model, "amazon.titan-embed-text-v2"):
		err = c.titanV2(ctx)
	case strings.Contains(r.Model, "amazon.titan-embed"):
		err = c.titanV1(ctx)
	case isCohereEmbed(r.Model):
		err = c.cohere(ctx)
	default:
		return embedResult{}, embedRefuse("model", "embeddings: %s is not a Bedrock embedding model sluice maps (amazon.titan-embed-*, cohere.embed-*)", r.Model)
	}
	if err != nil {
		return embedResult{}, err
	}
	return c.result(), nil
}

// bedrockEmbedCall gathers the vectors and token counts of one Bedrock embeddings request,
// whose InvokeModel calls run in parallel.
type bedrockEmbedCall struct {
	p      *Provider
	r      *Request
	req    *embedRequest
	inputs []string
	u      string // the model's InvokeModel URL

	mu      sync.Mutex
	vectors [][]float32
	counts  []int // the token count of the call that started at each input
	counted bool  // every call reported its count
}

// countFrom records the token count of the call that started at input at.
func (c *bedrockEmbedCall) countFrom(h http.Header, at int) {
	n, err := strconv.Atoi(h.Get("X-Amzn-Bedrock-Input-Token-Count"))
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.counted = false
	}
	c.counts[at] = n
}

// result is the vectors and the token total (-1 when a call did not report its count).
func (c *bedrockEmbedCall) result() embedResult {
	if !c.counted {
		return embedResult{vectors: c.vectors, tokens: -1}
	}
	total := 0
	for _, n := range c.counts {
		total += n
	}
	return embedResult{vectors: c.vectors, tokens: total}
}

// titanV2 embeds with Titan Text Embeddings v2, one text a call, normalized, with the
// dimensions it supports.
func (c *bedrockEmbedCall) titanV2(ctx context.Context) error {
	req := c.req
	if req.Dimensions != nil && !hasInt(titanDimensions, *req.Dimensions) {
		return embedRefuse("dimensions", "embeddings: %s produces %s dimensions, not %d", c.r.Model, dimsList(titanDimensions), *req.Dimensions)
	}
	return fanOut(ctx, len(c.inputs), 8, func(ctx context.Context, i int) error {
		// normalize: OpenAI's embeddings are unit vectors, and Titan's are when asked.
		body := map[string]any{"inputText": c.inputs[i], "normalize": true, "embeddingTypes": []string{"float"}}
		if req.Dimensions != nil {
			body["dimensions"] = *req.Dimensions
		}
		var out struct {
			Embedding      []float32 `json:"embedding"`
			EmbeddingsByTy struct {
				Float []float32 `json:"float"`
			} `json:"embeddingsByType"`
		}
		h, err := c.p.embedPost(ctx, c.r, c.u, body, &out)
		if err != nil {
			return err
		}
		v := out.EmbeddingsByTy.Float
		if v == nil {
			v = out.Embedding
		}
		c.vectors[i] = v
		c.countFrom(h, i)
		return nil
	})
}

// titanV1 embeds with the first Titan embedding models, one text a call, of a fixed size.
func (c *bedrockEmbedCall) titanV1(ctx context.Context) error {
	if c.req.Dimensions != nil {
		return embedRefuse("dimensions", "embeddings: %s has a fixed size and takes no dimensions", c.r.Model)
	}
	return fanOut(ctx, len(c.inputs), 8, func(ctx context.Context, i int) error {
		var out struct {
			Embedding []float32 `json:"embedding"`
		}
		h, err := c.p.embedPost(ctx, c.r, c.u, map[string]any{"inputText": c.inputs[i]}, &out)
		if err != nil {
			return err
		}
		c.vectors[i] = out.Embedding
		c.countFrom(h, i)
		return nil
	})
}

// cohere embeds with Cohere embed, 96 texts a call, as documents unless the client says
// otherwise; only v4 takes dimensions.
func (c *bedrockEmbedCall) cohere(ctx context.Context) error {
	req, model, inputs := c.req, c.r.Model, c.inputs
	v4 := strings.Contains(model, "embed-v4")
	if req.Dimensions != nil && (!v4 || !hasInt(cohereV4Dimensions, *req.Dimensions)) {
		if !v4 {
			return embedRefuse("dimensions", "embeddings: %s has a fixed size and takes no dimensions", model)
		}
		return embedRefuse("dimensions", "embeddings: %s produces %s dimensions, not %d", model, dimsList(cohereV4Dimensions), *req.Dimensions)
	}
	inputType := req.InputType
	if inputType == "" {
		inputType = "search_document" // what OpenAI embeddings are mostly used for: stored documents
	}
	const batch = 96
	n := (len(inputs) + batch - 1) / batch
	return fanOut(ctx, n, 4, func(ctx context.Context, k int) error {
		lo, hi := k*batch, min((k+1)*batch, len(inputs))
		body := map[string]any{"texts": inputs[lo:hi], "input_type": inputType, "embedding_types": []string{"float"}}
		if v4 && req.Dimensions != nil {
			body["output_dimension"] = *req.Dimensions
		}
		var out struct {
			Embeddings struct {
				Float [][]float32 `json:"float"`
			} `json:"embeddings"`
		}
		h, err := c.p.embedPost(ctx, c.r, c.u, body, &out)
		if err != nil {
			return err
		}
		if len(out.Embeddings.Float) != hi-lo {
			return c.p.failSent(FailBroken, "embeddings: %d texts got %d embeddings", hi-lo, len(out.Embeddings.Float))
		}
		copy(c.vectors[lo:hi], out.Embeddings.Float)
		c.countFrom(h, lo)
		return nil
	})
}
