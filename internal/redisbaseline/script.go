package redisbaseline

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
)

// Script is a Lua script run by its SHA1 (EVALSHA), sent in full (EVAL, which also caches it
// on the server) only when the server does not know it yet, after a restart or SCRIPT FLUSH.
type Script struct {
	src, sha string
}

// NewScript prepares src.
func NewScript(src string) *Script {
	h := sha1.Sum([]byte(src))
	return &Script{src: src, sha: hex.EncodeToString(h[:])}
}

// Run evaluates the script with keys and args.
func (s *Script) Run(ctx context.Context, c *Client, keys []string, args ...any) (Value, error) {
	cmd := make([]any, 0, 3+len(keys)+len(args))
	cmd = append(cmd, "EVALSHA", s.sha, len(keys))
	for _, k := range keys {
		cmd = append(cmd, k)
	}
	cmd = append(cmd, args...)
	v, err := c.Do(ctx, cmd...)
	if HasCode(err, "NOSCRIPT") {
		cmd[0], cmd[1] = "EVAL", s.src
		v, err = c.Do(ctx, cmd...)
	}
	return v, err
}
