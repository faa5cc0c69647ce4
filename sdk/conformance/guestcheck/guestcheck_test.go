package guestcheck

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// fakeGuest answers like a plugin with one configurable flaw.
type fakeGuest struct {
	flaw  string
	calls int
	mem   uint64
}

func (g *fakeGuest) Hooks() []string { return []string{"route"} }
func (g *fakeGuest) Close() error    { return nil }
func (g *fakeGuest) MemoryBytes() uint64 {
	return g.mem
}

func (g *fakeGuest) Call(_ context.Context, _ string, in []byte) (Result, error) {
	g.calls++
	if g.flaw == "leak" {
		g.mem += 4096
	} else if g.mem == 0 {
		g.mem = 1 << 20
	}
	if g.flaw == "deep" && bytes.Count(in, []byte("[")) > 1000 {
		return Result{}, errors.New("wasm error: stack overflow")
	}
	if !jsonx.Valid(in) {
		return Result{IsError: true, Status: 400, Code: "bad_json", Message: "bad"}, nil
	}
	switch g.flaw {
	case "state":
		return Result{Out: []byte(`{"n":` + strconv.Itoa(g.calls) + `}`)}, nil
	case "badjson":
		if bytes.Contains(in, []byte(`\ud800`)) && jsonx.Valid(in) {
			return Result{Out: []byte("{\"s\":\"\xed\xa0\x80")}, nil
		}
	case "slow":
		time.Sleep(50 * time.Microsecond)
	}
	return Result{Out: []byte(`{"order":["a"]}`)}, nil
}

func TestCheckGuest(t *testing.T) {
	sample := []byte(`{"meta":{"model":"m","headers":{"x":"y"}},"candidates":[{"id":"a","healthy":true,"ewma_ms":3}]}`)
	for _, c := range []struct {
		flaw, check, want string
	}{
		{"", "", ""},
		{"deep", "edge", "deep member (100000 nested arrays)"},
		{"state", "state", "the sample's answer changed"},
		{"badjson", "edge", "output is not JSON"},
		{"leak", "memory", "memory grew"},
		{"slow", "latency", "over the budget"},
	} {
		t.Run(c.flaw, func(t *testing.T) {
			g := &fakeGuest{flaw: c.flaw}
			o := GuestOptions{Hook: "route", Sample: sample, Fuzz: 50, Calls: 200, MemCalls: 2000}
			if c.flaw == "slow" {
				o.P50 = time.Microsecond
			}
			r := CheckGuest(context.Background(), g, o)
			if c.check == "" {
				if !r.OK() {
					t.Fatalf("findings on a good guest: %v", r.Findings)
				}
				if r.Inputs < 50 || r.Calls < 200 || r.MemEnd == 0 {
					t.Fatalf("report %+v", r)
				}
				return
			}
			for _, f := range r.Findings {
				if f.Check == c.check && strings.Contains(f.String(), c.want) && f.Hook == "route" {
					return
				}
			}
			t.Fatalf("no %s finding mentioning %q in %v", c.check, c.want, r.Findings)
		})
	}
}

// The edge inputs that are meant to be JSON are, and each duplicates, deepens or rewrites the
// sample as its name says.
func TestEdgeInputs(t *testing.T) {
	sample := []byte(`{"a":"s","n":1,"o":{"b":[true,null]}}`)
	names := map[string][]byte{}
	for _, e := range EdgeInputs(sample) {
		names[e.Name] = e.Input
	}
	for name, want := range map[string]string{
		"duplicate key \"a\"":         `{"a":12,"a":"s","n":1,"o":{"b":[true,null]}}`,
		"every number -0":             `{"a":"s","n":-0,"o":{"b":[true,null]}}`,
		"every string NUL":            `{"a":"a\u0000b","n":1,"o":{"b":[true,null]}}`,
		"every value null":            `{"a":null,"n":null,"o":{"b":null}}`,
		"every value of another type": `{"a":12,"n":"12","o":{"b":[{},{}]}}`,
	} {
		if got := string(names[name]); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	if n := len(names["huge member (8 MiB string)"]); n < 8<<20 {
		t.Errorf("huge input %d bytes", n)
	}
}
