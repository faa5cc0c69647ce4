package app

import (
	"fmt"
	"time"

	"github.com/sluice-gw/sluice/host/cache"
	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/host/ratelimit"
	"github.com/sluice-gw/sluice/host/redisclient"
	"github.com/sluice-gw/sluice/host/respstore"
)

// stores are the stateful backends of limits and the cache. They belong to the App, not to
// one configuration: a reload that leaves their settings alone keeps them, so rate-limit
// state and cached answers survive it. A store whose settings changed is replaced, and the
// old one closed once requests that started before the reload are done.
type stores struct {
	limitKey string
	limit    ratelimit.Store
	cacheKey string
	cache    cache.Store
	respKey  string
	resp     respstore.Store
	// respClose closes what the response store holds (its Redis connections), or nil.
	respClose closerFunc
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// responseStore keeps stored Responses API answers; nil when they are off. The memory store
// lives as long as its settings, so a reload does not forget conversations.
func (a *App) responseStore(cfg *config.Config) (respstore.Store, error) {
	rc := cfg.Responses
	key := fmt.Sprintf("%s|%s|%d|%d|%s", rc.Store, rc.TTL.D(), rc.MaxBytes, rc.MaxRecord, redisKey(cfg))
	if a.stores.respKey == key {
		return a.stores.resp, nil
	}
	var st respstore.Store
	var closeFn closerFunc
	switch rc.Store {
	case "memory":
		st = respstore.NewMemory(int64(rc.MaxBytes), rc.TTL.D())
	case "redis":
		o := redisOptions(cfg)
		o.DialTimeout = 0 // the client's default: a stored response may wait longer than a limit check
		c, err := redisclient.New(o)
		if err != nil {
			return nil, fmt.Errorf("serve: responses store: %w", err)
		}
		st = respstore.NewRedis(c, "sluice:resp:", rc.TTL.D(), int64(rc.MaxRecord))
		closeFn = c.Close
	}
	a.stores.resp, a.stores.respKey, a.stores.respClose = st, key, closeFn
	return st, nil
}

func (a *App) limitStore(cfg *config.Config) (ratelimit.Store, error) {
	key := redisKey(cfg)
	if a.stores.limit != nil && a.stores.limitKey == key {
		return a.stores.limit, nil
	}
	var st ratelimit.Store
	if cfg.Redis.URL != "" {
		o := redisOptions(cfg)
		rs, err := ratelimit.NewRedisStore(ratelimit.RedisOptions{URL: o.URL, Timeout: o.Timeout, TLS: o.TLS, Sentinel: o.Sentinel})
		if err != nil {
			return nil, fmt.Errorf("serve: limits: %w", err)
		}
		st = rs
	} else {
		st = ratelimit.NewMemoryStore()
	}
	a.stores.limit, a.stores.limitKey = st, key
	return st, nil
}

func (a *App) cacheStore(cfg *config.Config) (cache.Store, error) {
	cc := cfg.Cache
	key := fmt.Sprintf("%s|%d|%s", cc.Store, cc.MaxBytes, redisKey(cfg))
	if a.stores.cache != nil && a.stores.cacheKey == key {
		return a.stores.cache, nil
	}
	var local, remote cache.Store
	if cc.Store == "memory" || cc.Store == "tiered" {
		ms, err := cache.NewMemoryStore(cache.MemoryOptions{MaxBytes: int64(cc.MaxBytes)})
		if err != nil {
			return nil, err
		}
		local = ms
	}
	if cc.Store == "redis" || cc.Store == "tiered" {
		o := redisOptions(cfg)
		rs, err := cache.NewRedisStore(cache.RedisOptions{URL: o.URL, Timeout: o.Timeout, Logger: a.log,
			TLS: o.TLS, Sentinel: o.Sentinel})
		if err != nil {
			if local != nil {
				_ = local.Close()
			}
			return nil, err
		}
		remote = rs
	}
	var st cache.Store
	switch {
	case local != nil && remote != nil:
		st = cache.NewTieredStore(local, remote)
	case local != nil:
		st = local
	default:
		st = remote
	}
	a.stores.cache, a.stores.cacheKey = st, key
	return st, nil
}

// redisOptions are the [redis] connection settings.
func redisOptions(cfg *config.Config) redisclient.Options {
	r := cfg.Redis
	return redisclient.Options{
		URL: r.URL, Timeout: r.Timeout.D(), DialTimeout: r.Timeout.D(),
		TLS: redisclient.TLS{CAFile: r.TLSCAFile, CertFile: r.TLSCertFile, KeyFile: r.TLSKeyFile,
			ServerName: r.TLSServerName, InsecureSkipVerify: r.TLSInsecureSkipVerify},
		Sentinel: redisclient.Sentinel{Addrs: r.SentinelAddrs, Master: r.SentinelMaster, Password: r.SentinelPassword},
	}
}

// redisKey identifies the [redis] connection settings: a store is kept across a reload only
// when they are unchanged. It holds passwords, so it is never shown.
func redisKey(cfg *config.Config) string {
	return fmt.Sprintf("%+v", redisOptions(cfg))
}

// settleStores ends a build: on success a replaced store is closed after the drain time, when
// no request can still use it; on failure the stores the build made are closed and the
// previous ones stay.
func (a *App) settleStores(prev stores, ok bool, drain time.Duration) {
	cur := a.stores
	type closer interface{ Close() error }
	pairs := [][2]closer{}
	if prev.limit != cur.limit {
		pairs = append(pairs, [2]closer{prev.limit, cur.limit})
	}
	if prev.cache != cur.cache {
		pairs = append(pairs, [2]closer{prev.cache, cur.cache})
	}
	if prev.respKey != cur.respKey {
		var old, made closer
		if prev.respClose != nil {
			old = prev.respClose
		}
		if cur.respClose != nil {
			made = cur.respClose
		}
		pairs = append(pairs, [2]closer{old, made})
	}
	for _, p := range pairs {
		old, made := p[0], p[1]
		if ok && old != nil {
			time.AfterFunc(drain, func() { _ = old.Close() })
		}
		if !ok && made != nil {
			_ = made.Close()
		}
	}
	if !ok {
		a.stores = prev
	}
}

func (a *App) closeStores() {
	if a.stores.limit != nil {
		_ = a.stores.limit.Close()
	}
	if a.stores.cache != nil {
		_ = a.stores.cache.Close()
	}
	if a.stores.respClose != nil {
		_ = a.stores.respClose()
	}
}
