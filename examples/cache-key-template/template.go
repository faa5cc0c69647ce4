// Command cache-key-template is an example cache_key plugin for prompt templates: requests
// rendered from one template share cache entries by the template id and the variables filled
// in, whatever the rendered system prompt says (a template revision that keeps its id keeps its
// entries).
//
// The template id comes from the request's metadata.template_id or, failing that, from the
// x-template-id header. The variables are the other metadata entries, sorted by name; a request
// without them (the header form) uses its last user message as the variables. A request with
// no template id keeps the host's canonical key. With `buckets = N` in the plugin config a
// template key holds N answers.
package main

import (
	"sort"
	"strconv"
	"strings"

	"github.com/sluice-gw/sluice/sdk"
)

// HeaderTemplate names the header carrying the template id when the body has no metadata.
const HeaderTemplate = "x-template-id"

// Input is what the plugin reads from the cache_key envelope: the typed input plus the
// request's metadata object, which the host passes as "metadata" when the body has one.
type Input struct {
	sdk.CacheKeyInput
	Metadata map[string]string
}

// Key computes the plugin's answer. buckets is the configured bucket count (0: host default).
func Key(in Input, buckets int) sdk.CacheKeyOutput {
	id := in.Metadata["template_id"]
	if id == "" {
		id = in.Meta.Headers[HeaderTemplate]
	}
	if id == "" {
		return sdk.CacheKeyOutput{Key: in.Key}
	}
	var b strings.Builder
	b.WriteString("template\x00")
	b.WriteString(in.Meta.Model)
	b.WriteByte(0)
	b.WriteString(id)
	names := make([]string, 0, len(in.Metadata))
	for k := range in.Metadata {
		if k != "template_id" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		b.WriteString("\x00user\x00")
		b.WriteString(in.LastUser)
	}
	for _, k := range names {
		// Length-prefixed so no value can impersonate further variables.
		v := in.Metadata[k]
		b.WriteString("\x00var\x00")
		b.WriteString(strconv.Itoa(len(k)))
		b.WriteByte(':')
		b.WriteString(k)
		b.WriteString(strconv.Itoa(len(v)))
		b.WriteByte(':')
		b.WriteString(v)
	}
	return sdk.CacheKeyOutput{Key: b.String(), Buckets: buckets}
}

// Decode reads the cache_key envelope; non-string metadata values are ignored.
func Decode(raw []byte) (Input, error) {
	ck, err := sdk.DecodeCacheKeyInput(raw)
	if err != nil {
		return Input{}, err
	}
	in := Input{CacheKeyInput: ck}
	md, ok := sdk.Field(raw, "metadata")
	if !ok {
		return in, nil
	}
	v, err := sdk.Decode(md)
	if err != nil {
		return Input{}, err
	}
	m, _ := v.(map[string]any)
	in.Metadata = make(map[string]string, len(m))
	for k, x := range m {
		if s, ok := x.(string); ok {
			in.Metadata[k] = s
		}
	}
	return in, nil
}
