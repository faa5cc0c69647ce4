package openai

import (
	"bytes"
	"io"
)

// preallocMax bounds what ReadBody allocates on a sender's word: a declared Content-Length is
// a claim, not bytes received, so a larger body grows the buffer only as its bytes arrive.
const preallocMax = 64 << 10

// ReadBody reads a body whose length may be known (size >= 0) and reads at most limit+1 bytes
// (more than limit means the body is over the limit). A known size up to preallocMax is read
// into one buffer of that size, instead of growing one as io.ReadAll does; a larger or unknown
// size starts from a small buffer, so memory follows the bytes that actually arrive.
func ReadBody(r io.Reader, size, limit int64) ([]byte, error) {
	if size >= 0 && size <= limit && size <= preallocMax {
		b := make([]byte, size)
		if _, err := io.ReadFull(r, b); err != nil {
			if err == io.ErrUnexpectedEOF || err == io.EOF && size > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		return b, nil
	}
	n, known := limit+1, size >= 0 && size <= limit
	if known {
		n = size
	}
	var buf bytes.Buffer
	buf.Grow(16 << 10)
	_, err := buf.ReadFrom(io.LimitReader(r, n))
	if err == nil && known && int64(buf.Len()) < size {
		return nil, io.ErrUnexpectedEOF
	}
	return buf.Bytes(), err
}
