package openai

import (
	"io"
	"runtime"
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
		{strings.Repeat("x", 100<<10), 100 << 10, 1 << 20, strings.Repeat("x", 100<<10), nil},
		{"short", 100 << 10, 1 << 20, "", io.ErrUnexpectedEOF},
	} {
		got, err := ReadBody(strings.NewReader(tc.in), tc.size, tc.limit)
		if err != tc.err || (err == nil && string(got) != tc.want) {
			t.Errorf("ReadBody(%q, %d, %d) = %q, %v; want %q, %v", tc.in, tc.size, tc.limit, got, err, tc.want, tc.err)
		}
	}
}

// stingyReader yields n bytes, then io.EOF.
type stingyReader struct{ n int }

func (r *stingyReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.n)
	r.n -= k
	return k, nil
}

// A declared length is not trusted with memory: a client claiming 16 MiB and sending 10 bytes
// costs a small buffer, not 16 MiB.
func TestReadBodyDoesNotTrustDeclaredLength(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := ReadBody(&stingyReader{n: 10}, 16<<20, 16<<20)
	runtime.ReadMemStats(&after)
	if err != io.ErrUnexpectedEOF {
		t.Fatalf("err = %v", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Fatalf("ReadBody allocated %d bytes for a 10-byte body declared as 16 MiB", got)
	}
}
