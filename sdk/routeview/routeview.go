// Package routeview is the flat route view of the plugin ABI (sdk/ABI.md, section 5.1): the
// route hook's input as a fixed little-endian layout that a guest reads in place, without
// parsing JSON. The host encodes it with Append; guests read it with Parse and View's
// accessors and answer with AppendOrder. It imports only the standard library.
//
// Layout (all integers little-endian, offsets from the start of the buffer):
//
//	header, 128 bytes
//	  0  "SRV1"             magic
//	  4  u32 total          length of the whole view
//	  8  u32 ncand          candidate records
//	 12  u32 nhdr           header records
//	 16  u32 candOff        offset of the first candidate record
//	 20  u32 hdrOff         offset of the first header record
//	 24  u32 flags          bit 0 stream, bit 1 temperature set
//	 28  u32 0              reserved
//	 32  i64 token_estimate
//	 40  i64 max_tokens
//	 48  f64 temperature    (0 when unset)
//	 56  i64 now_ms
//	 64  7 string refs      request_id endpoint model router user team key_id
//	120  u32 candSize       size of one candidate record (80; later versions may append fields)
//	124  u32 hdrSize        size of one header record (16)
//	candidate record, candSize bytes
//	  0 id ref, 8 provider ref, 16 model ref, 24 i32 weight, 28 i32 priority,
//	 32 u32 flags (bit 0 healthy), 36 u32 reserved, 40 f64 ewma_ms, 48 i64 in_flight,
//	 56 f64 error_rate, 64 f64 price_in, 72 f64 price_out
//	header record, hdrSize bytes: name ref, value ref (names lower-cased)
//	string pool: the bytes the refs point at (u32 offset, u32 length each)
//
// The answer is either the JSON {"order":[...]} of the JSON form or, shorter, "SRO1", a u32
// count and that many u32 candidate indices, first choice first.
package routeview

import (
	"errors"
	"math"
	"unsafe"
)

// Layout constants.
const (
	Magic      = "SRV1"
	OrderMagic = "SRO1"
	HeaderSize = 128
	CandSize   = 80
	HdrSize    = 16
	MaxHeaders = 32

	FlagStream     = 1 << 0
	FlagTempSet    = 1 << 1
	FlagHealthy    = 1 << 0
	numMetaStrings = 7
)

// Meta is the request description the view carries (the JSON form's META).
type Meta struct {
	RequestID     string
	Endpoint      string
	Model         string
	Router        string
	User          string
	Team          string
	KeyID         string
	Stream        bool
	TokenEstimate int64
	MaxTokens     int64
	Temperature   *float64
	Headers       []Header // allow-listed, lower-cased names; the first value of each
	NowMs         int64
}

// Header is one request header a plugin may route on.
type Header struct{ Name, Value string }

// Candidate is one routing target (the JSON form's CAND).
type Candidate struct {
	ID        string
	Provider  string
	Model     string
	Weight    int
	Priority  int
	Healthy   bool
	EWMAms    float64
	InFlight  int64
	ErrorRate float64
	PriceIn   float64 // USD per 1M input tokens
	PriceOut  float64
}

