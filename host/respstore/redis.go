package respstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/sluice-gw/sluice/host/redisclient"

	"github.com/sluice-gw/sluice/host/config"
)

// redisStore keeps each record under prefix + hash(tenant) + ":" + id with SET ... PX ttl, so
// every replica on the same Redis sees it and Redis expires it.
type redisStore struct {
	c         *redisclient.Client
	prefix    string
	ttl       time.Duration
	maxRecord int64
}

// NewRedis returns a store on c. Keys are prefix, a hash of the tenant (tenant names never
// appear in Redis and cannot collide with the separator) and the id. Records live for ttl
// (0: until deleted) and a record whose encoding exceeds maxRecord bytes is refused with
// ErrTooLarge (maxRecord <= 0: config.DefaultResponsesMaxRecord).
func NewRedis(c *redisclient.Client, prefix string, ttl time.Duration, maxRecord int64) Store {
	if maxRecord <= 0 {
		maxRecord = config.DefaultResponsesMaxRecord
	}
	return &redisStore{c: c, prefix: prefix, ttl: ttl, maxRecord: maxRecord}
}

func (s *redisStore) key(tenant, id string) string {
	h := sha256.Sum256([]byte(tenant))
	return s.prefix + hex.EncodeToString(h[:16]) + ":" + id
}

func (s *redisStore) Put(ctx context.Context, r *Record) error {
	if err := check(r); err != nil {
		return err
	}
	b := encode(r)
	if int64(len(b)) > s.maxRecord {
		return fmt.Errorf("%w: %d bytes, the bound is %d", ErrTooLarge, len(b), s.maxRecord)
	}
	args := []any{"SET", s.key(r.Tenant, r.ID), b}
	if s.ttl > 0 {
		args = append(args, "PX", max(s.ttl.Milliseconds(), 1))
	}
	if _, err := s.c.Do(ctx, args...); err != nil {
		return fmt.Errorf("respstore: redis put: %w", err)
	}
	return nil
}

func (s *redisStore) Get(ctx context.Context, tenant, id string) (*Record, error) {
	v, err := s.c.Do(ctx, "GET", s.key(tenant, id))
	if err != nil {
		return nil, fmt.Errorf("respstore: redis get: %w", err)
	}
	if v.IsNil() {
		return nil, ErrNotFound
	}
	b, err := v.Bytes()
	if err != nil {
		return nil, fmt.Errorf("respstore: redis get: %w", err)
	}
	r, err := decode(b)
	if err != nil {
		return nil, fmt.Errorf("respstore: redis get %s: %w", id, err)
	}
	// The key already scopes by tenant; the check guards against a hash collision.
	if r.Tenant != tenant || r.ID != id {
		return nil, ErrNotFound
	}
	return r, nil
}

func (s *redisStore) Delete(ctx context.Context, tenant, id string) error {
	v, err := s.c.Do(ctx, "DEL", s.key(tenant, id))
	if err != nil {
		return fmt.Errorf("respstore: redis delete: %w", err)
	}
	n, err := v.Int()
	if err != nil {
		return fmt.Errorf("respstore: redis delete: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
