package cache

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func readChunks(t testing.TB, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSpace(b), []byte("\n"))
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s mismatch:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func canonEqual(t *testing.T, a, b []byte) {
	t.Helper()
	ca, err1 := canonical(a, "", nil)
	cb, err2 := canonical(b, "", nil)
	if err1 != nil || err2 != nil || !bytes.Equal(ca, cb) {
		t.Fatalf("not equivalent (%v, %v):\n%s\n%s", err1, err2, ca, cb)
	}
}

func TestStreamToCompletionGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/convert/*.chunks")
	if len(files) == 0 {
		t.Fatal("no stream fixtures")
	}
	for _, in := range files {
		t.Run(filepath.Base(in), func(t *testing.T) {
			e := &Entry{Chunks: readChunks(t, in), Model: "fallback"}
			got, err := e.AsCompletion()
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, strings.TrimSuffix(in, ".chunks")+".completion.golden", append(got, '\n'))
			// Splitting the assembled answer again and reassembling is lossless.
			back, err := (&Entry{Body: got}).AsChunks(true)
			if err != nil {
				t.Fatal(err)
			}
			again, err := (&Entry{Chunks: back}).AsCompletion()
			if err != nil {
				t.Fatal(err)
			}
			canonEqual(t, got, again)
		})
	}
}

func TestCompletionToStreamGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/convert/completion_*.json")
	if len(files) == 0 {
		t.Fatal("no completion fixtures")
	}
	for _, in := range files {
		t.Run(filepath.Base(in), func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			body = bytes.TrimSpace(body)
			e := &Entry{Body: body}
			withUsage, err := e.AsChunks(true)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, strings.TrimSuffix(in, ".json")+".chunks.golden", append(bytes.Join(withUsage, []byte("\n")), '\n'))
			without, err := e.AsChunks(false)
			if err != nil {
				t.Fatal(err)
			}
			if len(without) != len(withUsage)-1 || bytes.Contains(bytes.Join(without, nil), []byte(`"usage"`)) {
				t.Fatalf("include_usage=false still carries usage: %q", without)
			}
			// The chunks reassemble into the original answer.
			back, err := (&Entry{Chunks: withUsage}).AsCompletion()
			if err != nil {
				t.Fatal(err)
			}
			canonEqual(t, body, back)
			if got, _ := e.AsCompletion(); !bytes.Equal(got, body) {
				t.Fatal("non-stream entry body not returned unchanged")
			}
		})
	}
}

func TestStreamReplayChunks(t *testing.T) {
	chunks := readChunks(t, "testdata/convert/stream_text.chunks")
	e := &Entry{Chunks: chunks}
	got, err := e.AsChunks(true)
	if err != nil || !reflect.DeepEqual(got, chunks) {
		t.Fatalf("include_usage: chunks changed (%v)", err)
	}
	got, _ = e.AsChunks(false)
	if !reflect.DeepEqual(got, chunks[:len(chunks)-1]) {
		t.Fatalf("usage-only chunk not dropped: %d chunks", len(got))
	}
	// A stream stored without a usage chunk gets one from Entry.Usage.
	noUsage := &Entry{Chunks: chunks[:len(chunks)-1], Usage: Usage{1, 2, 3}}
	got, _ = noUsage.AsChunks(true)
	if len(got) != len(chunks) || !reflect.DeepEqual(got[:len(chunks)-1], chunks[:len(chunks)-1]) ||
		!bytes.Contains(got[len(got)-1], []byte(`"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}`)) {
		t.Fatalf("synthesised usage chunk: %s", got[len(got)-1])
	}
	if _, err := (&Entry{Body: []byte(`{"object":"list","data":[]}`)}).AsChunks(false); !errors.Is(err, ErrNotConvertible) {
		t.Fatalf("embeddings body as stream: %v", err)
	}
}

// sseServer serves chunks through WriteSSE on a real socket.
func sseServer(t *testing.T, chunks [][]byte, pace time.Duration, done chan<- error) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(HeaderStatus, "HIT")
		err := WriteSSE(r.Context(), w, chunks, pace)
		if done != nil {
			done <- err
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestWriteSSEByteForByte(t *testing.T) {
	chunks := readChunks(t, "testdata/convert/stream_tools.chunks")
	const pace = 5 * time.Millisecond
	srv := sseServer(t, chunks, pace, nil)
	start := time.Now()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" || resp.Header.Get(HeaderStatus) != "HIT" {
		t.Fatalf("headers: %v", resp.Header)
	}
	// Read event by event to see that each arrives on its own (flushed).
	var got [][]byte
	rd := bufio.NewReader(resp.Body)
	for {
		line, err := rd.ReadBytes('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if blank, _ := rd.ReadBytes('\n'); string(blank) != "\n" {
			t.Fatalf("event not terminated by a blank line: %q", blank)
		}
		payload, ok := bytes.CutPrefix(bytes.TrimSuffix(line, []byte("\n")), []byte("data: "))
		if !ok {
			t.Fatalf("line without data prefix: %q", line)
		}
		got = append(got, payload)
	}
	if elapsed := time.Since(start); elapsed < time.Duration(len(chunks)-1)*pace {
		t.Fatalf("replay took %v, want at least %v of pacing", elapsed, time.Duration(len(chunks)-1)*pace)
	}
	if string(got[len(got)-1]) != "[DONE]" {
		t.Fatalf("last event %q, want [DONE]", got[len(got)-1])
	}
	if !reflect.DeepEqual(got[:len(got)-1], chunks) {
		t.Fatal("replayed payloads differ from the stored chunks")
	}
}

func TestWriteSSEUnpacedIsOneWrite(t *testing.T) {
	chunks := readChunks(t, "testdata/convert/stream_tools.chunks")
	rec := &countingWriter{ResponseRecorder: httptest.NewRecorder()}
	if err := WriteSSE(context.Background(), rec, chunks, 0); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	for _, c := range chunks {
		want.WriteString("data: " + string(c) + "\n\n")
	}
	want.WriteString("data: [DONE]\n\n")
	if rec.Body.String() != want.String() {
		t.Fatalf("unpaced replay:\n%s\nwant:\n%s", rec.Body, want.String())
	}
	if rec.writes != 1 || !rec.Flushed {
		t.Fatalf("%d writes, flushed %v; want one flushed write", rec.writes, rec.Flushed)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WriteSSE(ctx, httptest.NewRecorder(), chunks, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("gone client: %v", err)
	}
}

type countingWriter struct {
	*httptest.ResponseRecorder
	writes int
}

func (c *countingWriter) Write(b []byte) (int, error) {
	c.writes++
	return c.ResponseRecorder.Write(b)
}

func TestWriteSSEStopsWhenClientLeaves(t *testing.T) {
	chunks := make([][]byte, 50)
	for i := range chunks {
		chunks[i] = []byte(`{"i":1}`)
	}
	done := make(chan error, 1)
	srv := sseServer(t, chunks, 20*time.Millisecond, done)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("WriteSSE returned nil after the client left")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("WriteSSE kept going after the client left")
	}
}

func sampleStreamEntry(t testing.TB) *Entry {
	return &Entry{Created: time.Unix(1700000000, 123), Model: "gpt-4o-mini", ContentType: "text/event-stream",
		Usage: Usage{9, 4, 13}, Chunks: readChunks(t, "testdata/convert/stream_text.chunks"),
		expires: time.Unix(1700000600, 0)}
}

func TestEntryBinaryRoundTrip(t *testing.T) {
	body, _ := os.ReadFile("testdata/convert/completion_text.json")
	for _, e := range []*Entry{
		sampleStreamEntry(t),
		{Created: time.Unix(5, 0), Model: "m", ContentType: "application/json", Body: body, Usage: Usage{1, 2, 3}},
		{Chunks: [][]byte{}},
		{Body: []byte{}},
	} {
		b, err := e.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var d Entry
		if err := d.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if !d.Created.Equal(e.Created) || !d.expires.Equal(e.expires) || d.Model != e.Model ||
			d.ContentType != e.ContentType || d.Usage != e.Usage || !bytes.Equal(d.Body, e.Body) ||
			d.Stream() != e.Stream() || len(d.Chunks) != len(e.Chunks) {
			t.Fatalf("round trip:\n%+v\n%+v", d, e)
		}
		for i := range e.Chunks {
			if !bytes.Equal(d.Chunks[i], e.Chunks[i]) {
				t.Fatalf("chunk %d differs", i)
			}
		}
		for n := range len(b) {
			if err := new(Entry).UnmarshalBinary(b[:n]); err == nil {
				t.Fatalf("truncated encoding (%d of %d bytes) accepted", n, len(b))
			}
		}
	}
	if err := new(Entry).UnmarshalBinary([]byte{9, 0}); err == nil {
		t.Fatal("unknown version accepted")
	}
}

// entryJSON is the JSON alternative measured against the binary encoding.
type entryJSON struct {
	Created, Expires int64
	Model, CType     string
	Usage            Usage
	Body             []byte
	Chunks           []json.RawMessage
}

func BenchmarkEntryEncode(b *testing.B) {
	e := sampleStreamEntry(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.MarshalBinary(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEntryDecode(b *testing.B) {
	enc, _ := sampleStreamEntry(b).MarshalBinary()
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		var e Entry
		if err := e.UnmarshalBinary(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func toJSONEntry(e *Entry) entryJSON {
	j := entryJSON{Created: e.Created.UnixNano(), Expires: e.expires.UnixNano(), Model: e.Model, CType: e.ContentType, Usage: e.Usage, Body: e.Body}
	for _, c := range e.Chunks {
		j.Chunks = append(j.Chunks, c)
	}
	return j
}

func BenchmarkEntryEncodeJSON(b *testing.B) {
	j := toJSONEntry(sampleStreamEntry(b))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(j); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEntryDecodeJSON(b *testing.B) {
	enc, _ := json.Marshal(toJSONEntry(sampleStreamEntry(b)))
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		var j entryJSON
		if err := json.Unmarshal(enc, &j); err != nil {
			b.Fatal(err)
		}
	}
}
