package plugin

import (
	"context"
)

// get takes an instance, creating one lazily when the pool is below its cap.
func (v *version) get(ctx context.Context) (*instance, error) {
	select {
	case v.slots <- struct{}{}:
	default:
		select {
		case v.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	v.mu.Lock()
	if k := len(v.idle); k > 0 {
		inst := v.idle[k-1]
		v.idle = v.idle[:k-1]
		v.mu.Unlock()
		return inst, nil
	}
	v.mu.Unlock()
	inst, err := v.newInstance(context.WithoutCancel(ctx), false)
	if err != nil {
		<-v.slots
		return nil, err
	}
	return inst, nil
}

// put returns a healthy instance to the pool.
func (v *version) put(inst *instance) {
	if inst.mem.Size() > v.recycle {
		// Go guests never shrink their heap; start over rather than pin the high-water mark.
		v.discard(inst)
		return
	}
	v.mu.Lock()
	v.idle = append(v.idle, inst)
	v.mu.Unlock()
	<-v.slots
}

// discard drops an instance after a trap or deadline.
func (v *version) discard(inst *instance) {
	v.live.Add(-1)
	<-v.slots
	go inst.mod.Close(context.Background())
}
