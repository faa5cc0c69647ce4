package sdk

import (
	"errors"
	"testing"
)

func TestDecodeRouteInput(t *testing.T) {
	in, err := DecodeRouteInput([]byte(benchRoute))
	if err != nil {
		t.Fatal(err)
	}
	m := in.Meta
	if m.RequestID != "r1" || m.Model != "gpt-4o-mini" || m.TokenEstimate != 123 || m.Temperature == nil || *m.Temperature != 0.7 ||
		m.Header("x-tenant") != "acme" || m.NowMs != 1700000000000 || len(in.Candidates) != 2 {
		t.Fatalf("meta %+v", m)
	}
	c := in.Candidates[0]
	if c.ID != "openai/gpt-4o-mini#0" || !c.Healthy || c.EwmaMs != 12.5 || c.InFlight != 3 || c.PriceOut != 0.6 {
		t.Fatalf("candidate %+v", c)
	}
	if _, err := DecodeRouteInput([]byte(`{"meta":{"model":"x"`)); err == nil {
		t.Fatal("truncated input accepted")
	}
}

func TestStringsAndFields(t *testing.T) {
	s, ok := String([]byte(`"a\"b\\c\n\u00e9\ud83d\ude00"`))
	if !ok || s != "a\"b\\c\né😀" {
		t.Fatalf("%q", s)
	}
	if got := string(AppendString(nil, "a\"b\\c\n\x01é")); got != `"a\"b\\c\n\u0001é"` {
		t.Fatal(got)
	}
	obj := []byte(`{"a":1,"b":{"c":[1,2]},"d":"x"}`)
	if v, ok := Field(obj, "b"); !ok || string(v) != `{"c":[1,2]}` {
		t.Fatalf("%s", v)
	}
	out, err := SetField(obj, "a", []byte("2"))
	if err != nil || string(out) != `{"a":2,"b":{"c":[1,2]},"d":"x"}` {
		t.Fatalf("%s %v", out, err)
	}
	out, _ = SetField(obj, "e", []byte("true"))
	if string(out) != `{"a":1,"b":{"c":[1,2]},"d":"x","e":true}` {
		t.Fatal(string(out))
	}
	out, _ = SetField(obj, "b", nil)
	if string(out) != `{"a":1,"d":"x"}` {
		t.Fatal(string(out))
	}
}

func TestInvokeAndErrors(t *testing.T) {
	Reset()
	defer Reset()
	HandleRequest(func(in RequestInput) (Decision, error) {
		if in.Meta.Model == "bad" {
			return Decision{}, Errorf(403, "nope", "model %s", in.Meta.Model)
		}
		return Allow(), nil
	})
	if got := Hooks(); len(got) != 2 || got[1] != HookOnRequest {
		t.Fatalf("hooks %v", got)
	}
	out, err := Invoke(HookOnRequest, []byte(`{"meta":{"model":"ok"},"body":{}}`))
	if err != nil || string(out) != `{"action":"allow"}` {
		t.Fatalf("%s %v", out, err)
	}
	_, err = Invoke(HookOnRequest, []byte(`{"meta":{"model":"bad"},"body":{}}`))
	if got := string(ErrorJSON(err)); got != `{"status":403,"type":"invalid_request_error","code":"nope","message":"model bad"}` {
		t.Fatal(got)
	}
	if got := string(ErrorJSON(errors.New("x"))); got != `{"status":500,"type":"api_error","code":"plugin_error","message":"x"}` {
		t.Fatal(got)
	}
	if _, err := Invoke(HookRoute, nil); err == nil {
		t.Fatal("unregistered hook ran")
	}
}
