package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"testing"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// FuzzTypedViews checks the typed views and Decode against encoding/json. When a view decodes,
// the input must be valid JSON that encoding/json decodes to the same values (read with exact
// key names, which is what the host writes; encoding/json would also match keys ignoring case).
// When a view refuses, the input must be invalid for encoding/json, nest deeper than
// jsonx.MaxDepth, hold a duplicate key, or have a value that encoding/json cannot put in the
// field's type.
func FuzzTypedViews(f *testing.F) {
	for _, s := range []string{
		benchRoute,
		`{"meta":{"model":"m","headers":{"x-a":"1","x-b":null}},"key":"k","last_user":"Hi","system":"s"}`,
		`{"meta":{"user":"eve"},"body":{"model":"m","messages":[{"role":"user","content":"hi"}]}}`,
		`{"meta":null,"status":200,"body":{"choices":[]}}`,
		`{"meta":{"model":"a","model":"b"},"candidates":[]}`,
		`{"meta":{"model":"mod\u0065l","mod\u0065l":"x"}}`,
		`{"candidates":[{"id":"\ud83d\ude00"},{"id":"\ud800"},{"id":"\udc00\ud800"},null]}`,
		"{\"meta\":{\"model\":\"\xff\xfe\xc0\xaf\"},\"candidates\":[{\"id\":\"a\\u0000b\"}]}",
		`{"meta":{"temperature":1e400,"token_estimate":1.5,"max_tokens":-0,"now_ms":9223372036854775808}}`,
		`{"meta":{"stream":"true"},"candidates":{"id":"a"}}`,
		`{"candidates":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
		`{"key":1}`, `[]`, `null`, ` {"status":201} `, `{"body":[1,2}`, `{"a":{"b":1,"b":2}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		valid := json.Valid(b)
		depth, dup := shape(b)
		excused := func(refErr error) bool {
			return !valid || depth > jsonx.MaxDepth || dup || refErr != nil
		}
		check := func(name string, got any, err error, want any, refErr error) {
			t.Helper()
			if err != nil {
				if !excused(refErr) {
					t.Fatalf("%s refused %q (%v), but encoding/json decodes it to %+v", name, b, err, want)
				}
				return
			}
			if !valid || depth > jsonx.MaxDepth || refErr != nil {
				t.Fatalf("%s accepted %q (valid %v, depth %d, reference error %v)", name, b, valid, depth, refErr)
			}
			if !reflect.DeepEqual(normal(got), normal(want)) {
				t.Fatalf("%s of %q:\n got  %+v\n want %+v", name, b, got, want)
			}
		}
		var top map[string]any
		var topErr error
		if valid && depth <= jsonx.MaxDepth {
			top, topErr = refTop(b)
		} else {
			topErr = errors.New("not decodable")
		}

		r, err := DecodeRouteInput(b)
		var want RouteInput
		refErr := topErr
		if refErr == nil {
			want, refErr = refRoute(top)
		}
		check("route", r, err, want, refErr)

		c, err := DecodeCacheKeyInput(b)
		var wantC CacheKeyInput
		refErr = topErr
		if refErr == nil {
			wantC, refErr = refCacheKey(top)
		}
		check("cache_key", c, err, wantC, refErr)

		q, err := DecodeRequestInput(b)
		var wantQ RequestInput
		refErr = topErr
		if refErr == nil {
			wantQ.Meta, refErr = refMeta(top["meta"])
			wantQ.Body = rawMember(b, "body")
		}
		check("on_request", q, err, wantQ, refErr)

		// The reused views of the exports decode the same.
		var rv RouteInput
		if err := decodeRoute(b, &rv, true, new(float64)); err == nil {
			if !reflect.DeepEqual(normal(rv), normal(r)) {
				t.Fatalf("reused route view of %q: %+v, fresh %+v", b, rv, r)
			}
		}

		v, err := Decode(b)
		var wantV any
		refErr = errors.New("not decodable")
		if valid && depth <= jsonx.MaxDepth {
			wantV, refErr = refAny(b)
		}
		check("Decode", v, err, wantV, refErr)
	})
}

// shape returns the nesting depth of a valid document and whether any object in it has a
// duplicate key, from encoding/json's token stream.
func shape(b []byte) (depth int, dup bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // a number out of float64's range must not end the token stream
	type level struct {
		obj    bool
		keys   map[string]bool
		expect bool // next token in an object is a key
	}
	var stack []*level
	for {
		tok, err := dec.Token()
		if err != nil {
			return depth, dup
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if top != nil && top.obj {
					top.expect = true
				}
				stack = append(stack, &level{obj: d == '{', keys: map[string]bool{}, expect: true})
				depth = max(depth, len(stack))
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if top != nil && top.obj {
			if top.expect {
				k := tok.(string)
				if top.keys[k] {
					dup = true
				}
				top.keys[k] = true
				top.expect = false
			} else {
				top.expect = true
			}
		}
	}
}

func refTop(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not an object")
	}
	return m, nil
}

func refAny(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return floats(v)
}

// floats turns json.Numbers into float64, refusing those out of range as Decode does.
func floats(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		return strconv.ParseFloat(string(x), 64)
	case map[string]any:
		for k, e := range x {
			f, err := floats(e)
			if err != nil {
				return nil, err
			}
			x[k] = f
		}
	case []any:
		for i, e := range x {
			f, err := floats(e)
			if err != nil {
				return nil, err
			}
			x[i] = f
		}
	}
	return v, nil
}

