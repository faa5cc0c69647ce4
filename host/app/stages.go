package app

import (
	"fmt"
	"time"

	"github.com/sluice-gw/sluice/host/auth"
	"github.com/sluice-gw/sluice/host/cache"
	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/host/pricing"
	"github.com/sluice-gw/sluice/host/ratelimit"
)

// stages are the optional pipeline stages built from one configuration.
type stages struct {
	auth      *auth.Authenticator
	overrides map[string]bool
	limiter   *ratelimit.Limiter
	prices    *pricing.Table
	caches    map[string]*cache.Cache
	closers   []func() error
}

// anyCache returns one of the configuration's caches (they share one store), or nil.
func (s *stages) anyCache() *cache.Cache {
	for _, c := range s.caches {
		if c != nil {
			return c
		}
	}
	return nil
}

func (s *stages) close() {
	for _, c := range s.closers {
		_ = c()
	}
}

func limitSpec(l config.Limit) ratelimit.Spec {
	return ratelimit.Spec{Name: l.Name, Scope: l.Scope, Match: l.Match, Unit: l.Unit, Rate: l.Rate, Burst: float64(l.Burst), Budget: l.Budget, FailOpen: l.FailOpen}
}

func (a *App) buildStages(cfg *config.Config, prices *pricing.Table) (*stages, error) {
	s := &stages{overrides: map[string]bool{}, caches: map[string]*cache.Cache{}}
	ok := false
	defer func() {
		if !ok {
			s.close()
		}
	}()
	s.prices = prices
	keys, err := s.buildAuth(cfg)
	if err != nil {
		return nil, err
	}
	if err := a.buildLimiter(cfg, s, keys); err != nil {
		return nil, err
	}
	if err := a.buildCaches(cfg, s); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

// buildAuth makes the authenticator from the configured keys and the keys file, and returns
// every key (their limits become limiter rules).
func (s *stages) buildAuth(cfg *config.Config) ([]auth.KeySpec, error) {
	keys := make([]auth.KeySpec, 0, len(cfg.Auth.Keys))
	for _, k := range cfg.Auth.Keys {
		ks := auth.KeySpec{ID: k.ID, Key: k.Key, KeyHash: k.KeyHash, User: k.User, Team: k.Team, Models: k.Models, Routers: k.Routers, BYOK: k.BYOK, Passthrough: k.Passthrough}
		for i, l := range k.Limits {
			sp := limitSpec(l)
			if sp.Name == "" {
				sp.Name = fmt.Sprintf("%s-%d", k.ID, i)
			}
			ks.Limits = append(ks.Limits, sp)
		}
		keys = append(keys, ks)
		if k.Overrides {
			s.overrides[k.ID] = true
		}
	}
	if cfg.Auth.KeysFile != "" {
		more, err := auth.LoadKeysFile(cfg.Auth.KeysFile)
		if err != nil {
			return nil, fmt.Errorf("serve: auth: %w", err)
		}
		keys = append(keys, more...)
	}
	var err error
	s.auth, err = auth.New(auth.Options{Required: cfg.Auth.Required, Keys: keys, UserHeader: cfg.Auth.UserHeader, TeamHeader: cfg.Auth.TeamHeader, TrustIdentityHeaders: cfg.Auth.TrustIdentityHeaders})
	if err != nil {
		return nil, fmt.Errorf("serve: auth: %w", err)
	}
	return keys, nil
}

// buildLimiter makes the limiter when any limit is configured, globally or on a key.
func (a *App) buildLimiter(cfg *config.Config, s *stages, keys []auth.KeySpec) error {
	hasKeyLimits := false
	for _, k := range keys {
		hasKeyLimits = hasKeyLimits || len(k.Limits) > 0
	}
	if len(cfg.Limits) == 0 && !hasKeyLimits {
		return nil
	}
	rules := make([]ratelimit.Rule, 0, len(cfg.Limits))
	for i, l := range cfg.Limits {
		sp := limitSpec(l)
		if sp.Name == "" {
			sp.Name = fmt.Sprintf("%s-%s-%d", l.Scope, l.Unit, i+1)
		}
		r, err := sp.Rule()
		if err != nil {
			return fmt.Errorf("serve: limits[%d]: %w", i, err)
		}
		rules = append(rules, r)
	}
	store, err := a.limitStore(cfg)
	if err != nil {
		return err
	}
	s.limiter, err = ratelimit.New(ratelimit.Config{Rules: rules, Store: store, FailOpen: *cfg.Redis.FailOpen, Logger: a.log,
		// A backstop above the store's own timeout, never below it.
		StoreTimeout: max(time.Second, 2*cfg.Redis.Timeout.D())})
	if err != nil {
		return fmt.Errorf("serve: limits: %w", err)
	}
	return nil
}

// buildCaches makes the global cache and each router's own; all share the one store.
func (a *App) buildCaches(cfg *config.Config, s *stages) error {
	mk := func(cc *config.Cache) (*cache.Cache, error) {
		st, err := a.cacheStore(cfg)
		if err != nil {
			return nil, err
		}
		return cache.New(cache.Options{Store: st, Logger: a.log, Policy: cache.Policy{
			Enabled: true, TTL: cc.TTL.D(), Buckets: cc.Buckets, MaxBuckets: cc.MaxBuckets,
			MaxEntryBytes: int(cc.MaxEntrySize), Ignore: cc.Ignore,
		}})
	}
	if cfg.Cache.On() {
		c, err := mk(&cfg.Cache)
		if err != nil {
			return fmt.Errorf("serve: cache: %w", err)
		}
		s.caches[""] = c
	}
	for name, rc := range cfg.Routers {
		if rc.Cache == nil {
			continue
		}
		if !rc.Cache.On() {
			s.caches[name] = nil // the router turns the global cache off
			continue
		}
		c, err := mk(rc.Cache)
		if err != nil {
			return fmt.Errorf("serve: router %s: cache: %w", name, err)
		}
		s.caches[name] = c
	}
	return nil
}
