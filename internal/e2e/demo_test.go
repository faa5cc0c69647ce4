package e2e

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// vmRSS is the resident memory of a process in bytes, from /proc/PID/status.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q", line)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestDemoOutputBounded: a huge max_tokens to the in-process demo model is capped (finish
// "length") and does not grow the process; with the demo switched off its models are unknown.
func TestDemoOutputBounded(t *testing.T) {
	s := startSluice(t, baseConfig+"\n[providers.demo]\nchunk_delay = \"0s\"\n")
	before := vmRSS(t, s.cmd.Process.Pid)
	for _, body := range []string{
		`{"model":"demo/lorem","max_tokens":20000000}`,
		`{"model":"demo/lorem","max_tokens":20000000,"messages":[{"role":"user","content":"go"}]}`,
		`{"model":"demo/lorem","max_tokens":20000000,"stream":true,"messages":[{"role":"user","content":"go"}]}`,
	} {
		code, _, b := post(t, s.URL+"/v1/chat/completions", body)
		if code != 200 || !strings.Contains(b, `"finish_reason":"length"`) {
			t.Fatalf("%s: %d %.300s", body, code, b)
		}
		if len(b) > 1<<20 {
			t.Fatalf("%s: a %d-byte answer from the demo", body, len(b))
		}
	}
	after := vmRSS(t, s.cmd.Process.Pid)
	t.Logf("VmRSS %d MiB before, %d MiB after three 20M-token demo requests", before>>20, after>>20)
	if after > 200<<20 {
		t.Fatalf("VmRSS %d MiB after the demo requests (was %d MiB)", after>>20, before>>20)
	}

	off := startSluice(t, baseConfig+"\n[providers.demo]\nenabled = false\n")
	code, _, b := post(t, off.URL+"/v1/chat/completions", `{"model":"demo/echo","messages":[{"role":"user","content":"hi"}]}`)
	if _, c, msg := openaiError(t, b); code != 404 || c != "model_not_found" || strings.Contains(msg, "known providers: demo") {
		t.Fatalf("demo off: %d %s", code, b)
	}
}
