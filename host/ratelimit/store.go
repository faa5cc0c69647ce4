package ratelimit

import (
	"context"
	"slices"
	"sync"
)

// Store holds limiter state. Build one with NewMemoryStore or NewRedisStore; several Limiters
// may share one Store (a Redis store is how replicas share limits).
type Store interface {
	// Close releases the store's resources.
	Close() error

	// check evaluates every op against the state at now (unix ns) and, only if all pass,
	// commits them all. It returns per op the state after the commit (or the current state
	// when denied) and the index of the first denied op, or -1.
	// vals has one slot per op.
	check(ctx context.Context, now int64, ops []op, vals []int64) (denied int, err error)
	// settle applies each op's signed delta unconditionally.
	settle(ctx context.Context, now int64, ops []op) error
}

// cellKey names a cell in two parts (the rule's prefix and the subject) so that the memory
// store needs no string concatenation per request.
type cellKey struct{ rule, subject string }

func (k cellKey) String() string { return k.rule + k.subject }

type opKind uint8

const (
	opGCRA   opKind = 'g'
	opWindow opKind = 'w'
)

// op is one tier's cell in a check or settlement.
//
// GCRA cells store the theoretical arrival time (TAT, unix ns). n is the emission time of the
// demand in ns (a signed delta when settling), lim the tolerance tau. The value reported is the
// TAT's offset from now (0 when idle): how far the cell is into its burst.
//
// Window cells store the units used in the window. n is the demand (a signed delta when
// settling), lim the budget, exp the window's end (unix ns); the value reported is units used.
type op struct {
	key  cellKey
	kind opKind
	n    int64
	lim  int64
	exp  int64
}

// evalCheck is the decision rule shared by both stores (the Redis script mirrors it): given
// the stored value cur (0 if absent), it returns the value to report and whether op passes.
func evalCheck(o *op, now, cur int64) (val int64, ok bool) {
	if o.kind == opGCRA {
		off := max(cur-now, 0)
		next := off + o.n
		// A demand larger than the whole burst never passes: admitting it from idle would put
		// the cell into a debt that blocks every other request of the tier for its length.
		if next <= o.lim {
			return min(next, 2*maxOffset), true
		}
		return off, false
	}
	if cur+o.n <= o.lim {
		return cur + o.n, true
	}
	return cur, false
}

// evalSettle returns the new stored value after settling, and false to delete the cell.
func evalSettle(o *op, now, cur int64) (int64, bool) {
	if o.kind == opGCRA {
		next := min(max(cur-now, 0)+o.n, 2*maxOffset)
		if next <= 0 {
			return 0, false
		}
		return now + next, true
	}
	return max(cur+o.n, 0), true
}

const shardCount = 64

// MemoryStore keeps state in this process: a sharded map, one mutex per shard, idle cells
// dropped lazily. It is the default and needs nothing else; limits are per replica.
type MemoryStore struct {
	shards [shardCount]memShard
}

type memShard struct {
	mu     sync.Mutex
	cells  map[cellKey]memCell
	writes uint32
}

type memCell struct {
	v   int64 // TAT or units used
	exp int64 // unix ns after which the cell is idle and may be dropped
}

// sweepEvery is how many writes a shard takes between sweeps of its idle cells.
const sweepEvery = 4096

// NewMemoryStore returns an empty in-process store.
func NewMemoryStore() *MemoryStore {
	s := &MemoryStore{}
	for i := range s.shards {
		s.shards[i].cells = make(map[cellKey]memCell)
	}
	return s
}

// Close is a no-op; the store is garbage collected.
func (s *MemoryStore) Close() error { return nil }

// Len reports the number of cells held, idle ones included until swept.
func (s *MemoryStore) Len() int {
	n := 0
	for i := range s.shards {
		s.shards[i].mu.Lock()
		n += len(s.shards[i].cells)
		s.shards[i].mu.Unlock()
	}
	return n
}

func shardOf(k cellKey) int {
	h := uint32(2166136261)
	for i := 0; i < len(k.rule); i++ {
		h ^= uint32(k.rule[i])
		h *= 16777619
	}
	for i := 0; i < len(k.subject); i++ {
		h ^= uint32(k.subject[i])
		h *= 16777619
	}
	return int(h % shardCount)
}

// lock takes the shards of ops in ascending order (so concurrent checks cannot deadlock),
// filling idx with each op's shard; order (capacity >= len(ops)) receives the shards held,
// for unlock.
func (s *MemoryStore) lock(ops []op, idx, order []int) []int {
	order = order[:0]
	for i := range ops {
		idx[i] = shardOf(ops[i].key)
		order = append(order, idx[i])
	}
	slices.Sort(order)
	j := 0
	for i, v := range order {
		if i == 0 || v != order[i-1] {
			order[j] = v
			j++
		}
	}
	order = order[:j]
	for _, v := range order {
		s.shards[v].mu.Lock()
	}
	return order
}

func (s *MemoryStore) unlock(order []int) {
	for _, v := range order {
		s.shards[v].mu.Unlock()
	}
}

// scratch returns idx and order buffers, on the stack for the usual few tiers.
func scratch(n int, a, b *[8]int) (idx, order []int) {
	if n > len(a) {
		return make([]int, n), make([]int, 0, n)
	}
	return a[:n], b[:0]
}

func (s *MemoryStore) check(_ context.Context, now int64, ops []op, vals []int64) (int, error) {
	var a, b [8]int
	idx, order := scratch(len(ops), &a, &b)
	order = s.lock(ops, idx, order)
	defer s.unlock(order)
	denied := -1
	for i := range ops {
		cur := s.shards[idx[i]].cells[ops[i].key].v
		v, ok := evalCheck(&ops[i], now, cur)
		if !ok && denied < 0 {
			denied = i
		}
		vals[i] = v
	}
	if denied >= 0 {
		// Report the untouched state of every tier.
		for i := range ops {
			if ops[i].kind == opGCRA {
				vals[i] = max(s.shards[idx[i]].cells[ops[i].key].v-now, 0)
			} else {
				vals[i] = s.shards[idx[i]].cells[ops[i].key].v
			}
		}
		return denied, nil
	}
	for i := range ops {
		if ops[i].n == 0 {
			continue
		}
		c := memCell{v: vals[i], exp: ops[i].exp}
		if ops[i].kind == opGCRA {
			c = memCell{v: now + vals[i], exp: now + vals[i]}
		}
		s.put(idx[i], now, ops[i].key, c)
	}
	return -1, nil
}

func (s *MemoryStore) settle(_ context.Context, now int64, ops []op) error {
	var a, b [8]int
	idx, order := scratch(len(ops), &a, &b)
	order = s.lock(ops, idx, order)
	defer s.unlock(order)
	for i := range ops {
		o := &ops[i]
		sh := &s.shards[idx[i]]
		if o.kind == opWindow && o.exp <= now {
			continue // the window is over; nobody reads it again
		}
		v, keep := evalSettle(o, now, sh.cells[o.key].v)
		if !keep {
			delete(sh.cells, o.key)
			continue
		}
		exp := o.exp
		if o.kind == opGCRA {
			exp = v
		}
		s.put(idx[i], now, o.key, memCell{v: v, exp: exp})
	}
	return nil
}

// put stores a cell (shard locked) and now and then sweeps the shard's idle cells.
func (s *MemoryStore) put(shard int, now int64, key cellKey, c memCell) {
	sh := &s.shards[shard]
	sh.cells[key] = c
	sh.writes++
	if sh.writes%sweepEvery == 0 {
		for k, c := range sh.cells {
			if c.exp <= now {
				delete(sh.cells, k)
			}
		}
	}
}
