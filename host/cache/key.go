package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
)

// Key identifies one cacheable request: the lowercase hex SHA-256 of a framed
// encoding of its parts. It is safe to log and to hand to plugins.
type Key string

// KeyParts are the inputs of a key besides the request body.
type KeyParts struct {
	// Endpoint is the API name, e.g. "chat.completions", "completions",
	// "embeddings". It selects the OpenAI defaults that are folded away.
	Endpoint string
	// Model is the resolved target ("openai/gpt-4o-mini") or router the request
	// is bound to. It replaces the body's "model" field, so aliases of one
	// target share entries. Required.
	Model string
	// Namespace isolates tenants (team or key id); empty when not applicable.
	Namespace string
	// Seed lets a caller fork a separate set of entries (x-sluice-cache-seed).
	Seed string
	// Ignore lists further top-level body fields left out of the key.
	Ignore []string
}

// Frame tags keep the two kinds of keys in disjoint hash domains.
const (
	frameCanonical = "sluice.cache.v1.canonical"
	framePlugin    = "sluice.cache.v1.plugin"
)

// defaults are the OpenAI parameter defaults per endpoint, as canonical JSON:
// a field equal to its default keys the same as an omitted one.
var defaults = map[string]map[string]string{
	"chat.completions": {
		"n": "1", "temperature": "1", "top_p": "1",
		"presence_penalty": "0", "frequency_penalty": "0",
		"logprobs": "false", "parallel_tool_calls": "true",
		"response_format": `{"type":"text"}`, "service_tier": `"auto"`,
	},
	"completions": {
		"n": "1", "temperature": "1", "top_p": "1",
		"presence_penalty": "0", "frequency_penalty": "0",
		"best_of": "1", "echo": "false",
	},
	"embeddings": {
		"encoding_format": `"float"`,
	},
}

var canonPool = sync.Pool{New: func() any { return new(canon) }}

// maxPooled keeps one huge body from pinning its buffers in the pool.
const maxPooled = 1 << 20

func putCanon(c *canon) {
	if cap(c.dst) > maxPooled || cap(c.tmp) > maxPooled {
		return
	}
	c.src = nil
	canonPool.Put(c)
}

// ErrNoModel is returned by KeyFor when KeyParts.Model is empty: without it,
// different models would share entries.
var ErrNoModel = errors.New("cache: key: model is required")

// KeyFor computes the canonical key of an OpenAI request body and extracts the
// prompt text for a cache_key plugin. The body must be a JSON object.
//
// Normalisation: whitespace removed, object keys sorted, duplicate keys
// resolved to the last, strings and numbers in one canonical spelling, top-level
// nulls and fields equal to their OpenAI default dropped, and the fields user,
// stream, stream_options, metadata, store, model and parts.Ignore dropped.
func KeyFor(body []byte, parts KeyParts) (Key, Extract, error) {
	if parts.Model == "" {
		return "", Extract{}, ErrNoModel
	}
	c := canonPool.Get().(*canon)
	defer putCanon(c)
	c.reset(body)
	c.top, c.defaults, c.ignore, c.extract = true, defaults[parts.Endpoint], parts.Ignore, true
	if err := c.run(); err != nil {
		return "", Extract{}, fmt.Errorf("cache: key: %w", err)
	}
	ex := c.ex
	k := frameKey(c, frameCanonical, parts, c.dst)
	return k, ex, nil
}

// KeyFromPlugin hashes a key string returned by a cache_key plugin together
// with the tenant namespace, endpoint, model and seed from parts (Ignore is
// unused), so a plugin can never reach another tenant's entries.
func KeyFromPlugin(pluginKey string, parts KeyParts) Key {
	c := canonPool.Get().(*canon)
	defer putCanon(c)
	c.reset(nil)
	return frameKey(c, framePlugin, parts, []byte(pluginKey))
}

// canonical returns the canonical form of a request body (for tests and
// debugging); it applies the same top-level rules as KeyFor.
func canonical(body []byte, endpoint string, ignore []string) ([]byte, error) {
	c := new(canon)
	c.reset(body)
	c.top, c.defaults, c.ignore = true, defaults[endpoint], ignore
	if err := c.run(); err != nil {
		return nil, err
	}
	return c.dst, nil
}

// frameKey hashes length-prefixed parts; the framing makes ("ab","c") and
// ("a","bc") different keys. c.tmp is reused as the hash input buffer.
func frameKey(c *canon, domain string, p KeyParts, payload []byte) Key {
	buf := c.tmp[:0]
	for _, s := range [...]string{domain, p.Endpoint, p.Model, p.Namespace, p.Seed} {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	buf = binary.AppendUvarint(buf, uint64(len(payload)))
	buf = append(buf, payload...)
	c.tmp = buf
	sum := sha256.Sum256(buf)
	return Key(hex.EncodeToString(sum[:]))
}
