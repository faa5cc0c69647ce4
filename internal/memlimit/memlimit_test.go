package memlimit

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
	"testing/fstest"
)

func TestCgroup(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  int64
		src   string
	}{
		{
			name: "v2 container (cgroup namespace)",
			files: map[string]string{
				"proc/self/cgroup":          "0::/\n",
				"sys/fs/cgroup/memory.max":  "536870912\n",
				"sys/fs/cgroup/memory.high": "max\n",
			},
			want: 512 << 20, src: "/sys/fs/cgroup/memory.max",
		},
		{
			name: "v2 systemd unit, limit on the slice above is smaller",
			files: map[string]string{
				"proc/self/cgroup": "0::/system.slice/sluice.service\n",
				"sys/fs/cgroup/system.slice/sluice.service/memory.max": "2147483648\n",
				"sys/fs/cgroup/system.slice/memory.max":                "1073741824\n",
			},
			want: 1 << 30, src: "/sys/fs/cgroup/system.slice/memory.max",
		},
		{
			name: "v2 no limit",
			files: map[string]string{
				"proc/self/cgroup": "0::/user.slice/session-1.scope\n",
				"sys/fs/cgroup/user.slice/session-1.scope/memory.max": "max\n",
				"sys/fs/cgroup/user.slice/memory.max":                 "max\n",
			},
		},
		{
			name: "v1 with the group mounted",
			files: map[string]string{
				"proc/self/cgroup": "12:pids:/docker/abc\n11:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n",
				"sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes": "268435456\n",
			},
			want: 256 << 20, src: "/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes",
		},
		{
			name: "v1 host path not mounted in the container",
			files: map[string]string{
				"proc/self/cgroup":                           "5:memory:/kubepods/burstable/pod1/c1\n",
				"sys/fs/cgroup/memory/memory.limit_in_bytes": "134217728",
			},
			want: 128 << 20, src: "/sys/fs/cgroup/memory/memory.limit_in_bytes",
		},
		{
			name: "v1 unlimited",
			files: map[string]string{
				"proc/self/cgroup":                           "4:memory:/\n",
				"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
			},
		},
		{
			name:  "no proc",
			files: map[string]string{"etc/hostname": "x"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := fstest.MapFS{}
			for p, c := range tc.files {
				m[p] = &fstest.MapFile{Data: []byte(c)}
			}
			got, src, err := Cgroup(m)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || src != tc.src {
				t.Fatalf("got %d from %q, want %d from %q", got, src, tc.want, tc.src)
			}
		})
	}
}

func TestCgroupBadValue(t *testing.T) {
	m := fstest.MapFS{
		"proc/self/cgroup":         {Data: []byte("0::/\n")},
		"sys/fs/cgroup/memory.max": {Data: []byte("lots\n")},
	}
	if _, _, err := Cgroup(m); err == nil {
		t.Fatal("a malformed memory.max was accepted")
	}
}

// TestCgroupOnDisk reads the same layout from real files, as Apply does through os.DirFS.
func TestCgroupOnDisk(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("proc/self/cgroup", "0::/app\n")
	write("sys/fs/cgroup/app/memory.max", "1000000\n")
	got, _, err := Cgroup(os.DirFS(root))
	if err != nil || got != 1000000 {
		t.Fatalf("got %d, %v", got, err)
	}
}

func TestApplyHonoursGOMEMLIMIT(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(prev)
	debug.SetMemoryLimit(300 << 20)
	t.Setenv("GOMEMLIMIT", "300MiB")
	r, err := Apply()
	if err != nil || r.Source != "GOMEMLIMIT" || r.Limit != 300<<20 {
		t.Fatalf("got %+v, %v", r, err)
	}
	if debug.SetMemoryLimit(-1) != 300<<20 {
		t.Fatal("Apply changed an operator-set limit")
	}
}
