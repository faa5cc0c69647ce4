package provider

import (
	"encoding/json"
	"testing"
)

// FuzzEmbedRequest: any body is either refused with an OpenAI error naming a parameter (or none
// for a body that is not an object) or read into non-empty inputs; the answer written for them
// is valid JSON with one item per input.
func FuzzEmbedRequest(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","input":"x"}`, `{"model":"m","input":["a","b"],"dimensions":256,"encoding_format":"base64"}`,
		`{"model":"m","input":[[1,2]]}`, `{"model":"m","input":[]}`, `{"input":"x","input_type":"search_query"}`,
		`{"input":"x","dimensions":-1}`, `{"input":"x","extra":1}`, `[]`, `{"input":null}`, `{"input":"x","task_type":"CLUSTERING"}`,
	} {
		f.Add([]byte(s), "cohere.embed-v4:0", true)
		f.Add([]byte(s), "gemini-embedding-001", false)
	}
	f.Fuzz(func(t *testing.T, body []byte, model string, bedrock bool) {
		p := &Provider{Name: "p", Kind: "gemini"}
		if bedrock {
			p.Kind = "bedrock"
		}
		r := &Request{Endpoint: Embeddings, Model: model, Body: body}
		req, inputs, fail := p.parseEmbed(r)
		if fail != nil {
			var e struct {
				Error struct {
					Message string  `json:"message"`
					Param   *string `json:"param"`
				} `json:"error"`
			}
			if fail.status != 400 || json.Unmarshal(fail.body, &e) != nil || e.Error.Message == "" {
				t.Fatalf("refusal %d %s", fail.status, fail.body)
			}
			return
		}
		if len(inputs) == 0 {
			t.Fatal("no inputs and no refusal")
		}
		vecs := make([][]float32, len(inputs))
		for i := range vecs {
			vecs[i] = []float32{float32(i), -0.5, 1e-30}
		}
		resp := p.embedResponse(r, req, inputs, embedResult{vectors: vecs, tokens: -1})
		var l struct {
			Data []json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(resp.Body, &l); err != nil || len(l.Data) != len(inputs) {
			t.Fatalf("answer %s: %v", resp.Body, err)
		}
	})
}
