package jsonx

import (
	"strconv"
	"testing"
)

func TestSimpleFloatMatchesStrconv(t *testing.T) {
	for _, s := range []string{"0", "-0", "12.5", "0.01", "0.15", "0.6", "1e3", "1.5E-7", "123456789012345", "0.000123",
		"-42.125", "3.14159265358979", "1e22", "1e-22", "0.1", "0.2", "0.3", "1700000000000.5", "5e+2", "00.5"} {
		want, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := simpleFloat([]byte(s))
		if ok && got != want {
			t.Errorf("%s: %v, strconv %v", s, got, want)
		}
		var sc Scanner
		sc.Reset([]byte(s), "")
		if f := sc.Float(); (f != want || sc.End() != nil) && s != "00.5" {
			t.Errorf("Scanner %s: %v %v, want %v", s, f, sc.End(), want)
		}
	}
	for _, s := range []string{"1234567890123456789", "1e400", "1.", "1e", "-", "1x"} {
		if _, ok := simpleFloat([]byte(s)); ok {
			t.Errorf("%s accepted by the fast path", s)
		}
	}
}

func FuzzSimpleFloat(f *testing.F) {
	f.Add("12.5")
	f.Add("-0.001e3")
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := simpleFloat([]byte(s))
		if !ok {
			return
		}
		want, err := strconv.ParseFloat(s, 64)
		if err != nil || got != want {
			t.Fatalf("%q: fast %v, strconv %v (%v)", s, got, want, err)
		}
	})
}
