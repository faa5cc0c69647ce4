package plugin

import (
	"strconv"
	"sync"
)

const (
	stderrHead = 512
	stderrTail = 1024
)

// capture keeps the first 512 and the last 1024 bytes written to a guest's stdout/stderr, so a
// chatty guest cannot grow host memory while a panic message stays visible.
type capture struct {
	mu    sync.Mutex
	head  []byte
	tail  [stderrTail]byte
	tn    int // bytes written past the head
	total int64
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	c.total += int64(n)
	if room := stderrHead - len(c.head); room > 0 {
		k := min(room, len(p))
		c.head = append(c.head, p[:k]...)
		p = p[k:]
	}
	for len(p) > 0 {
		i := c.tn % stderrTail
		k := copy(c.tail[i:], p)
		c.tn += k
		p = p[k:]
	}
	return n, nil
}

// reset forgets what was written: each call's trap report shows only that call's output, never
// an earlier caller's.
func (c *capture) reset() {
	c.mu.Lock()
	c.head, c.tn, c.total = c.head[:0], 0, 0
	c.mu.Unlock()
}

func (c *capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := string(c.head)
	if c.tn == 0 {
		return out
	}
	if c.tn <= stderrTail {
		return out + string(c.tail[:c.tn])
	}
	if skipped := c.tn - stderrTail; skipped > 0 {
		out += "\n... [" + strconv.Itoa(skipped) + " bytes elided] ...\n"
	}
	i := c.tn % stderrTail
	return out + string(c.tail[i:]) + string(c.tail[:i])
}