var errRefType = errors.New("reference: wrong type")

func refStr(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	}
	return "", errRefType
}

func refFloat(v any) (float64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case json.Number:
		return strconv.ParseFloat(string(x), 64)
	}
	return 0, errRefType
}

func refInt(v any) (int64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case json.Number:
		return strconv.ParseInt(string(x), 10, 64)
	}
	return 0, errRefType
}

func refBool(v any) (bool, error) {
	switch x := v.(type) {
	case nil:
		return false, nil
	case bool:
		return x, nil
	}
	return false, errRefType
}

// refMeta fills a Meta the way encoding/json would with exact key names.
func refMeta(v any) (Meta, error) {
	var m Meta
	if v == nil {
		return m, nil
	}
	o, ok := v.(map[string]any)
	if !ok {
		return m, errRefType
	}
	var errs []error
	s := func(k string) string { x, err := refStr(o[k]); errs = append(errs, err); return x }
	i := func(k string) int64 { x, err := refInt(o[k]); errs = append(errs, err); return x }
	m.RequestID, m.Endpoint, m.Model, m.Router = s("request_id"), s("endpoint"), s("model"), s("router")
	m.User, m.Team, m.KeyID = s("user"), s("team"), s("key_id")
	var err error
	m.Stream, err = refBool(o["stream"])
	errs = append(errs, err)
	m.TokenEstimate, m.MaxTokens, m.NowMs = int(i("token_estimate")), int(i("max_tokens")), i("now_ms")
	if t, ok := o["temperature"]; ok && t != nil {
		f, err := refFloat(t)
		errs = append(errs, err)
		m.Temperature = &f
	}
	if h, ok := o["headers"]; ok && h != nil {
		hm, ok := h.(map[string]any)
		if !ok {
			return m, errRefType
		}
		m.Headers = map[string]string{}
		for k, e := range hm {
			m.Headers[k] = s2(e, &errs)
		}
	}
	return m, errors.Join(errs...)
}

func s2(v any, errs *[]error) string {
	x, err := refStr(v)
	*errs = append(*errs, err)
	return x
}

func refRoute(top map[string]any) (RouteInput, error) {
	var in RouteInput
	var err error
	if in.Meta, err = refMeta(top["meta"]); err != nil {
		return in, err
	}
	cs, ok := top["candidates"]
	if !ok || cs == nil {
		return in, nil
	}
	arr, ok := cs.([]any)
	if !ok {
		return in, errRefType
	}
	var errs []error
	for _, e := range arr {
		var c Candidate
		if e != nil {
			o, ok := e.(map[string]any)
			if !ok {
				return in, errRefType
			}
			f := func(k string) float64 { x, err := refFloat(o[k]); errs = append(errs, err); return x }
			i := func(k string) int { x, err := refInt(o[k]); errs = append(errs, err); return int(x) }
			c.ID, c.Provider, c.Model = s2(o["id"], &errs), s2(o["provider"], &errs), s2(o["model"], &errs)
			c.Weight, c.Priority, c.EwmaMs, c.InFlight = f("weight"), i("priority"), f("ewma_ms"), i("in_flight")
			c.ErrorRate, c.PriceIn, c.PriceOut = f("error_rate"), f("price_in"), f("price_out")
			var err error
			c.Healthy, err = refBool(o["healthy"])
			errs = append(errs, err)
		}
		in.Candidates = append(in.Candidates, c)
	}
	return in, errors.Join(errs...)
}

func refCacheKey(top map[string]any) (CacheKeyInput, error) {
	var in CacheKeyInput
	var err error
	if in.Meta, err = refMeta(top["meta"]); err != nil {
		return in, err
	}
	var errs []error
	in.Key, in.LastUser, in.System = s2(top["key"], &errs), s2(top["last_user"], &errs), s2(top["system"], &errs)
	return in, errors.Join(errs...)
}

// rawMember is the raw text of a top-level member (the last one, as encoding/json keeps).
func rawMember(b []byte, key string) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return bytes.TrimSpace(m[key])
}

// normal makes empty and nil collections compare equal.
func normal(v any) any {
	switch x := v.(type) {
	case RouteInput:
		x.Meta = normalMeta(x.Meta)
		if len(x.Candidates) == 0 {
			x.Candidates = nil
		}
		return x
	case CacheKeyInput:
		x.Meta = normalMeta(x.Meta)
		return x
	case RequestInput:
		x.Meta = normalMeta(x.Meta)
		if len(x.Body) == 0 {
			x.Body = nil
		}
		return x
	}
	return v
}

func normalMeta(m Meta) Meta {
	if len(m.Headers) == 0 {
		m.Headers = nil
	}
	return m
}
