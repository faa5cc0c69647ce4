package redisbaseline

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// Kind is the RESP2 type of a reply.
type Kind uint8

// Reply kinds. A nil bulk string and a nil array are both Nil.
const (
	Nil Kind = iota
	SimpleString
	ErrorReply
	Integer
	BulkString
	Array
)

func (k Kind) String() string {
	switch k {
	case Nil:
		return "nil"
	case SimpleString:
		return "simple string"
	case ErrorReply:
		return "error"
	case Integer:
		return "integer"
	case BulkString:
		return "bulk string"
	case Array:
		return "array"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one decoded reply. An error reply nested in an array (a script may return one) is a
// Value of kind ErrorReply; a top-level error reply is returned by Do as an *Error instead.
type Value struct {
	kind Kind
	i    int64
	b    []byte
	a    []Value
}

// Error is an error reply from the server, such as "NOSCRIPT No matching script".
type Error struct {
	// Msg is the server's message without the leading '-'.
	Msg string
}

func (e *Error) Error() string { return e.Msg }

// Code is the first word of the message ("ERR", "NOSCRIPT", "WRONGTYPE", ...).
func (e *Error) Code() string {
	for i := 0; i < len(e.Msg); i++ {
		if e.Msg[i] == ' ' {
			return e.Msg[:i]
		}
	}
	return e.Msg
}

// HasCode reports whether err is (or wraps) an error reply with the given code.
func HasCode(err error, code string) bool {
	if err == nil {
		return false
	}
	var e *Error
	return errors.As(err, &e) && e.Code() == code
}

// Kind returns the reply's type.
func (v Value) Kind() Kind { return v.kind }

// IsNil reports a nil bulk string or nil array (a missing key, for example).
func (v Value) IsNil() bool { return v.kind == Nil }

// Int returns an integer reply.
func (v Value) Int() (int64, error) {
	if v.kind != Integer {
		return 0, v.wrongKind("integer")
	}
	return v.i, nil
}

// Bytes returns a bulk or simple string reply. The slice belongs to the caller.
func (v Value) Bytes() ([]byte, error) {
	if v.kind != BulkString && v.kind != SimpleString {
		return nil, v.wrongKind("string")
	}
	return v.b, nil
}

// Str returns a bulk or simple string reply as a string.
func (v Value) Str() (string, error) {
	b, err := v.Bytes()
	return string(b), err
}

// Array returns the elements of an array reply.
func (v Value) Array() ([]Value, error) {
	if v.kind != Array {
		return nil, v.wrongKind("array")
	}
	return v.a, nil
}

// Err returns the *Error of an error reply, and nil for any other kind.
func (v Value) Err() error {
	if v.kind != ErrorReply {
		return nil
	}
	return &Error{Msg: string(v.b)}
}

func (v Value) wrongKind(want string) error {
	if v.kind == ErrorReply {
		return fmt.Errorf("redisbaseline: want %s, got error reply: %w", want, v.Err())
	}
	return fmt.Errorf("redisbaseline: want %s, got %s", want, v.kind)
}

// String renders the value for messages and tests.
func (v Value) String() string {
	switch v.kind {
	case Nil:
		return "(nil)"
	case Integer:
		return strconv.FormatInt(v.i, 10)
	case SimpleString, BulkString:
		return strconv.Quote(string(v.b))
	case ErrorReply:
		return "(error) " + string(v.b)
	case Array:
		s := "["
		for i, e := range v.a {
			if i > 0 {
				s += " "
			}
			s += e.String()
		}
		return s + "]"
	}
	return v.kind.String()
}

// Limits that keep a corrupt or hostile stream from exhausting memory or the stack.
const (
	maxBulk      = 512 << 20 // Redis's own proto-max-bulk-len default
	maxDepth     = 64
	maxLine      = 64 << 10
	preallocBulk = 64 << 10
	preallocArr  = 1024
)

// errProtocol marks a reply the reader cannot parse; the connection is unusable afterwards.
var errProtocol = errors.New("redisbaseline: protocol error")

// readValue reads one reply. Any error leaves the stream at an unknown position.
func readValue(r *bufio.Reader, depth int) (Value, error) {
	if depth > maxDepth {
		return Value{}, fmt.Errorf("%w: arrays nested deeper than %d", errProtocol, maxDepth)
	}
	line, err := readLine(r)
	if err != nil {
		return Value{}, err
	}
	if len(line) == 0 {
		return Value{}, fmt.Errorf("%w: empty line", errProtocol)
	}
	body := line[1:]
	switch line[0] {
	case '+':
		return Value{kind: SimpleString, b: bytes.Clone(body)}, nil
	case '-':
		return Value{kind: ErrorReply, b: bytes.Clone(body)}, nil
	case ':':
		n, err := parseInt(body)
		if err != nil {
			return Value{}, err
		}
		return Value{kind: Integer, i: n}, nil
	case '$':
		n, err := parseInt(body)
		if err != nil {
			return Value{}, err
		}
		if n < 0 {
			if n != -1 {
				return Value{}, fmt.Errorf("%w: bulk length %d", errProtocol, n)
			}
			return Value{kind: Nil}, nil
		}
		if n > maxBulk {
			return Value{}, fmt.Errorf("%w: bulk length %d over %d", errProtocol, n, maxBulk)
		}
		b, err := readBulk(r, int(n))
		if err != nil {
			return Value{}, err
		}
		return Value{kind: BulkString, b: b}, nil
	case '*':
		n, err := parseInt(body)
		if err != nil {
			return Value{}, err
		}
		if n < 0 {
			if n != -1 {
				return Value{}, fmt.Errorf("%w: array length %d", errProtocol, n)
			}
			return Value{kind: Nil}, nil
		}
		if n > math.MaxInt32 {
			return Value{}, fmt.Errorf("%w: array length %d", errProtocol, n)
		}
		// The declared length is not trusted for allocation: elements must actually arrive.
		a := make([]Value, 0, min(int(n), preallocArr))
		for range n {
			e, err := readValue(r, depth+1)
			if err != nil {
				return Value{}, err
			}
			a = append(a, e)
		}
		return Value{kind: Array, a: a}, nil
	}
	return Value{}, fmt.Errorf("%w: unexpected type byte %q", errProtocol, line[0])
}

// readLine returns a line without its CRLF. The slice is only valid until the next read.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, fmt.Errorf("%w: line longer than %d bytes", errProtocol, r.Size())
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("%w: line not ended by CRLF", errProtocol)
	}
	return line[:len(line)-2], nil
}

