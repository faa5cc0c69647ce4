package sdk

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/sdk/jsonx"
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
	if got := string(ErrorJSON(err)); got != `{"status":403,"type":"permission_error","code":"nope","message":"model bad"}` {
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

// The views refuse what two readers could read differently (duplicate keys, also when one is
// escaped), bound the nesting like every sluice reader, refuse values of the wrong type, and
// decode strings exactly as encoding/json does.
func TestViewsJSONRules(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	for _, c := range []struct{ in, want string }{
		{`{"meta":{"model":"a","model":"b"}}`, `duplicate key "model"`},
		{`{"meta":{"model":"a","mod\u0065l":"b"}}`, `duplicate key "model"`},
		{`{"meta":{},"meta":{}}`, `duplicate key "meta"`},
		{`{"meta":{"zz":1,"zz":2}}`, `duplicate key "zz"`},
		{`{"meta":{"headers":{"x":"1","x":"2"}}}`, `duplicate key "x"`},
		{`{"candidates":[{"id":"a","id":"b"}]}`, `duplicate key "id"`},
		{`{"meta":{"model":5}}`, "expected string"},
		{`{"meta":{"token_estimate":1.5}}`, "not an integer"},
		{`{"meta":{"temperature":1e400}}`, "out of range"},
		{`{"candidates":[{"healthy":"yes"}]}`, "expected boolean"},
		{`{"x":` + deep(jsonx.MaxDepth) + `}`, "exceeded max depth"},
		{`{"meta":{"model":"m"}} x`, "after top-level value"},
		{`[]`, "expected object"},
	} {
		if _, err := DecodeRouteInput([]byte(c.in)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.60s: error %v, want %q", c.in, err, c.want)
		}
	}
	if _, err := DecodeRouteInput([]byte(`{"x":` + deep(jsonx.MaxDepth-1) + `}`)); err != nil {
		t.Errorf("nesting of exactly MaxDepth refused: %v", err)
	}
	for _, s := range []string{`"\ud83d\ude00"`, `"\ud800"`, `"\udc00\ud800"`, `"a\ud800\u0041"`, "\"\xff\xfe\"", "\"\xc0\xaf\"", "\"\xe2\x82\"", `"\u2028"`, `"ok"`} {
		var want string
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatal(err)
		}
		in, err := DecodeRouteInput([]byte(`{"meta":{"model":` + s + `},"candidates":[{"id":` + s + `}]}`))
		if err != nil || in.Meta.Model != want || in.Candidates[0].ID != want {
			t.Errorf("%s: %q %q %v, encoding/json %q", s, in.Meta.Model, in.Candidates[0].ID, err, want)
		}
		if got, ok := String([]byte(s)); !ok || got != want {
			t.Errorf("String(%s) = %q, want %q", s, got, want)
		}
	}
	if _, ok := Field([]byte(`{"a":1,"a":2}`), "a"); ok {
		t.Error("Field read a duplicate key")
	}
	if _, err := SetField([]byte(`{"a":1,"a":2}`), "a", []byte("3")); err == nil {
		t.Error("SetField accepted a duplicate key")
	}
	if _, err := Decode([]byte(`{"a":{"b":1,"b":2}}`)); err == nil {
		t.Error("Decode accepted a duplicate key")
	}
	if _, err := Invoke(HookInit, []byte(`{"name":"a","name":"b","config":{}}`)); err == nil {
		t.Error("init accepted a duplicate key")
	}
}
