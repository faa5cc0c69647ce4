package redisbaseline

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadValue(t *testing.T) {
	for in, want := range map[string]string{
		"+OK\r\n":                              `"OK"`,
		"-ERR bad\r\n":                         `(error) ERR bad`,
		":-42\r\n":                             `-42`,
		"$3\r\na\r\n\r\n":                      `"a\r\n"`,
		"$0\r\n\r\n":                           `""`,
		"$-1\r\n":                              `(nil)`,
		"*-1\r\n":                              `(nil)`,
		"*0\r\n":                               `[]`,
		"*3\r\n:1\r\n*1\r\n$1\r\nx\r\n$-1\r\n": `[1 ["x"] (nil)]`,
	} {
		v, err := readValue(bufio.NewReader(strings.NewReader(in)), 0)
		if err != nil || v.String() != want {
			t.Errorf("%q: %v, %v; want %s", in, v, err, want)
		}
	}
	for _, in := range []string{"", "+OK", "+OK\n", "?x\r\n", ":x\r\n", "$5\r\nab\r\n", "$2\r\nabcd",
		"$-2\r\n", "*-5\r\n", "*2\r\n:1\r\n", "$99999999999\r\n", "\r\n", strings.Repeat("*1\r\n", 100) + ":1\r\n"} {
		v, err := readValue(bufio.NewReader(strings.NewReader(in)), 0)
		if err == nil {
			t.Errorf("%q parsed as %v", in, v)
		}
		if in != "" && !errors.Is(err, errProtocol) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			t.Errorf("%q: unexpected error kind %v", in, err)
		}
	}
}

func TestWriteCommand(t *testing.T) {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	writeCommand(w, nil, []any{"SET", []byte("k"), 12, ""})
	w.Flush()
	if got := buf.String(); got != "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n$0\r\n\r\n" {
		t.Fatalf("encoded %q", got)
	}
}

// FuzzReader: arbitrary bytes never panic the reader, and whatever it accepts round-trips
// through String without trouble.
func FuzzReader(f *testing.F) {
	for _, s := range []string{"+OK\r\n", "-ERR x\r\n", ":1\r\n", "$1\r\na\r\n", "$-1\r\n", "*2\r\n*1\r\n:1\r\n$0\r\n\r\n",
		"*1000000\r\n", "$1000000000\r\n", "*-1\r\n", "$3\r\nab"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReaderSize(bytes.NewReader(data), 64)
		for range 8 {
			v, err := readValue(r, 0)
			if err != nil {
				return
			}
			_ = v.String()
		}
	})
}