func put32(b []byte, v uint32) {
	_ = b[3]
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
func put64(b []byte, v uint64) { put32(b, uint32(v)); put32(b[4:], uint32(v>>32)) }
func get32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
func get64(b []byte) uint64 { return uint64(get32(b)) | uint64(get32(b[4:]))<<32 }

// Append appends the view of m and cands to dst.
func Append(dst []byte, m *Meta, cands []Candidate) []byte {
	if m == nil {
		m = &Meta{}
	}
	hs := m.Headers
	if len(hs) > MaxHeaders {
		hs = hs[:MaxHeaders]
	}
	start := len(dst)
	fixed := HeaderSize + len(cands)*CandSize + len(hs)*HdrSize
	dst = append(dst, make([]byte, fixed)...)
	b := dst[start:]
	copy(b, Magic)
	put32(b[8:], uint32(len(cands)))
	put32(b[12:], uint32(len(hs)))
	candOff := HeaderSize
	hdrOff := candOff + len(cands)*CandSize
	put32(b[16:], uint32(candOff))
	put32(b[20:], uint32(hdrOff))
	var flags uint32
	if m.Stream {
		flags |= FlagStream
	}
	if m.Temperature != nil {
		flags |= FlagTempSet
		put64(b[48:], math.Float64bits(*m.Temperature))
	}
	put32(b[24:], flags)
	put64(b[32:], uint64(m.TokenEstimate))
	put64(b[40:], uint64(m.MaxTokens))
	put64(b[56:], uint64(m.NowMs))
	put32(b[120:], CandSize)
	put32(b[124:], HdrSize)
	// Strings go to the pool; refs are patched in as each is appended.
	str := func(ref int, s string) {
		off := len(dst) - start
		dst = append(dst, s...)
		b := dst[start:]
		put32(b[ref:], uint32(off))
		put32(b[ref+4:], uint32(len(s)))
	}
	for i, s := range [numMetaStrings]string{m.RequestID, m.Endpoint, m.Model, m.Router, m.User, m.Team, m.KeyID} {
		str(64+8*i, s)
	}
	for i := range cands {
		c := &cands[i]
		r := candOff + i*CandSize
		str(r, c.ID)
		str(r+8, c.Provider)
		str(r+16, c.Model)
		b := dst[start+r:]
		put32(b[24:], uint32(int32(c.Weight)))
		put32(b[28:], uint32(int32(c.Priority)))
		if c.Healthy {
			put32(b[32:], FlagHealthy)
		}
		put64(b[40:], math.Float64bits(c.EWMAms))
		put64(b[48:], uint64(c.InFlight))
		put64(b[56:], math.Float64bits(c.ErrorRate))
		put64(b[64:], math.Float64bits(c.PriceIn))
		put64(b[72:], math.Float64bits(c.PriceOut))
	}
	for i, h := range hs {
		r := hdrOff + i*HdrSize
		str(r, h.Name)
		str(r+8, h.Value)
	}
	put32(dst[start+4:], uint32(len(dst)-start))
	return dst
}

// View reads a flat route view in place. Strings it returns alias the buffer: valid while the
// buffer is (in a guest, during the call); strings.Clone what you keep.
type View struct {
	b               []byte
	ncand, nhdr     int
	candOff, hdrOff int
	candSize, hdrSz int
	flags           uint32
}

// ErrFormat is returned by Parse for a buffer that is not a well-formed view.
var ErrFormat = errors.New("routeview: malformed view")

// IsView reports whether b starts like a flat view (as opposed to the JSON form).
func IsView(b []byte) bool { return len(b) >= 4 && string(b[:4]) == Magic }

// Parse checks b's header and that its records lie inside it, and returns a view of it. String
// refs are checked when read (one out of bounds reads as ""), so that a handler pays only for
// the fields it reads.
func Parse(b []byte) (View, error) {
	if len(b) < HeaderSize || !IsView(b) {
		return View{}, ErrFormat
	}
	total := int(get32(b[4:]))
	if total < HeaderSize || total > len(b) {
		return View{}, ErrFormat
	}
	b = b[:total]
	v := View{b: b, ncand: int(get32(b[8:])), nhdr: int(get32(b[12:])), candOff: int(get32(b[16:])),
		hdrOff: int(get32(b[20:])), flags: get32(b[24:]), candSize: int(get32(b[120:])), hdrSz: int(get32(b[124:]))}
	if v.candSize < CandSize || v.hdrSz < HdrSize || v.ncand > total/CandSize || v.nhdr > total/HdrSize {
		return View{}, ErrFormat
	}
	if v.candOff < HeaderSize || v.candOff+v.ncand*v.candSize > total || v.hdrOff < HeaderSize || v.hdrOff+v.nhdr*v.hdrSz > total {
		return View{}, ErrFormat
	}
	return v, nil
}

func (v *View) str(ref int) string {
	off, n := get32(v.b[ref:]), get32(v.b[ref+4:])
	if n == 0 || uint64(off)+uint64(n) > uint64(len(v.b)) {
		return ""
	}
	return unsafe.String(&v.b[off], int(n))
}

// RequestID and the other string accessors return META's fields.
func (v *View) RequestID() string { return v.str(64) }
func (v *View) Endpoint() string  { return v.str(72) }
func (v *View) Model() string     { return v.str(80) }
func (v *View) Router() string    { return v.str(88) }
func (v *View) User() string      { return v.str(96) }
func (v *View) Team() string      { return v.str(104) }
func (v *View) KeyID() string     { return v.str(112) }

// Stream reports whether the client asked for a stream.
func (v *View) Stream() bool { return v.flags&FlagStream != 0 }

// TokenEstimate is the host's estimate of the prompt tokens.
func (v *View) TokenEstimate() int64 { return int64(get64(v.b[32:])) }

// MaxTokens is the request's max_tokens (0 when unset).
func (v *View) MaxTokens() int64 { return int64(get64(v.b[40:])) }

// Temperature returns the request's temperature and whether it was set.
func (v *View) Temperature() (float64, bool) {
	return math.Float64frombits(get64(v.b[48:])), v.flags&FlagTempSet != 0
}

// NowMs is the host's clock, unix milliseconds.
func (v *View) NowMs() int64 { return int64(get64(v.b[56:])) }

// NumHeaders is the number of allow-listed headers.
func (v *View) NumHeaders() int { return v.nhdr }

// HeaderAt returns header i's lower-cased name and value.
func (v *View) HeaderAt(i int) (name, value string) {
	r := v.hdrOff + i*v.hdrSz
	return v.str(r), v.str(r + 8)
}

// Header returns the value of the header named name (lower-case), "" when absent.
func (v *View) Header(name string) string {
	for i := range v.nhdr {
		r := v.hdrOff + i*v.hdrSz
		off, n := get32(v.b[r:]), get32(v.b[r+4:])
		if int(n) == len(name) && uint64(off)+uint64(n) <= uint64(len(v.b)) && string(v.b[off:off+n]) == name {
			return v.str(r + 8)
		}
	}
	return ""
}

// Len is the number of candidates.
func (v *View) Len() int { return v.ncand }

// Cand returns candidate i (0 <= i < Len()).
func (v *View) Cand(i int) Cand {
	if i < 0 || i >= v.ncand {
		panic("routeview: candidate index out of range")
	}
	return Cand{v: v, r: v.candOff + i*v.candSize}
}

// Cand reads one candidate record in place.
type Cand struct {
	v *View
	r int
}

func (c Cand) ID() string       { return c.v.str(c.r) }
func (c Cand) Provider() string { return c.v.str(c.r + 8) }
func (c Cand) Model() string    { return c.v.str(c.r + 16) }
func (c Cand) Weight() int      { return int(int32(get32(c.v.b[c.r+24:]))) }
func (c Cand) Priority() int    { return int(int32(get32(c.v.b[c.r+28:]))) }
func (c Cand) Healthy() bool    { return get32(c.v.b[c.r+32:])&FlagHealthy != 0 }
func (c Cand) EWMAms() float64  { return math.Float64frombits(get64(c.v.b[c.r+40:])) }
func (c Cand) InFlight() int64  { return int64(get64(c.v.b[c.r+48:])) }
func (c Cand) ErrorRate() float64 {
	return math.Float64frombits(get64(c.v.b[c.r+56:]))
}
func (c Cand) PriceIn() float64  { return math.Float64frombits(get64(c.v.b[c.r+64:])) }
func (c Cand) PriceOut() float64 { return math.Float64frombits(get64(c.v.b[c.r+72:])) }

// AppendOrder appends the binary answer: candidate indices, first choice first.
func AppendOrder(dst []byte, order []int) []byte {
	dst = append(dst, OrderMagic...)
	dst = append(dst, 0, 0, 0, 0)
	put32(dst[len(dst)-4:], uint32(len(order)))
	for _, i := range order {
		dst = append(dst, 0, 0, 0, 0)
		put32(dst[len(dst)-4:], uint32(i))
	}
	return dst
}

// IsOrder reports whether b is a binary answer (as opposed to the JSON form).
func IsOrder(b []byte) bool { return len(b) >= 4 && string(b[:4]) == OrderMagic }

// ParseOrder decodes a binary answer for a view of ncand candidates into dst. An index out of
// range is an error.
func ParseOrder(dst []int, b []byte, ncand int) ([]int, error) {
	if len(b) < 8 || !IsOrder(b) {
		return dst, ErrFormat
	}
	n := int(get32(b[4:]))
	if n > (len(b)-8)/4 {
		return dst, ErrFormat
	}
	for k := range n {
		i := get32(b[8+4*k:])
		if int(i) >= ncand {
			return dst, errors.New("routeview: candidate index out of range")
		}
		dst = append(dst, int(i))
	}
	return dst, nil
}
