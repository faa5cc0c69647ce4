package systemd

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/deploy/internal/buildtest"
)

// parse reads a unit file into section -> key -> values (a key may repeat).
func parse(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value in a section: %q", path, n, line)
			}
			out[section][k] = append(out[section][k], v)
		}
	}
	return out
}

func TestUnitKeys(t *testing.T) {
	u := parse(t, "sluice.service")
	svc := u["Service"]
	want := map[string]string{
		"DynamicUser":           "yes",
		"ProtectSystem":         "strict",
		"NoNewPrivileges":       "yes",
		"CapabilityBoundingSet": "",
		"AmbientCapabilities":   "",
		"ExecReload":            "/bin/kill -HUP $MAINPID",
		"KillSignal":            "SIGTERM",
		"PrivateTmp":            "yes",
		"ProtectHome":           "yes",
	}
	for k, v := range want {
		got, ok := svc[k]
		if !ok || got[len(got)-1] != v {
			t.Errorf("[Service] %s = %q, want %q", k, got, v)
		}
	}
	if !strings.HasPrefix(first(svc["ExecStart"]), "/usr/local/bin/sluice serve -c /etc/sluice/sluice.toml") {
		t.Errorf("ExecStart %q", svc["ExecStart"])
	}
	// The stop timeout must cover the drain: server.shutdown_timeout (30s by default) plus
	// drain_delay (0 by default), with a margin.
	stop, err := time.ParseDuration(first(svc["TimeoutStopSec"]))
	if err != nil || stop <= 30*time.Second {
		t.Errorf("TimeoutStopSec %q: want more than the 30s default drain", svc["TimeoutStopSec"])
	}
	if first(u["Install"]["WantedBy"]) != "multi-user.target" {
		t.Errorf("WantedBy %q", u["Install"]["WantedBy"])
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// TestUnitVerifies runs systemd-analyze verify over the unit, with ExecStart pointing at a
// real sluice binary (verify checks that the program exists).
func TestUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed; TestUnitKeys checked the keys")
	}
	bin, err := buildtest.Static()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("sluice.service")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sluice.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/sluice", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || strings.Contains(string(out), "sluice.service:") {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
