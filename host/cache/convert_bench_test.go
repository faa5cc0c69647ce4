package cache

import (
	"bytes"
	"os"
	"testing"
)

// BenchmarkAsCompletion assembles a stored tool-call stream into one chat completion.
func BenchmarkAsCompletion(b *testing.B) {
	e := &Entry{Chunks: readChunks(b, "testdata/convert/stream_tools.chunks"), Model: "fallback"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.AsCompletion(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAsChunks splits a stored tool-call completion into stream chunks.
func BenchmarkAsChunks(b *testing.B) {
	body, err := os.ReadFile("testdata/convert/completion_tools.json")
	if err != nil {
		b.Fatal(err)
	}
	e := &Entry{Body: bytes.TrimSpace(body)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.AsChunks(true); err != nil {
			b.Fatal(err)
		}
	}
}
