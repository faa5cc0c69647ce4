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

// The exports reuse one view per hook: a second call must not see the first call's headers or
// candidates, and strings kept from the first call must not change.
func TestTypedViewReuse(t *testing.T) {
	Reset()
	defer Reset()
	var kept []string
	var last RouteInput
	HandleRoute(func(in RouteInput) (RouteOutput, error) {
		kept = append(kept, in.Meta.Model, in.Candidates[0].ID)
		last = in
		return RouteOutput{Order: []string{in.Candidates[len(in.Candidates)-1].ID}}, nil
	})
	out, err := Invoke(HookRoute, []byte(benchRoute))
	if err != nil || string(out) != `{"order":["anthropic/claude-haiku-4-5#1"]}` {
		t.Fatalf("%s %v", out, err)
	}
	out, err = Invoke(HookRoute, []byte(`{"meta":{"model":"second","headers":{"x-tier":"gold"}},"candidates":[{"id":"only"}]}`))
	if err != nil || string(out) != `{"order":["only"]}` {
		t.Fatalf("%s %v", out, err)
	}
	if len(last.Candidates) != 1 || last.Meta.Header("x-tenant") != "" || last.Meta.Header("x-tier") != "gold" ||
		last.Meta.Temperature != nil || last.Meta.RequestID != "" || last.Candidates[0].Healthy {
		t.Fatalf("stale view: %+v", last)
	}
	if kept[0] != "gpt-4o-mini" || kept[1] != "openai/gpt-4o-mini#0" || kept[2] != "second" {
		t.Fatalf("kept strings changed: %q", kept)
	}
	// Escaped strings and keys decode correctly through the substring path.
	v, err := DecodeRouteInput([]byte(`{"meta":{"model":"a\"b","headers":{"x-\u0061":"v\n"}},"candidates":[]}`))
	if err != nil || v.Meta.Model != `a"b` || v.Meta.Header("x-a") != "v\n" || len(v.Candidates) != 0 {
		t.Fatalf("%+v %v", v, err)
	}
	for _, bad := range []string{`{"meta":{"model":"x"},}`, `{"candidates":[{"id":"a"},]}`, `{"meta":{"model" "x"}}`, `{"body":[1,2}`, `{"meta":{"a":tru}}`} {
		if _, err := DecodeRouteInput([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestRequestViewBodyAndMeta(t *testing.T) {
	in, err := DecodeRequestInput([]byte(`{"meta":{"model":"m","temperature":0.5},"body":{"a":[1,{"b":"\"}"}]}}`))
	if err != nil || in.Meta.Model != "m" || *in.Meta.Temperature != 0.5 || string(in.Body) != `{"a":[1,{"b":"\"}"}]}` {
		t.Fatalf("%+v %s %v", in, in.Body, err)
	}
	r, err := DecodeResponseInput([]byte(`{"status":201,"meta":null,"body":null}`))
	if err != nil || r.Status != 201 || string(r.Body) != "null" {
		t.Fatalf("%+v %v", r, err)
	}
}
