package main

import (
	"testing"

	"github.com/sluice-gw/sluice/sdk"
)

func TestKey(t *testing.T) {
	a := sdk.CacheKeyInput{Meta: sdk.Meta{Model: "m"}, System: "You are helpful.\nToday is 2025-01-01.", LastUser: "What  is\tGo?"}
	b := sdk.CacheKeyInput{Meta: sdk.Meta{Model: "m"}, System: "You are helpful.\n  Today is Friday, May 2.\n", LastUser: " what is go? "}
	if Key(a) != Key(b) {
		t.Fatalf("%q != %q", Key(a).Key, Key(b).Key)
	}
	c := b
	c.Meta.Model = "other"
	if Key(a) == Key(c) {
		t.Fatal("model ignored")
	}
	if got := Key(a).Key; got != "m\x00You are helpful.\x00what is go?" {
		t.Fatalf("key %q", got)
	}
}

func TestInvoke(t *testing.T) {
	sdk.Reset()
	sdk.HandleCacheKey(func(in sdk.CacheKeyInput) (sdk.CacheKeyOutput, error) { return Key(in), nil })
	out, err := sdk.Invoke(sdk.HookCacheKey, []byte(`{"meta":{"model":"m"},"key":"ab","last_user":"HI  there","system":"Today is x\nBe brief."}`))
	if err != nil || string(out) != `{"key":"m\u0000Be brief.\u0000hi there"}` {
		t.Fatalf("%s %v", out, err)
	}
}
