package cache

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite golden files")

var testParts = KeyParts{Endpoint: "chat.completions", Model: "openai/gpt-4o-mini"}

// readGroups parses a file of blank-line separated groups of JSON lines.
func readGroups(t *testing.T, name string) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var groups [][]string
	var cur []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "#"):
		case line == "":
			if len(cur) > 0 {
				groups = append(groups, cur)
				cur = nil
			}
		default:
			cur = append(cur, line)
		}
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	if len(groups) == 0 {
		t.Fatalf("%s: no groups", name)
	}
	return groups
}

func mustKey(t *testing.T, body string, p KeyParts) Key {
	t.Helper()
	k, _, err := KeyFor([]byte(body), p)
	if err != nil {
		t.Fatalf("KeyFor(%s): %v", body, err)
	}
	if len(k) != 64 {
		t.Fatalf("key %q is not 64 hex digits", k)
	}
	return k
}

func TestKeyEquivalentRequests(t *testing.T) {
	for gi, g := range readGroups(t, "equivalent.txt") {
		want := mustKey(t, g[0], testParts)
		for _, body := range g[1:] {
			if got := mustKey(t, body, testParts); got != want {
				c0, _ := canonical([]byte(g[0]), "chat.completions", nil)
				c1, _ := canonical([]byte(body), "chat.completions", nil)
				t.Errorf("group %d: key differs\n  %s -> %s\n  %s -> %s", gi, g[0], c0, body, c1)
			}
		}
	}
}

func TestKeySemanticDifferences(t *testing.T) {
	for gi, g := range readGroups(t, "different.txt") {
		seen := map[Key]string{}
		for _, body := range g {
			k := mustKey(t, body, testParts)
			if prev, dup := seen[k]; dup {
				t.Errorf("group %d: same key for\n  %s\n  %s", gi, prev, body)
			}
			seen[k] = body
		}
	}
}

func TestKeyPartsSeparate(t *testing.T) {
	body := `{"messages":[{"role":"user","content":"hi"}]}`
	base := mustKey(t, body, testParts)
	variants := map[string]KeyParts{
		"namespace":   {Endpoint: "chat.completions", Model: "openai/gpt-4o-mini", Namespace: "team-a"},
		"namespace2":  {Endpoint: "chat.completions", Model: "openai/gpt-4o-mini", Namespace: "team-b"},
		"model":       {Endpoint: "chat.completions", Model: "anthropic/claude-haiku-4-5"},
		"seed":        {Endpoint: "chat.completions", Model: "openai/gpt-4o-mini", Seed: "s1"},
		"endpoint":    {Endpoint: "completions", Model: "openai/gpt-4o-mini"},
		"framing":     {Endpoint: "chat.completions", Model: "openai/gpt-4o-mini", Namespace: "a", Seed: "b"},
		"framing-alt": {Endpoint: "chat.completions", Model: "openai/gpt-4o-mini", Namespace: "ab"},
	}
	seen := map[Key]string{base: "base"}
	for name, p := range variants {
		k := mustKey(t, body, p)
		if prev, dup := seen[k]; dup {
			t.Errorf("%s and %s share key %s", name, prev, k)
		}
		seen[k] = name
	}
	// Tenant isolation also holds for plugin-provided keys.
	pa := KeyFromPlugin("bucket-7", KeyParts{Endpoint: "chat.completions", Model: "m", Namespace: "team-a"})
	pb := KeyFromPlugin("bucket-7", KeyParts{Endpoint: "chat.completions", Model: "m", Namespace: "team-b"})
	pa2 := KeyFromPlugin("bucket-7", KeyParts{Endpoint: "chat.completions", Model: "m", Namespace: "team-a"})
	if pa == pb || pa != pa2 || len(pa) != 64 {
		t.Fatalf("plugin keys: a=%s b=%s a2=%s", pa, pb, pa2)
	}
	if seen[pa] != "" {
		t.Fatal("plugin key collides with a canonical key")
	}
}

func TestKeyIgnoreAndErrors(t *testing.T) {
	a := `{"messages":[{"role":"user","content":"hi"}],"trace":"1"}`
	b := `{"messages":[{"role":"user","content":"hi"}],"trace":"2"}`
	if mustKey(t, a, testParts) == mustKey(t, b, testParts) {
		t.Fatal("unknown field must be part of the key by default")
	}
	p := testParts
	p.Ignore = []string{"trace"}
	if mustKey(t, a, p) != mustKey(t, b, p) {
		t.Fatal("ignored field changed the key")
	}
	for _, bad := range []string{``, `[]`, `"x"`, `{`, `{"a":}`, `{"a":1,}`, `{"a":1} x`, `{"a":01}`, `{"a":"\x"}`, `{"a":tru}`, "{\"a\":\"\x01\"}"} {
		if _, _, err := KeyFor([]byte(bad), testParts); err == nil {
			t.Errorf("KeyFor(%q): want error", bad)
		}
	}
	if _, _, err := KeyFor([]byte(`{}`), KeyParts{Endpoint: "chat.completions"}); err != ErrNoModel {
		t.Errorf("missing model: got %v", err)
	}
}

