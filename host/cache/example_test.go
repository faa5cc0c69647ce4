package cache_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/sluice-gw/sluice/host/cache"
)

// The gateway's use of the package for one non-stream request.
func Example() {
	store, err := cache.NewMemoryStore(cache.MemoryOptions{MaxBytes: 64 << 20})
	if err != nil {
		panic(err)
	}
	c, err := cache.New(cache.Options{Store: store, Policy: cache.Policy{Enabled: true, TTL: 10 * time.Minute}})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	ctx := context.Background()
	body := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)

	for range 2 {
		ctl := c.Control(http.Header{})
		key, _, err := cache.KeyFor(body, cache.KeyParts{Endpoint: "chat.completions", Model: "openai/gpt-4o-mini", Namespace: "team-a", Seed: ctl.Seed})
		if err != nil {
			panic(err)
		}
		res := c.Lookup(ctx, key, ctl)
		h := http.Header{}
		res.SetHeaders(h)
		fmt.Println(h.Get("X-Sluice-Cache"), h.Get("X-Sluice-Cache-Bucket"))
		if res.Status == cache.Miss {
			answer := &cache.Entry{Model: "gpt-4o-mini", ContentType: "application/json",
				Body: []byte(`{"object":"chat.completion","choices":[]}`)}
			if err := c.Store(ctx, key, res.Bucket, answer, ctl); err != nil {
				panic(err)
			}
		}
	}
	// Output:
	// MISS 0
	// HIT 0
}
