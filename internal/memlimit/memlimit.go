// Package memlimit sets the Go runtime's soft memory limit (GOMEMLIMIT) from the memory limit
// of the cgroup the process runs in (a container's limit, a systemd unit's MemoryMax), so the
// collector works harder as the process nears the limit instead of the kernel killing it.
package memlimit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
)

// Fraction of the cgroup limit given to the Go heap: the rest is left for what the runtime does
// not count (goroutine stacks beyond the heap goal, wazero's compiled code, the kernel's page
// cache charged to the cgroup).
const Fraction = 0.9

// unlimited is where cgroup v1 reports "no limit" (the largest page-aligned int64) and above.
const unlimited = 1 << 62

// Result says what limit is in force and where it came from.
type Result struct {
	// Limit is the soft memory limit in bytes; 0 when there is none.
	Limit int64
	// Source is "GOMEMLIMIT" (the operator's own), the cgroup file the limit was derived from,
	// or "none".
	Source string
}

// Apply sets the runtime's memory limit to Fraction of the cgroup limit, unless the operator
// set GOMEMLIMIT (which the runtime already honours) or no cgroup limit is found.
func Apply() (Result, error) {
	if v := os.Getenv("GOMEMLIMIT"); v != "" {
		return Result{Limit: debug.SetMemoryLimit(-1), Source: "GOMEMLIMIT"}, nil
	}
	limit, src, err := Cgroup(os.DirFS("/"))
	if err != nil || limit == 0 {
		return Result{Source: "none"}, err
	}
	soft := int64(float64(limit) * Fraction)
	debug.SetMemoryLimit(soft)
	return Result{Limit: soft, Source: src}, nil
}

// Cgroup returns the memory limit in bytes of the process's cgroup, read through root (the
// file system root: proc/self/cgroup and sys/fs/cgroup), and the file it came from. It is 0
// when there is no limit. Under cgroup v2 the smallest memory.max on the way from the
// process's cgroup up to the root counts, since any ancestor's limit binds too.
func Cgroup(root fs.FS) (int64, string, error) {
	data, err := fs.ReadFile(root, "proc/self/cgroup")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, "", nil // not Linux, or no /proc
		}
		return 0, "", fmt.Errorf("memlimit: %w", err)
	}
	v2, v1, hasV1 := parseProcCgroup(data)
	if hasV1 {
		return cgroupV1(root, v1)
	}
	if v2 != "" {
		return cgroupV2(root, v2)
	}
	return 0, "", nil
}

// parseProcCgroup reads /proc/self/cgroup: "0::/path" is the v2 (unified) group, and
// "N:controllers:/path" with "memory" among the controllers the v1 memory group.
func parseProcCgroup(data []byte) (v2, v1 string, hasV1 bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2 = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			if c == "memory" {
				v1, hasV1 = parts[2], true
			}
		}
	}
	return v2, v1, hasV1
}

func cgroupV2(root fs.FS, group string) (int64, string, error) {
	var best int64
	var src string
	for dir := path.Clean("/" + group); ; dir = path.Dir(dir) {
		file := path.Join("sys/fs/cgroup", dir, "memory.max")
		n, err := readLimit(root, file)
		if err != nil {
			return 0, "", err
		}
		if n > 0 && (best == 0 || n < best) {
			best, src = n, "/"+file
		}
		if dir == "/" {
			break
		}
	}
	return best, src, nil
}

func cgroupV1(root fs.FS, group string) (int64, string, error) {
	// Inside a container without a cgroup namespace the path names the host's hierarchy, which
	// is not mounted there: the container's own limit is then at the mount's root.
	for _, dir := range []string{path.Clean("/" + group), "/"} {
		file := path.Join("sys/fs/cgroup/memory", dir, "memory.limit_in_bytes")
		if _, err := fs.Stat(root, file); err != nil {
			continue
		}
		n, err := readLimit(root, file)
		if err != nil || n == 0 {
			return 0, "", err
		}
		return n, "/" + file, nil
	}
	return 0, "", nil
}

// readLimit reads a limit file: a number of bytes, or "max" (v2) or a huge number (v1) for no
// limit, which it returns as 0; a missing file is no limit too.
func readLimit(root fs.FS, file string) (int64, error) {
	b, err := fs.ReadFile(root, file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		return 0, fmt.Errorf("memlimit: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "max" || s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("memlimit: %s: %w", file, err)
	}
	if n <= 0 || n >= unlimited {
		return 0, nil
	}
	return n, nil
}
