package chart

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/strvals"
	"sigs.k8s.io/yaml"
)

// readmeDeploy returns the shell commands of the README's Deploy section, one per line.
func readmeDeploy(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n## Deploy\n")
	if i < 0 {
		t.Fatal("README has no Deploy section")
	}
	s = s[i+1:]
	if j := strings.Index(s[3:], "\n## "); j >= 0 {
		s = s[:j+3]
	}
	var cmds []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(s, -1) {
		for _, line := range strings.Split(m[1], "\n") {
			if line = strings.TrimSpace(line); line != "" {
				cmds = append(cmds, line)
			}
		}
	}
	return cmds
}

func repoRoot() string { return filepath.Join(Dir(), "..", "..", "..") }

// TestReadmeDeployCommands runs what of the README's Deploy commands can run without a cluster
// or root: every make target is dry-run, every file a command installs or loads exists or is
// what its make target writes, and every helm install is rendered with its own flags. The rest
// (the image under podman, the systemd unit) run in this module's image and systemd tests.
func TestReadmeDeployCommands(t *testing.T) {
	cmds := readmeDeploy(t)
	if len(cmds) < 8 {
		t.Fatalf("found %d commands in the Deploy section: %q", len(cmds), cmds)
	}
	dry := map[string]string{}
	for _, c := range cmds {
		for _, part := range strings.Split(c, "&&") {
			f := strings.Fields(strings.TrimSpace(part))
			if len(f) > 0 && f[0] == "sudo" {
				f = f[1:]
			}
			if len(f) == 0 {
				continue
			}
			switch f[0] {
			case "make":
				out, err := exec.Command("make", "-C", repoRoot(), "-n", f[1]).CombinedOutput()
				if err != nil {
					t.Errorf("%q: make -n: %v\n%s", c, err, out)
				}
				dry[f[1]] = string(out)
			case "helm":
				helmInstall(t, c, f)
			case "install":
				src := f[len(f)-2]
				switch {
				case strings.HasPrefix(src, "dist/"):
					if !strings.Contains(dry["release"], "dist/sluice-") || !strings.Contains(dry["release"], "linux/amd64") && !strings.Contains(dry["release"], "linux amd64") && !strings.Contains(dry["release"], "linux-amd64") {
						t.Errorf("%q: make release does not build %s", c, src)
					}
				case src == "sluice.toml":
				default:
					if _, err := os.Stat(filepath.Join(repoRoot(), src)); err != nil {
						t.Errorf("%q: %v", c, err)
					}
				}
			case "podman":
				if len(f) > 2 && f[1] == "load" && !strings.Contains(dry["image"], strings.TrimPrefix(f[3], "bin/")) {
					t.Errorf("%q: make image does not write %s", c, f[3])
				}
			case "cd":
				if f[1] == "dist" && !strings.Contains(dry["release"], "SHA256SUMS") {
					t.Errorf("%q: make release writes no SHA256SUMS", c)
				}
			case "sha256sum", "kubectl", "systemctl":
				// needs a release build, a cluster or root: checked above or by other tests
			default:
				t.Errorf("%q: a command this test does not know how to check", c)
			}
		}
	}
}

// helmInstall renders `helm install NAME CHART [-f FILE] [--set k=v]...` as helm would.
func helmInstall(t *testing.T, line string, f []string) {
	t.Helper()
	if len(f) < 4 || f[1] != "install" || f[3] != "deploy/helm/sluice" {
		t.Errorf("%q: not a helm install of the chart", line)
		return
	}
	var files []string
	sets := map[string]any{}
	for i := 4; i < len(f); i++ {
		switch f[i] {
		case "-f", "--values":
			i++
			files = append(files, filepath.Join(repoRoot(), f[i]))
		case "--set":
			i++
			if err := strvals.ParseInto(f[i], sets); err != nil {
				t.Errorf("%q: --set %s: %v", line, f[i], err)
			}
		default:
			t.Errorf("%q: flag %s not understood", line, f[i])
		}
	}
	if len(sets) > 0 {
		b, err := yaml.Marshal(sets)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), "set.yaml")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
		checkKnownValues(t, line, sets)
	}
	ms, err := Render(f[2], "default", files...)
	if err != nil {
		t.Errorf("%q: %v", line, err)
		return
	}
	if !strings.Contains(Join(ms), "kind: Deployment") {
		t.Errorf("%q: no Deployment rendered", line)
	}
}

// checkKnownValues fails on a --set key the chart's values.yaml does not have: helm would take
// it silently and do nothing.
func checkKnownValues(t *testing.T, line string, sets map[string]any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(), "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var defaults map[string]any
	if err := yaml.Unmarshal(b, &defaults); err != nil {
		t.Fatal(err)
	}
	var walk func(prefix string, set, def map[string]any)
	walk = func(prefix string, set, def map[string]any) {
		for k, v := range set {
			dv, ok := def[k]
			if !ok {
				t.Errorf("%q: --set %s%s is not a value of the chart", line, prefix, k)
				continue
			}
			if sm, ok := v.(map[string]any); ok {
				dm, _ := dv.(map[string]any)
				walk(prefix+k+".", sm, dm)
			}
		}
	}
	walk("", sets, defaults)
}
