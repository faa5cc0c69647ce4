package main

import (
	"testing"

	"github.com/sluice-gw/sluice/sdk"
)

func TestKeyFromMetadata(t *testing.T) {
	a, err := Decode([]byte(`{"meta":{"model":"m","headers":{}},"key":"abc","last_user":"Hi Ann","system":"v1 of the letter","metadata":{"template_id":"welcome","name":"Ann","n":3}}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Decode([]byte(`{"meta":{"model":"m"},"key":"def","last_user":"Hello Ann!","system":"v2 of the letter","metadata":{"name":"Ann","template_id":"welcome"}}`))
	if Key(a, 0) != Key(b, 0) {
		t.Fatalf("same template and variables: %q != %q", Key(a, 0).Key, Key(b, 0).Key)
	}
	c, _ := Decode([]byte(`{"meta":{"model":"m"},"key":"abc","metadata":{"template_id":"welcome","name":"Bob"}}`))
	if Key(a, 0) == Key(c, 0) {
		t.Fatal("different variables share a key")
	}
	if got := Key(a, 4); got.Buckets != 4 {
		t.Fatalf("buckets %d", got.Buckets)
	}
	// Framing: a variable's value cannot impersonate another variable.
	d := Input{Metadata: map[string]string{"template_id": "t", "a": "b\x00var\x00c\x00d"}}
	e := Input{Metadata: map[string]string{"template_id": "t", "a": "b", "c": "d"}}
	if Key(d, 0) == Key(e, 0) {
		t.Fatal("a value impersonates another variable")
	}
}

func TestKeyFromHeader(t *testing.T) {
	in := Input{CacheKeyInput: sdk.CacheKeyInput{Meta: sdk.Meta{Model: "m", Headers: map[string]string{HeaderTemplate: "faq"}}, LastUser: "shipping"}}
	other := in
	other.LastUser = "returns"
	if Key(in, 0) == Key(other, 0) {
		t.Fatal("header form ignores the user message")
	}
	if got := Key(in, 0).Key; got != "template\x00m\x00faq\x00user\x00shipping" {
		t.Fatalf("key %q", got)
	}
}

func TestNoTemplateKeepsHostKey(t *testing.T) {
	in := Input{CacheKeyInput: sdk.CacheKeyInput{Key: "deadbeef"}}
	if got := Key(in, 3); got.Key != "deadbeef" || got.Buckets != 0 {
		t.Fatalf("%+v", got)
	}
}

func TestInvoke(t *testing.T) {
	sdk.Reset()
	sdk.Handle(sdk.HookCacheKey, handle)
	out, err := sdk.Invoke(sdk.HookCacheKey, []byte(`{"meta":{"model":"m","headers":{"x-template-id":"faq"}},"key":"ab","last_user":"q"}`))
	if err != nil || string(out) != `{"key":"template\u0000m\u0000faq\u0000user\u0000q"}` {
		t.Fatalf("%s %v", out, err)
	}
	if _, err := sdk.Invoke(sdk.HookCacheKey, []byte(`{"meta":{},"metadata":[`)); err == nil {
		t.Fatal("malformed input accepted")
	}
}
