package main

import (
	"fmt"
	"testing"

	"github.com/sluice-gw/sluice/sdk"
)

func TestSplitShareAndDeterminism(t *testing.T) {
	s := Split{A: "openai/gpt-4o-mini", B: "anthropic/claude-haiku-4-5", PercentB: 20}
	b := 0
	for i := range 10000 {
		id := fmt.Sprintf("req-%d", i)
		arm := s.Arm(id)
		if arm != s.Arm(id) {
			t.Fatal("not deterministic")
		}
		if arm == s.B {
			b++
		}
	}
	if b < 1800 || b > 2200 {
		t.Fatalf("B got %d of 10000, want about 2000", b)
	}
	if (Split{A: "a", B: "b", PercentB: 0}).Arm("x") != "a" || (Split{A: "a", B: "b", PercentB: 100}).Arm("x") != "b" {
		t.Fatal("0% / 100% edges")
	}
}

func TestRoute(t *testing.T) {
	s := Split{A: "openai/gpt-4o-mini", B: "anthropic/claude-haiku-4-5", PercentB: 100}
	in := sdk.RouteInput{Meta: sdk.Meta{RequestID: "r"}, Candidates: []sdk.Candidate{
		{ID: "a", Provider: "openai", Model: "gpt-4o-mini"},
		{ID: "x", Provider: "groq", Model: "llama"},
		{ID: "b", Provider: "anthropic", Model: "claude-haiku-4-5"},
	}}
	if got := fmt.Sprint(Route(s, in).Order); got != "[b a x]" {
		t.Fatalf("order %s", got)
	}
}