func parseInt(b []byte) (int64, error) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: bad integer %q", errProtocol, b)
	}
	return n, nil
}

// readBulk reads n bytes and the CRLF after them. Large payloads grow as data arrives, so a
// bogus length cannot make the reader allocate it up front.
func readBulk(r *bufio.Reader, n int) ([]byte, error) {
	var b []byte
	if n <= preallocBulk {
		b = make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, eof(err)
		}
	} else {
		b = make([]byte, 0, preallocBulk)
		for len(b) < n {
			chunk := min(n-len(b), max(len(b), preallocBulk))
			b = append(b, make([]byte, chunk)...)
			if _, err := io.ReadFull(r, b[len(b)-chunk:]); err != nil {
				return nil, eof(err)
			}
		}
	}
	var crlf [2]byte
	if _, err := io.ReadFull(r, crlf[:]); err != nil {
		return nil, eof(err)
	}
	if crlf != [2]byte{'\r', '\n'} {
		return nil, fmt.Errorf("%w: bulk string not ended by CRLF", errProtocol)
	}
	return b, nil
}

func eof(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// checkArgs rejects argument types writeCommand cannot encode, before anything is written, so
// the connection stays clean.
func checkArgs(args []any) error {
	for i, a := range args {
		switch a.(type) {
		case string, []byte, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64,
			float32, float64, bool, time.Duration:
		default:
			return fmt.Errorf("redisbaseline: argument %d has unsupported type %T", i, a)
		}
	}
	return nil
}

// writeCommand encodes args (checked by checkArgs) as a RESP array of bulk strings. Write
// errors surface at Flush.
func writeCommand(w *bufio.Writer, scratch []byte, args []any) []byte {
	w.WriteByte('*')
	scratch = strconv.AppendInt(scratch[:0], int64(len(args)), 10)
	w.Write(scratch)
	w.WriteString("\r\n")
	for _, a := range args {
		scratch = scratch[:0]
		var s string
		var raw []byte
		switch v := a.(type) {
		case string:
			s = v
		case []byte:
			raw = v
		case int:
			scratch = strconv.AppendInt(scratch, int64(v), 10)
		case int8:
			scratch = strconv.AppendInt(scratch, int64(v), 10)
		case int16:
			scratch = strconv.AppendInt(scratch, int64(v), 10)
		case int32:
			scratch = strconv.AppendInt(scratch, int64(v), 10)
		case int64:
			scratch = strconv.AppendInt(scratch, v, 10)
		case time.Duration:
			scratch = strconv.AppendInt(scratch, int64(v), 10)
		case uint:
			scratch = strconv.AppendUint(scratch, uint64(v), 10)
		case uint8:
			scratch = strconv.AppendUint(scratch, uint64(v), 10)
		case uint16:
			scratch = strconv.AppendUint(scratch, uint64(v), 10)
		case uint32:
			scratch = strconv.AppendUint(scratch, uint64(v), 10)
		case uint64:
			scratch = strconv.AppendUint(scratch, v, 10)
		case float32:
			scratch = strconv.AppendFloat(scratch, float64(v), 'f', -1, 32)
		case float64:
			scratch = strconv.AppendFloat(scratch, v, 'f', -1, 64)
		case bool:
			if v {
				scratch = append(scratch, '1')
			} else {
				scratch = append(scratch, '0')
			}
		}
		// The header is built after the value in the same reused buffer, so nothing escapes
		// per argument.
		num := scratch
		n := len(s) + len(raw) + len(num)
		h := append(scratch[len(num):], '$')
		h = strconv.AppendInt(h, int64(n), 10)
		h = append(h, '\r', '\n')
		w.Write(h)
		switch {
		case s != "":
			w.WriteString(s)
		case raw != nil:
			w.Write(raw)
		default:
			w.Write(num)
		}
		w.WriteString("\r\n")
		if cap(h) > cap(scratch) {
			scratch = h[:0]
		}
	}
	return scratch
}
