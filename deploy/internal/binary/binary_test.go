package binary

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/deploy/internal/buildtest"
)

// SizeBudget is the most a stripped release binary may weigh.
const SizeBudget = 25 << 20

// TestVersionFromLdflags: what the Makefile stamps with -X is what `sluice version` prints.
func TestVersionFromLdflags(t *testing.T) {
	bin, err := buildtest.Static()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := "sluice v0.0.0-test\nmodule  github.com/sluice-gw/sluice\ncommit  0123abc\ngo      " + runtime.Version() + " linux/" + runtime.GOARCH + "\n"
	if string(out) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", out, want)
	}
}

// TestVersionFromVCS: without -X, the commit comes from the VCS stamp the go command records.
func TestVersionFromVCS(t *testing.T) {
	if testing.Short() {
		t.Skip("links another binary")
	}
	git := exec.Command("git", "rev-parse", "HEAD")
	git.Dir = buildtest.Root()
	head, err := git.Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "sluice")
	if err := buildtest.Build(bin, "-s -w", "GOFLAGS=-buildvcs=true"); err != nil {
		t.Fatal(err)
	}
	// The go command finds no repository through a git worktree's .git file and records
	// nothing then; a clone (as CI has) is stamped.
	if m, _ := exec.Command("go", "version", "-m", bin).Output(); !strings.Contains(string(m), "vcs.revision=") {
		t.Skip("the go command recorded no VCS information for this checkout (a git worktree?)")
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !regexp.MustCompile(`(?m)^commit  ` + strings.TrimSpace(string(head)) + `( \(modified\))?$`).Match(out) {
		t.Fatalf("commit %s not in:\n%s", head, out)
	}
}

// TestDeadCodeElimination: nothing in the binary calls reflect's method lookup with a name
// known only at run time. The linker marks such callers <ReflectMethod> in its -dumpdep
// graph, and one of them is enough for it to keep every exported method of every reachable
// type. text/template (reached through golang.org/x/net/trace from gRPC unless it is built
// with -tags grpcnotrace) is the usual culprit.
func TestDeadCodeElimination(t *testing.T) {
	if testing.Short() {
		t.Skip("links another binary")
	}
	cmd := exec.Command("go", "build", "-trimpath", "-tags", buildtest.Tags, "-ldflags=-dumpdep", "-o", filepath.Join(t.TempDir(), "sluice"), "./cmd/sluice")
	cmd.Dir = buildtest.Root()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%.2000s", err, out)
	}
	if !strings.Contains(string(out), " -> ") {
		t.Fatalf("-dumpdep printed no dependency graph:\n%.2000s", out)
	}
	var culprits []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		from, _, _ := strings.Cut(line, " -> ")
		if strings.Contains(from, "<ReflectMethod>") && !seen[from] {
			seen[from] = true
			culprits = append(culprits, from)
		}
	}
	if len(culprits) > 0 {
		t.Fatalf("dead-code elimination is off; callers of reflect method lookup by name:\n  %s", strings.Join(culprits, "\n  "))
	}
}

// TestMakefileTags: the Makefile builds with the tags these checks assume.
func TestMakefileTags(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(buildtest.Root(), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^BUILD_TAGS\s*\??=\s*(.*)$`).FindSubmatch(b)
	if m == nil || strings.TrimSpace(string(m[1])) != buildtest.Tags {
		t.Fatalf("Makefile BUILD_TAGS %q, want %q", m, buildtest.Tags)
	}
}

func TestSizeBudget(t *testing.T) {
	bin, err := buildtest.Static()
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stripped linux/%s binary: %.1f MiB (budget %d MiB)", runtime.GOARCH, float64(st.Size())/(1<<20), SizeBudget>>20)
	if st.Size() > SizeBudget {
		t.Fatalf("binary is %d bytes, over the %d budget", st.Size(), SizeBudget)
	}
}
