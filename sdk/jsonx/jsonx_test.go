package jsonx

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestParseAgreesWithEncodingJSON(t *testing.T) {
	cases := []string{
		`{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `1.5e+10`, `"a"`, ` {"a" : [1, 2, {"b": null}]} `,
		`"\u00e9\ud83d\ude00"`, `"\ud800"`, "\"\xff\"", `01`, `1.`, `.1`, `-`, `1e`, `[1,]`, `{"a":1,}`,
		`{"a"}`, `{a:1}`, `"\x"`, "\"\x01\"", `[1 2]`, `tru`, `nul`, `[`, `{"a":1}x`, ``, ` `,
		`"\u12"`, `[[[[]]]]`, `{"a":{"b":{"c":[true,false,null]}}}`,
	}
	for _, c := range cases {
		if got, want := Valid([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("Valid(%.40q) = %v, encoding/json says %v", c, got, want)
		}
	}
}

func TestMaxDepth(t *testing.T) {
	for _, c := range []struct {
		doc  string
		want bool
	}{
		{strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth), true},
		{strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), false},
		{strings.Repeat(`{"a":`, MaxDepth) + "1" + strings.Repeat("}", MaxDepth), true},
		{strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1), false},
	} {
		if got := Valid([]byte(c.doc)); got != c.want {
			t.Errorf("Valid(%.20q... %d bytes) = %v, want %v", c.doc, len(c.doc), got, c.want)
		}
	}
}

func TestGetAndTypedReads(t *testing.T) {
	doc := []byte(`{"model":"gpt-4o","n":2,"t":0.5,"big":1e3,"frac":1.5,"ok":true,"nil":null,
		"messages":[{"role":"system","content":"be \"brief\"\n"},{"role":"user","content":[{"type":"text","text":"hi"}]}],
		"dup":1,"dup":2,"esc\u0061ped":"yes"}`)
	v, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if s := v.Get("model").Str(); s != "gpt-4o" {
		t.Errorf("model = %q", s)
	}
	if n, ok := v.Get("n").Int(); !ok || n != 2 {
		t.Errorf("n = %d %v", n, ok)
	}
	if n, ok := v.Get("big").Int(); !ok || n != 1000 {
		t.Errorf("big = %d %v", n, ok)
	}
	if _, ok := v.Get("frac").Int(); ok {
		t.Error("1.5 read as an int")
	}
	if f, ok := v.Get("t").Float(); !ok || f != 0.5 {
		t.Errorf("t = %v %v", f, ok)
	}
	if b, ok := v.Get("ok").Bool(); !ok || !b {
		t.Errorf("ok = %v %v", b, ok)
	}
	if !v.Get("nil").IsNull() || v.Get("nil").Kind() != Null {
		t.Error("nil is not null")
	}
	if v.Get("missing").Exists() || v.Get("model", "x").Exists() {
		t.Error("missing path exists")
	}
	if s := v.Get("messages", "0", "content").Str(); s != "be \"brief\"\n" {
		t.Errorf("content = %q", s)
	}
	if s := v.Get("messages", "1", "content", "0", "text").Str(); s != "hi" {
		t.Errorf("nested text = %q", s)
	}
	if v.Get("messages", "2").Exists() || v.Get("messages", "-1").Exists() {
		t.Error("out of range index exists")
	}
	if n, _ := v.Get("dup").Int(); n != 2 {
		t.Errorf("duplicate key: got %d, want last (2)", n)
	}
	if s := v.Get("escaped").Str(); s != "yes" {
		t.Errorf("escaped key lookup = %q", s)
	}
	if got := v.Get("messages").Len(); got != 2 {
		t.Errorf("Len = %d", got)
	}
	var roles []string
	for i, m := range v.Get("messages").Elems() {
		if i > 1 {
			t.Fatal("too many elements")
		}
		roles = append(roles, m.Get("role").Str())
	}
	if !reflect.DeepEqual(roles, []string{"system", "user"}) {
		t.Errorf("roles = %v", roles)
	}
	if Get([]byte(`{"a":[1,2,3]}`), "a", "2").String() != "3" {
		t.Error("top-level Get failed")
	}
	if Get([]byte(`{"a":`), "a").Exists() {
		t.Error("Get on invalid JSON returned a value")
	}
}

func TestUnescapeMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{`"plain"`, `"\u00e9t\u00E9"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ude00x"`,
		`"\ud83d\u0041"`, "\"a\xffb\"", "\"\xe2\x82\"", `"\/\b\f\n\r\t\\\""`, "\"\xed\xa0\x80\""} {
		var want string
		if err := json.Unmarshal([]byte(s), &want); err != nil {
			t.Fatal(err)
		}
		v, err := Parse([]byte(s))
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if got := v.Str(); got != want {
			t.Errorf("Str(%q) = %q, want %q", s, got, want)
		}
		if !v.Is(want) {
			t.Errorf("Is(%q) false", want)
		}
	}
}

func TestWriter(t *testing.T) {
	w := NewWriter(nil)
	w.ObjectStart()
	w.Key("s")
	w.String("a\"b\\c\n\x01\u2028é\xff<")
	w.Key("n")
	w.Int(-42)
	w.Key("f")
	w.Float(1e-7)
	w.Key("g")
	w.Float(math.Inf(1))
	w.Key("arr")
	w.ArrayStart()
	w.Bool(true)
	w.Bool(false)
	w.Null()
	w.Raw([]byte(`{"x":1}`))
	w.ObjectStart()
	w.ObjectEnd()
	w.ArrayStart()
	w.ArrayEnd()
	w.ArrayEnd()
	w.Key("b")
	w.StringBytes([]byte("bytes"))
	w.ObjectEnd()
	out := w.Bytes()
	if !json.Valid(out) {
		t.Fatalf("invalid output %s", out)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"s": "a\"b\\c\n\x01\u2028é\ufffd<", "n": -42.0, "f": 1e-7, "g": nil,
		"arr": []any{true, false, nil, map[string]any{"x": 1.0}, map[string]any{}, []any{}}, "b": "bytes"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v\nwant %#v", got, want)
	}
	if !bytes.Contains(out, []byte(`1e-7`)) {
		t.Errorf("float format: %s", out)
	}
}

func TestFloatFormatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, 1, -1.5, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, 3.14e-300, -2.5e100} {
		w := NewWriter(nil)
		w.Float(f)
		want, _ := json.Marshal(f)
		if string(w.Bytes()) != string(want) {
			t.Errorf("Float(%v) = %s, encoding/json %s", f, w.Bytes(), want)
		}
	}
}

func TestStringEscapingMatchesEncodingJSON(t *testing.T) {
	// encoding/json also escapes <, > and & for HTML; everything else must decode identically.
	for _, s := range []string{"", "plain", "tab\tnl\n", "\x00\x1f", "é😀", "\xff\xfe", "\u2029", "\xed\xa0\x80"} {
		w := NewWriter(nil)
		w.String(s)
		var back string
		if err := json.Unmarshal(w.Bytes(), &back); err != nil {
			t.Fatalf("%q: %v (%s)", s, err, w.Bytes())
		}
		var want string
		raw, _ := json.Marshal(s)
		_ = json.Unmarshal(raw, &want)
		if back != want {
			t.Errorf("String(%q) decodes to %q, encoding/json round trip gives %q", s, back, want)
		}
	}
}

func TestCopyRoundTrip(t *testing.T) {
	in := []byte(` { "a" : [ 1 , 2.50 , "x\u0041" ] , "b" : { } , "c":"\ud83d\ude00" } `)
	v, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	w := NewWriter(nil)
	w.Copy(v)
	if got := string(w.Bytes()); got != `{"a":[1,2.50,"xA"],"b":{},"c":"😀"}` {
		t.Errorf("Copy = %s", got)
	}
}

func FuzzReadWrite(f *testing.F) {
	for _, s := range []string{`{"a":[1,{"b":"c\n"}],"d":null}`, `[true,false,-1.5e3]`, `"\ud83d\ude00"`,
		`{"messages":[{"role":"user","content":"hi"}],"model":"m"}`, `{"a":1,"a":2}`, "\"\xff\"", `[1,`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data)
		if (err == nil) != json.Valid(data) {
			t.Fatalf("Parse err=%v but json.Valid=%v for %q", err, json.Valid(data), data)
		}
		// Lazy access must never panic, valid or not.
		_ = Get(data, "a", "0", "b").Str()
		// The tape must not change what is read; the document sits in a larger buffer so that
		// offsets computed from capacities are exercised.
		buf := make([]byte, len(data), len(data)+7)
		copy(buf, data)
		var tp Tape
		tv, terr := ParseTape(buf, &tp)
		if (terr == nil) != (err == nil) || !bytes.Equal(tv.Raw(), v.Raw()) {
			t.Fatalf("ParseTape = %q, %v; Parse = %q, %v", tv.Raw(), terr, v.Raw(), err)
		}
		if err != nil {
			return
		}
		sameWalk(t, v, tv)
		// Reusing the tape for another document leaves the old Values wrong but harmless.
		if _, err := ParseTape([]byte(`{"x":[{"y":"zz"},"w"],"v":{}}`), &tp); err != nil {
			t.Fatal(err)
		}
		walk(tv)
		for k, m := range v.Members() {
			if ks := k.Str(); !k.Is(ks) || k.Is(ks+"x") || !v.Get(ks).Exists() {
				t.Fatalf("key %s: Is/Get disagree with Str %q", k.Raw(), ks)
			}
			_ = m.Len()
			_, _ = m.Int()
			_, _ = m.Float()
		}
		for _, e := range v.Elems() {
			_ = e.Str()
		}
		w := NewWriter(nil)
		w.Copy(v)
		out := w.Bytes()
		if !json.Valid(out) {
			t.Fatalf("Copy produced invalid JSON %q from %q", out, data)
		}
		var a, b any
		if json.Unmarshal(data, &a) != nil {
			return // valid but out of float64 range: encoding/json has no view to compare
		}
		if err := json.Unmarshal(out, &b); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip changed the value:\n in %q\nout %q", data, out)
		}
	})
}

