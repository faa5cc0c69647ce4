package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sluice-gw/sluice/host/redisclient"

	"github.com/sluice-gw/sluice/host/config"
)

// RedisOptions configures a RedisStore.
type RedisOptions struct {
	// URL like redis://user:pass@host:6379/0 or rediss:// for TLS.
	URL string
	// Timeout bounds dialing and each call, so a dead Redis costs at most this much per
	// request. Default 250ms.
	Timeout time.Duration
	// Cooldown is how long after a failure calls fail at once without touching the network,
	// so an outage does not add Timeout to every request. Default 1s.
	Cooldown time.Duration
	// Prefix of every key. Default "sluice:rl:".
	Prefix string
	// TLS and Sentinel are passed to the Redis client.
	TLS      redisclient.TLS
	Sentinel redisclient.Sentinel
}

// RedisStore shares limiter state between replicas through Redis. Each check or settlement is
// one EVAL(SHA) of a Lua script, so all tiers are decided and consumed atomically in one round
// trip. Time is the caller's clock passed as an argument (not Redis TIME), so that budgets'
// calendar windows and the rates use one clock and tests can drive it.
//
// Keys of one request are touched in one script, so on Redis Cluster they must share a slot;
// use a single primary (with replicas for failover).
type RedisStore struct {
	c         scriptConn
	prefix    string
	timeout   time.Duration
	cooldown  time.Duration
	downUntil atomic.Int64 // unix ns (wall clock)
}

var errCircuitOpen = errors.New("redis: unavailable (cooling down after a failure)")

// NewRedisStore parses the options; it does not connect until first use (see Ping).
func NewRedisStore(o RedisOptions) (*RedisStore, error) {
	if o.Timeout <= 0 {
		o.Timeout = config.DefaultRedisTimeout
	}
	if o.Cooldown <= 0 {
		o.Cooldown = time.Second
	}
	if o.Prefix == "" {
		o.Prefix = "sluice:rl:"
	}
	// Calls are never retried: a retry would double the worst-case delay, and the limiter's
	// fail-open/closed policy decides.
	c, err := redisclient.New(redisclient.Options{URL: o.URL, DialTimeout: o.Timeout, Timeout: o.Timeout,
		TLS: o.TLS, Sentinel: o.Sentinel})
	if err != nil {
		return nil, fmt.Errorf("ratelimit: redis: %w", err)
	}
	return newRedisStore(clientConn{c}, o), nil
}

func newRedisStore(c scriptConn, o RedisOptions) *RedisStore {
	return &RedisStore{c: c, prefix: o.Prefix, timeout: o.Timeout, cooldown: o.Cooldown}
}

// scriptConn is what the store needs of a Redis client. It is an interface so that the
// benchmarks can run the same store on the previous client.
type scriptConn interface {
	// eval runs script and returns its integers.
	eval(ctx context.Context, keys []string, args []any) ([]int64, error)
	Ping(ctx context.Context) error
	Close() error
}

type clientConn struct{ *redisclient.Client }

func (c clientConn) eval(ctx context.Context, keys []string, args []any) ([]int64, error) {
	v, err := script.Run(ctx, c.Client, keys, args...)
	if err != nil {
		return nil, err
	}
	a, err := v.Array()
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(a))
	for i, e := range a {
		if out[i], err = e.Int(); err != nil {
			return nil, fmt.Errorf("script value %d: %w", i, err)
		}
	}
	return out, nil
}

// Ping checks that Redis answers.
func (s *RedisStore) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.c.Ping(ctx); err != nil {
		return fmt.Errorf("ratelimit: redis: %w", err)
	}
	return nil
}

// Close closes the connections.
func (s *RedisStore) Close() error { return s.c.Close() }

// script mirrors evalCheck and evalSettle. Lua numbers are doubles, so the TAT is stored as
// a decimal string of unix ns and all arithmetic is done on offsets from now, which stay below
// 2^53 ns (maxOffset) and are therefore exact.
//
// KEYS: one cell per tier. ARGV[1]: now (unix ns, decimal). ARGV[2]: "c" check or "s" settle.
// Then four per key: kind ("g" GCRA or "w" window), n, lim, ttl (of a window cell, ms).
// Expiry is relative (PX) so that Redis's own clock never meets the caller's; every cell lives
// a minute past the moment it goes idle, to absorb clock skew between replicas.
// Returns {denied index (1-based, 0 for none), value per key...}.
var script = redisclient.NewScript(scriptSrc)

