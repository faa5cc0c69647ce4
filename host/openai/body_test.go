package openai

import (
	"io"
	"strings"
	"testing"
)

func TestReadBody(t *testing.T) {
	for _, tc := range []struct {
		in          string
		size, limit int64
		want        string
		err         error
	}{
		{"hello", 5, 10, "hello", nil},
		{"hello", -1, 10, "hello", nil},
		{"hel", 5, 10, "", io.ErrUnexpectedEOF},
		{"hello world", -1, 5, "hello ", nil}, // limit+1 bytes: the caller sees it is over
		{"hello world", 11, 5, "hello ", nil},
		{"", 0, 5, "", nil},
	} {
		got, err := ReadBody(strings.NewReader(tc.in), tc.size, tc.limit)
		if err != tc.err || (err == nil && string(got) != tc.want) {
			t.Errorf("ReadBody(%q, %d, %d) = %q, %v; want %q, %v", tc.in, tc.size, tc.limit, got, err, tc.want, tc.err)
		}
	}
}
