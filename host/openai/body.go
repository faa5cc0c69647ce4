package openai

import (
	"bytes"
	"io"
)

// ReadBody reads a body whose length may be known (size >= 0) into one buffer of that size,
// instead of growing one as io.ReadAll does; limit bounds what is read (limit+1 bytes means
// the body is over the limit).
func ReadBody(r io.Reader, size, limit int64) ([]byte, error) {
	if size >= 0 && size <= limit {
		b := make([]byte, size)
		if _, err := io.ReadFull(r, b); err != nil {
			if err == io.ErrUnexpectedEOF || err == io.EOF && size > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		return b, nil
	}
	var buf bytes.Buffer
	buf.Grow(16 << 10)
	_, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	return buf.Bytes(), err
}