const scriptSrc = `
local function split(v)
  local l = #v
  if l <= 9 then return 0, tonumber(v) end
  return tonumber(string.sub(v, 1, l - 9)), tonumber(string.sub(v, l - 8))
end
local nows, nowns = split(ARGV[1])
local function offset(v)
  if not v then return 0 end
  local s, ns = split(v)
  local d = (s - nows) * 1000000000 + (ns - nowns)
  if d < 0 then return 0 end
  return d
end
local function settat(key, off)
  local s = nows + math.floor(off / 1000000000)
  local ns = nowns + off % 1000000000
  if ns >= 1000000000 then s = s + 1; ns = ns - 1000000000 end
  redis.call('SET', key, string.format('%d%09d', s, ns), 'PX', math.floor(off / 1000000) + 60001)
end
local cap = 2 * 4503599627370496
local n = #KEYS
local out = {0}
if ARGV[2] == 'c' then
  local cur, denied = {}, 0
  for i = 1, n do
    local b = 2 + (i - 1) * 4
    local amt, lim = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
    local v = redis.call('GET', KEYS[i])
    if ARGV[b + 1] == 'g' then
      local off = offset(v)
      cur[i] = off
      local nxt = off + amt
      if nxt <= lim then out[i + 1] = math.min(nxt, cap)
      else out[i + 1] = off; if denied == 0 then denied = i end end
    else
      local used = tonumber(v) or 0
      cur[i] = used
      if used + amt <= lim then out[i + 1] = used + amt
      else out[i + 1] = used; if denied == 0 then denied = i end end
    end
  end
  if denied > 0 then
    for i = 1, n do out[i + 1] = cur[i] end
    out[1] = denied
    return out
  end
  for i = 1, n do
    local b = 2 + (i - 1) * 4
    if tonumber(ARGV[b + 2]) ~= 0 then
      if ARGV[b + 1] == 'g' then settat(KEYS[i], out[i + 1])
      else redis.call('SET', KEYS[i], out[i + 1], 'PX', ARGV[b + 4]) end
    end
  end
  return out
end
for i = 1, n do
  local b = 2 + (i - 1) * 4
  local amt = tonumber(ARGV[b + 2])
  local v = redis.call('GET', KEYS[i])
  if ARGV[b + 1] == 'g' then
    local nxt = math.min(offset(v) + amt, cap)
    if nxt <= 0 then redis.call('DEL', KEYS[i]) else settat(KEYS[i], nxt) end
  else
    local used = (tonumber(v) or 0) + amt
    if used < 0 then used = 0 end
    redis.call('SET', KEYS[i], used, 'PX', ARGV[b + 4])
  end
end
return out
`

func (s *RedisStore) run(ctx context.Context, now int64, mode string, ops []op) ([]int64, error) {
	if until := s.downUntil.Load(); until != 0 && time.Now().UnixNano() < until {
		return nil, errCircuitOpen
	}
	keys := make([]string, len(ops))
	args := make([]any, 0, 2+4*len(ops))
	args = append(args, strconv.FormatInt(now, 10), mode)
	for i := range ops {
		o := &ops[i]
		keys[i] = s.prefix + o.key.String()
		// Window cells outlive their window by a minute to absorb clock skew between replicas.
		ttl := (o.exp-now+int64(time.Minute))/int64(time.Millisecond) + 1
		args = append(args, string(rune(o.kind)), o.n, o.lim, ttl)
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	res, err := s.c.eval(cctx, keys, args)
	if err != nil {
		// A caller that gave up (canceled, or its own deadline passed) says nothing about
		// Redis: only the store's failures, its own timeout included, open the breaker.
		if ctx.Err() == nil {
			s.downUntil.Store(time.Now().Add(s.cooldown).UnixNano())
		}
		return nil, fmt.Errorf("redis: %w", err)
	}
	s.downUntil.Store(0)
	if mode == "c" && len(res) != len(ops)+1 {
		return nil, fmt.Errorf("redis: script returned %d values for %d keys", len(res), len(ops))
	}
	return res, nil
}

func (s *RedisStore) check(ctx context.Context, now int64, ops []op, vals []int64) (int, error) {
	res, err := s.run(ctx, now, "c", ops)
	if err != nil {
		return 0, err
	}
	copy(vals, res[1:])
	return int(res[0]) - 1, nil
}

func (s *RedisStore) settle(ctx context.Context, now int64, ops []op) error {
	live := ops[:0:0]
	for _, o := range ops {
		if o.kind == opGCRA || o.exp > now { // a finished window is never read again
			live = append(live, o)
		}
	}
	if len(live) == 0 {
		return nil
	}
	_, err := s.run(ctx, now, "s", live)
	return err
}
