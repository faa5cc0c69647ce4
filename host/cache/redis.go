package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sluice-gw/sluice/host/redisclient"

	"github.com/sluice-gw/sluice/host/config"
)

// RedisOptions configure a Redis-backed store.
type RedisOptions struct {
	// URL is redis://[[user]:password@]host:port[/db] (or rediss:// for TLS).
	URL string
	// Prefix is prepended to every key; default "sluice:cache:".
	Prefix string
	// Timeout bounds each operation, connecting included; default config.DefaultRedisTimeout.
	Timeout time.Duration
	// Cooldown is how long Redis is skipped after a failure, so an outage
	// costs one timeout per cooldown rather than one per request; default 1s.
	Cooldown time.Duration
	// Logger receives one line when Redis goes down and one when it is back.
	Logger *slog.Logger
	// TLS and Sentinel are passed to the Redis client.
	TLS      redisclient.TLS
	Sentinel redisclient.Sentinel
}

// RedisStore keeps entries in Redis (binary-encoded, TTL set in Redis), so
// several gateway replicas share them. When Redis is unreachable every call
// returns ErrUnavailable quickly and is counted; nothing blocks past Timeout.
type RedisStore struct {
	c        *redisclient.Client
	prefix   string
	timeout  time.Duration
	cooldown time.Duration
	log      *slog.Logger

	downUntil                       atomic.Int64 // unix nanos; 0 when up
	down                            atomic.Bool
	hits, misses, sets, unavailable atomic.Uint64
}

var _ Store = (*RedisStore)(nil)

// NewRedisStore returns a store on the Redis at o.URL. It does not connect
// eagerly: an unreachable Redis shows up as bypasses, not as a startup error.
func NewRedisStore(o RedisOptions) (*RedisStore, error) {
	if o.Timeout <= 0 {
		o.Timeout = config.DefaultRedisTimeout
	}
	if o.Cooldown <= 0 {
		o.Cooldown = time.Second
	}
	if o.Prefix == "" {
		o.Prefix = "sluice:cache:"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	// Calls are never retried: retries would multiply the worst-case latency
	// of a bypass; the cooldown is the retry policy.
	c, err := redisclient.New(redisclient.Options{URL: o.URL, DialTimeout: o.Timeout, Timeout: o.Timeout,
		TLS: o.TLS, Sentinel: o.Sentinel})
	if err != nil {
		return nil, fmt.Errorf("cache: redis: %w", err)
	}
	return &RedisStore{c: c, prefix: o.Prefix, timeout: o.Timeout,
		cooldown: o.Cooldown, log: o.Logger}, nil
}

// available reports whether Redis may be tried now.
func (r *RedisStore) available() bool {
	until := r.downUntil.Load()
	return until == 0 || time.Now().UnixNano() >= until
}

func (r *RedisStore) fail(op string, err error) error {
	r.unavailable.Add(1)
	r.downUntil.Store(time.Now().Add(r.cooldown).UnixNano())
	if !r.down.Swap(true) {
		r.log.Warn("cache: redis unavailable, bypassing", "op", op, "err", err, "retry_in", r.cooldown)
	}
	return fmt.Errorf("%w: redis %s: %w", ErrUnavailable, op, err)
}

func (r *RedisStore) ok() {
	if r.downUntil.Load() != 0 {
		r.downUntil.Store(0)
		if r.down.Swap(false) {
			r.log.Info("cache: redis available again")
		}
	}
}

// Get implements Store with one MGET.
func (r *RedisStore) Get(ctx context.Context, keys []string) ([]*Entry, error) {
	if !r.available() {
		r.unavailable.Add(1)
		return nil, ErrUnavailable
	}
	args := make([]any, 1+len(keys))
	args[0] = "MGET"
	for i, k := range keys {
		args[1+i] = r.prefix + k
	}
	tctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	v, err := r.c.Do(tctx, args...)
	var vals []redisclient.Value
	if err == nil {
		vals, err = v.Array()
	}
	if err == nil && len(vals) != len(keys) {
		err = fmt.Errorf("MGET returned %d values for %d keys", len(vals), len(keys))
	}
	if err != nil {
		if ctx.Err() != nil {
			// The caller gave up; that says nothing about Redis.
			return nil, fmt.Errorf("cache: redis get: %w", err)
		}
		return nil, r.fail("get", err)
	}
	r.ok()
	out := make([]*Entry, len(keys))
	now := time.Now()
	for i, v := range vals {
		b, err := v.Bytes()
		if err != nil {
			r.misses.Add(1)
			continue
		}
		e := new(Entry)
		if e.UnmarshalBinary(b) != nil || (!e.expires.IsZero() && !now.Before(e.expires)) {
			r.misses.Add(1)
			continue
		}
		out[i] = e
		r.hits.Add(1)
	}
	return out, nil
}

// Set implements Store with SET ... PX ttl.
func (r *RedisStore) Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
	if ttl < 0 {
		return nil
	}
	if !r.available() {
		r.unavailable.Add(1)
		return ErrUnavailable
	}
	b, err := e.MarshalBinary()
	if err != nil {
		return fmt.Errorf("cache: redis set: %w", err)
	}
	tctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	args := []any{"SET", r.prefix + key, b}
	if ttl > 0 {
		// Whole milliseconds, at least one: a shorter TTL still expires.
		args = append(args, "PX", max(ttl.Milliseconds(), 1))
	}
	if _, err := r.c.Do(tctx, args...); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("cache: redis set: %w", err)
		}
		return r.fail("set", err)
	}
	r.ok()
	r.sets.Add(1)
	return nil
}