// sameWalk fails unless a (from Parse) and b (from ParseTape) read the same at every level.
func sameWalk(t *testing.T, a, b Value) {
	t.Helper()
	if !bytes.Equal(a.Raw(), b.Raw()) || a.Len() != b.Len() {
		t.Fatalf("tape read %q (len %d), scan read %q (len %d)", b.Raw(), b.Len(), a.Raw(), a.Len())
	}
	switch a.Kind() {
	case Object:
		var keys []string
		var bk []Value
		var bv []Value
		for k, v := range b.Members() {
			bk, bv = append(bk, k), append(bv, v)
		}
		n := 0
		for k, v := range a.Members() {
			if !bytes.Equal(k.Raw(), bk[n].Raw()) {
				t.Fatalf("key %q vs %q", k.Raw(), bk[n].Raw())
			}
			sameWalk(t, v, bv[n])
			keys = append(keys, k.Str())
			n++
		}
		if len(keys) > 3 {
			keys = keys[:3]
		}
		keys = append(keys, "missing")
		fa, fb := make([]Value, len(keys)), make([]Value, len(keys))
		a.Fields(fa, keys...)
		b.Fields(fb, keys...)
		for i, k := range keys {
			if !bytes.Equal(fa[i].Raw(), fb[i].Raw()) || !bytes.Equal(a.Get(k).Raw(), b.Get(k).Raw()) {
				t.Fatalf("member %q: tape %q, scan %q", k, fb[i].Raw(), fa[i].Raw())
			}
		}
	case Array:
		for i, e := range a.Elems() {
			sameWalk(t, e, b.Index(i))
		}
		k := 0
		for e, i := b.NextElem(0); e.Exists(); e, i = b.NextElem(i) {
			sameWalk(t, a.Index(k), e)
			k++
		}
		if k != a.Len() {
			t.Fatalf("NextElem stepped over %d elements of %d in %q", k, a.Len(), a.Raw())
		}
	}
}

