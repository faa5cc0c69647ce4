package main

import (
	"testing"

	"github.com/sluice-gw/sluice/sdk"
)

func TestCheckResponse(t *testing.T) {
	words := Lower([]string{" Zebra "})
	for body, blocked := range map[string]bool{
		`{"choices":[{"message":{"content":"a ZEBRA here"}}]}`:                                                     true,
		`{"choices":[{"message":{"content":[{"type":"text","text":"zebra"}]}}]}`:                                   true,
		`{"choices":[{"message":{"content":null,"tool_calls":[{"function":{"arguments":"{\"a\":\"zebra\"}"}}]}}]}`: true,
		`{"choices":[{"text":"zebras"}]}`:                                                                          true,
		`{"choices":[{"message":{"content":"a horse"}}]}`:                                                          false,
	} {
		d := CheckResponse(words, 200, []byte(body))
		if (d.Action == sdk.ActionReject) != blocked {
			t.Errorf("%s: %+v", body, d)
		}
		if blocked && (d.Status != 403 || d.Code != "content_blocked") {
			t.Errorf("%s: %+v", body, d)
		}
	}
	if d := CheckResponse(words, 200, []byte(`not json`)); d.Action != sdk.ActionReject {
		t.Errorf("unreadable answer let through: %+v", d)
	}
	if d := CheckResponse(words, 500, []byte(`{"error":{"message":"zebra"}}`)); d.Action != sdk.ActionAllow {
		t.Errorf("error answers are not the guard's: %+v", d)
	}
}

func TestCheckRequest(t *testing.T) {
	words := Lower([]string{"zebra"})
	if d := CheckRequest(words, []byte(`{"messages":[{"role":"user","content":"tell me of zebras"}]}`)); d.Action != sdk.ActionReject || d.Code != "prompt_blocked" {
		t.Fatalf("%+v", d)
	}
	if d := CheckRequest(words, []byte(`{"messages":[{"role":"user","content":"horses"}]}`)); d.Action != sdk.ActionAllow {
		t.Fatalf("%+v", d)
	}
}