// Stats implements Store.
func (r *RedisStore) Stats() StoreStats {
	return StoreStats{Hits: r.hits.Load(), Misses: r.misses.Load(), Sets: r.sets.Load(),
		Unavailable: r.unavailable.Load()}
}

// Close implements Store.
func (r *RedisStore) Close() error { return r.c.Close() }

// TieredStore puts a local store in front of a shared one: reads try the local
// tier first, and a hit in the shared tier fills the local one for the entry's
// remaining lifetime. Writes go to both.
type TieredStore struct {
	local, remote Store
}

var _ Store = (*TieredStore)(nil)

// NewTieredStore layers local (usually a MemoryStore) over remote (usually a
// RedisStore). Close closes both.
func NewTieredStore(local, remote Store) *TieredStore {
	return &TieredStore{local: local, remote: remote}
}

// Get implements Store.
func (t *TieredStore) Get(ctx context.Context, keys []string) ([]*Entry, error) {
	out, _ := t.local.Get(ctx, keys)
	var missing []string
	var at []int
	for i, e := range out {
		if e == nil {
			missing = append(missing, keys[i])
			at = append(at, i)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	found, err := t.remote.Get(ctx, missing)
	for j, e := range found {
		if e == nil {
			continue
		}
		out[at[j]] = e
		ttl := time.Duration(0)
		if !e.expires.IsZero() {
			if ttl = time.Until(e.expires); ttl <= 0 {
				continue
			}
		}
		_ = t.local.Set(ctx, missing[j], e, ttl)
	}
	return out, err
}

// Set implements Store; the local write happens even when the remote fails.
func (t *TieredStore) Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
	_ = t.local.Set(ctx, key, e, ttl)
	return t.remote.Set(ctx, key, e, ttl)
}

// Stats implements Store: Hits add both tiers' hits, Misses are the remote
// tier's (a request missing everywhere), Evictions and Bytes are the local
// tier's, Sets and Unavailable the remote's.
func (t *TieredStore) Stats() StoreStats {
	l, r := t.local.Stats(), t.remote.Stats()
	return StoreStats{Hits: l.Hits + r.Hits, Misses: r.Misses, Evictions: l.Evictions,
		Sets: r.Sets, Unavailable: r.Unavailable, Bytes: l.Bytes}
}

// Close implements Store.
func (t *TieredStore) Close() error {
	return errors.Join(t.local.Close(), t.remote.Close())
}