// walk reads everything under v, for panics only.
func walk(v Value) {
	_ = v.Str()
	_ = v.Len()
	_ = v.Get("x", "0", "y")
	var f [2]Value
	v.Fields(f[:], "x", "v")
	for _, m := range v.Members() {
		walk(m)
	}
	for _, e := range v.Elems() {
		walk(e)
	}
}

func TestTapeReuse(t *testing.T) {
	var tp Tape
	for _, doc := range []string{`{"a":[1,"x",{"b":"c\"d"}],"e":{}}`, `["p",{"q":[[]]},"r"]`, `"s"`, `[1,`, `{"a":[1,"x",{"b":"c\"d"}],"e":{}}`} {
		v, err := ParseTape([]byte(doc), &tp)
		p, perr := Parse([]byte(doc))
		if (err == nil) != (perr == nil) {
			t.Fatalf("%s: ParseTape err %v, Parse err %v", doc, err, perr)
		}
		if err == nil {
			sameWalk(t, p, v)
		}
	}
	v, _ := ParseTape([]byte(`{"a":{"b":[1,2]},"c":"d"}`), &tp)
	if got := string(v.Get("a", "b", "1").Raw()); got != "2" {
		t.Fatalf("Get = %q", got)
	}
	if got := v.Get("c").Str(); got != "d" {
		t.Fatalf("Get c = %q", got)
	}
}