func TestKeyExtract(t *testing.T) {
	body := `{"messages":[{"role":"system","content":"S1"},{"role":"developer","content":[{"type":"text","text":"S2"}]},
	{"role":"user","content":"first"},{"role":"assistant","content":"a"},
	{"role":"user","content":[{"type":"text","text":"line\u00e9"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"two"}]}]}`
	_, ex, err := KeyFor([]byte(body), testParts)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Extract{LastUser: "lineé\ntwo", System: "S1\nS2"}); ex != want {
		t.Fatalf("extract = %+v, want %+v", ex, want)
	}
	_, ex, _ = KeyFor([]byte(`{"prompt":"say \"hi\"\n"}`), KeyParts{Endpoint: "completions", Model: "m"})
	if ex.LastUser != "say \"hi\"\n" {
		t.Fatalf("prompt extract = %q", ex.LastUser)
	}
}

func TestCanonicalGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/canonical/*.json")
	if len(files) == 0 {
		t.Fatal("no canonical inputs")
	}
	for _, in := range files {
		t.Run(filepath.Base(in), func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := canonical(body, "chat.completions", []string{"trace_id"})
			if err != nil {
				t.Fatal(err)
			}
			_, ex, err := KeyFor(body, KeyParts{Endpoint: "chat.completions", Model: "m", Ignore: []string{"trace_id"}})
			if err != nil {
				t.Fatal(err)
			}
			out := fmt.Sprintf("canonical: %s\nlast_user: %q\nsystem: %q\n", got, ex.LastUser, ex.System)
			golden := strings.TrimSuffix(in, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if out != string(want) {
				t.Fatalf("got:\n%s\nwant:\n%s", out, want)
			}
			if !json.Valid(got) {
				t.Fatal("canonical form is not valid JSON")
			}
		})
	}
}

func FuzzCanonical(f *testing.F) {
	files, _ := filepath.Glob("testdata/canonical/*.json")
	for _, in := range files {
		b, _ := os.ReadFile(in)
		f.Add(b)
	}
	for _, g := range [][]string{{`{"a":[1,{"b":null}],"a":"\ud800"}`}, {`{"x":1e400,"y":-0.0}`}} {
		f.Add([]byte(g[0]))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := canonical(in, "chat.completions", nil)
		if err != nil {
			return
		}
		if !json.Valid(out) || !utf8.Valid(out) {
			t.Fatalf("invalid output %q from %q", out, in)
		}
		again, err := canonical(out, "chat.completions", nil)
		if err != nil {
			t.Fatalf("canonical form rejected: %v (%q)", err, out)
		}
		if !bytes.Equal(out, again) {
			t.Fatalf("not idempotent:\n%s\n%s", out, again)
		}
		// Whatever encoding/json accepts as an object, we accept too.
		var m map[string]any
		if json.Unmarshal(in, &m) == nil && m != nil {
			if _, _, err := KeyFor(in, testParts); err != nil {
				t.Fatalf("KeyFor rejected valid JSON %q: %v", in, err)
			}
		}
	})
}

// request4K builds a realistic ~4 KB chat request with unsorted keys.
func request4K() []byte {
	var b bytes.Buffer
	b.WriteString(`{"model":"gpt-4o-mini","temperature":0.7,"stream":true,"messages":[{"role":"system","content":"You are a careful assistant. Answer briefly and cite sources when you can."}`)
	for i := 0; b.Len() < 3600; i++ {
		fmt.Fprintf(&b, `,{"content":"Message %d: the quick brown fox jumps over the lazy dog, then asks about caching \"keys\" and \u00e9t\u00e9 weather.","role":"%s"}`, i, []string{"user", "assistant"}[i%2])
	}
	b.WriteString(`],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"enum":["c","f"],"type":"string"}},"required":["city"]}}}],"max_tokens":256,"user":"u-42"}`)
	return b.Bytes()
}

func TestRequest4KIsValid(t *testing.T) {
	r := request4K()
	if !json.Valid(r) || len(r) < 3600 || len(r) > 4400 {
		t.Fatalf("bench body: valid=%v len=%d", json.Valid(r), len(r))
	}
}

func BenchmarkKey4K(b *testing.B) {
	body := request4K()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := KeyFor(body, testParts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKey4KViaEncodingJSON is the map round-trip the canonicaliser
// replaces, for comparison.
func BenchmarkKey4KViaEncodingJSON(b *testing.B) {
	body := request4K()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(m); err != nil {
			b.Fatal(err)
		}
	}
}