var benchDoc = []byte(`{"model":"gpt-4o-mini","stream":false,"temperature":0.7,"max_tokens":512,"user":"u-123",
"messages":[{"role":"system","content":"You are a helpful assistant that answers briefly and precisely."},
{"role":"user","content":"What is the capital of France? Please answer with one word and nothing else."},
{"role":"assistant","content":"Paris."},
{"role":"user","content":[{"type":"text","text":"And of Germany? Also say something about its history in two sentences."},{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}],
"tools":[{"type":"function","function":{"name":"get_weather","description":"Get the weather for a city","parameters":{"type":"object","properties":{"city":{"type":"string"},"unit":{"type":"string","enum":["c","f"]}},"required":["city"]}}}],
"tool_choice":"auto","stop":["\n\n","END"]}`)

func BenchmarkJSONXReadWrite(b *testing.B) {
	b.ReportAllocs()
	w := NewWriter(make([]byte, 0, 2048))
	b.SetBytes(int64(len(benchDoc)))
	for b.Loop() {
		v, err := Parse(benchDoc)
		if err != nil {
			b.Fatal(err)
		}
		w.Reset()
		w.ObjectStart()
		w.Key("model")
		w.String(v.Get("model").Str())
		w.Key("messages")
		w.ArrayStart()
		for _, m := range v.Get("messages").Elems() {
			w.ObjectStart()
			w.Key("role")
			w.Raw(m.Get("role").Raw())
			w.Key("content")
			w.Raw(m.Get("content").Raw())
			w.ObjectEnd()
		}
		w.ArrayEnd()
		w.Key("tools")
		w.Raw(v.Get("tools").Raw())
		w.ObjectEnd()
	}
}

func BenchmarkEncodingJSONReadWrite(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchDoc)))
	for b.Loop() {
		var m map[string]any
		if err := json.Unmarshal(benchDoc, &m); err != nil {
			b.Fatal(err)
		}
		out := map[string]any{"model": m["model"], "messages": m["messages"], "tools": m["tools"]}
		if _, err := json.Marshal(out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONXReadTape(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchDoc)))
	var tp Tape
	for b.Loop() {
		v, err := ParseTape(benchDoc, &tp)
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range v.Get("messages").Elems() {
			_ = m.Get("content")
		}
		_ = v.Get("tool_choice")
	}
}

func BenchmarkJSONXReadScan(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchDoc)))
	for b.Loop() {
		v, err := Parse(benchDoc)
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range v.Get("messages").Elems() {
			_ = m.Get("content")
		}
		_ = v.Get("tool_choice")
	}
}

func BenchmarkJSONXCopy(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchDoc)))
	w := NewWriter(make([]byte, 0, 2048))
	for b.Loop() {
		v, _ := Parse(benchDoc)
		w.Reset()
		w.Copy(v)
	}
}

func TestFields(t *testing.T) {
	v, _ := Parse([]byte(`{"a":1,"b":"x","a":3,"c\u0064":true}`))
	var f [4]Value
	v.Fields(f[:], "a", "b", "cd", "zz")
	if f[0].String() != "3" || f[1].Str() != "x" || f[2].String() != "true" || f[3].Exists() {
		t.Errorf("Fields = %v", f)
	}
}

func TestRawStringCopy(t *testing.T) {
	doc := []byte(`["plain","esc \"q\" \\ \n \u00e9 \ud83d\ude00","bad ` + "\xff" + ` utf8", "", 3]`)
	v, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	var want string
	for _, e := range v.Elems() {
		all = e.AppendRawStr(all)
		want += e.Str()
		w := NewWriter(nil)
		w.StringRaw(e.AppendRawStr(nil))
		var got string
		if err := json.Unmarshal(w.Bytes(), &got); err != nil || got != e.Str() {
			t.Fatalf("StringRaw(%s) = %s (%v), want %q", e.Raw(), w.Bytes(), err, e.Str())
		}
	}
	w := NewWriter(nil)
	w.StringRaw(all)
	var got string
	if err := json.Unmarshal(w.Bytes(), &got); err != nil || got != want {
		t.Fatalf("concatenated raw contents decode to %q (%v), want %q", got, err, want)
	}
}

func TestFragment(t *testing.T) {
	w := NewWriter(nil)
	w.ArrayStart()
	w.Int(1)
	w.Fragment(`{"a":`)
	w.Int(2)
	w.Fragment(`,"b":[`)
	w.String("x")
	w.Fragment(`]}`)
	w.Fragment(`null`)
	w.ArrayEnd()
	if got, want := string(w.Bytes()), `[1,{"a":2,"b":["x"]},null]`; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
