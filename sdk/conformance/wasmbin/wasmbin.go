// Package wasmbin writes small WebAssembly binary modules by hand. The conformance kit and the
// host's tests use it to build guests that break the ABI in one precise way (a wrong
// signature, a foreign import, a trap) without a wasm toolchain and in microseconds.
package wasmbin

// ValType is a wasm value type.
type ValType byte

// Value types.
const (
	I32 ValType = 0x7f
	I64 ValType = 0x7e
)

// Opcodes used by the fixtures.
const (
	OpUnreachable = 0x00
	OpBlock       = 0x02
	OpLoop        = 0x03
	OpBr          = 0x0c
	OpBrIf        = 0x0d
	OpEnd         = 0x0b
	OpCall        = 0x10
	OpDrop        = 0x1a
	OpLocalGet    = 0x20
	OpLocalSet    = 0x21
	OpI32Const    = 0x41
	OpI64Const    = 0x42
	OpI32Eq       = 0x46
	OpI64Or       = 0x84
	OpI64Shl      = 0x86
	OpI64ExtendU  = 0xad // i64.extend_i32_u
	OpMemoryGrow  = 0x40
	BlockVoid     = 0x40
)

type funcType struct{ params, results []ValType }

type imp struct {
	module, name string
	typ          uint32
}

type fn struct {
	typ    uint32
	locals []ValType
	body   []byte
}

type export struct {
	name string
	kind byte
	idx  uint32
}

type data struct {
	offset uint32
	b      []byte
}

// Module is a module under construction. Add imports before functions: function indices count
// imports first.
type Module struct {
	types   []funcType
	imports []imp
	funcs   []fn
	memMin  uint32
	memMax  uint32
	hasMem  bool
	hasMax  bool
	exports []export
	data    []data
}

func (m *Module) typeIndex(params, results []ValType) uint32 {
	for i, t := range m.types {
		if string(valBytes(t.params)) == string(valBytes(params)) && string(valBytes(t.results)) == string(valBytes(results)) {
			return uint32(i)
		}
	}
	m.types = append(m.types, funcType{params, results})
	return uint32(len(m.types) - 1)
}

func valBytes(v []ValType) []byte {
	b := make([]byte, len(v))
	for i, t := range v {
		b[i] = byte(t)
	}
	return b
}

// Import adds a function import and returns its function index.
func (m *Module) Import(module, name string, params, results []ValType) uint32 {
	m.imports = append(m.imports, imp{module, name, m.typeIndex(params, results)})
	return uint32(len(m.imports) - 1)
}

// Func adds a function whose body is the given instructions (without the final end) and
// returns its index.
func (m *Module) Func(params, results, locals []ValType, body ...byte) uint32 {
	m.funcs = append(m.funcs, fn{m.typeIndex(params, results), locals, body})
	return uint32(len(m.imports) + len(m.funcs) - 1)
}

// NextFunc is the index the next Func call will return (for self-recursive bodies).
func (m *Module) NextFunc() uint32 { return uint32(len(m.imports) + len(m.funcs)) }

// Memory declares the module's memory with min pages (max 0 means none).
func (m *Module) Memory(min, max uint32) {
	m.hasMem, m.memMin, m.memMax, m.hasMax = true, min, max, max > 0
}

// ExportFunc exports function idx as name.
func (m *Module) ExportFunc(name string, idx uint32) {
	m.exports = append(m.exports, export{name, 0, idx})
}

// ExportMemory exports memory 0 as name.
func (m *Module) ExportMemory(name string) { m.exports = append(m.exports, export{name, 2, 0}) }

// Data places b at offset in memory 0.
func (m *Module) Data(offset uint32, b []byte) { m.data = append(m.data, data{offset, b}) }

// Bytes encodes the module.
func (m *Module) Bytes() []byte {
	out := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	section := func(id byte, body []byte) {
		out = append(out, id)
		out = ULEB(out, uint64(len(body)))
		out = append(out, body...)
	}
	if len(m.types) > 0 {
		b := ULEB(nil, uint64(len(m.types)))
		for _, t := range m.types {
			b = append(b, 0x60)
			b = ULEB(b, uint64(len(t.params)))
			b = append(b, valBytes(t.params)...)
			b = ULEB(b, uint64(len(t.results)))
			b = append(b, valBytes(t.results)...)
		}
		section(1, b)
	}
	if len(m.imports) > 0 {
		b := ULEB(nil, uint64(len(m.imports)))
		for _, im := range m.imports {
			b = name(b, im.module)
			b = name(b, im.name)
			b = append(b, 0)
			b = ULEB(b, uint64(im.typ))
		}
		section(2, b)
	}
	if len(m.funcs) > 0 {
		b := ULEB(nil, uint64(len(m.funcs)))
		for _, f := range m.funcs {
			b = ULEB(b, uint64(f.typ))
		}
		section(3, b)
	}
	if m.hasMem {
		b := []byte{1}
		if m.hasMax {
			b = append(b, 1)
			b = ULEB(b, uint64(m.memMin))
			b = ULEB(b, uint64(m.memMax))
		} else {
			b = append(b, 0)
			b = ULEB(b, uint64(m.memMin))
		}
		section(5, b)
	}
	if len(m.exports) > 0 {
		b := ULEB(nil, uint64(len(m.exports)))
		for _, e := range m.exports {
			b = name(b, e.name)
			b = append(b, e.kind)
			b = ULEB(b, uint64(e.idx))
		}
		section(7, b)
	}
	if len(m.funcs) > 0 {
		b := ULEB(nil, uint64(len(m.funcs)))
		for _, f := range m.funcs {
			var body []byte
			body = ULEB(body, uint64(len(f.locals)))
			for _, l := range f.locals {
				body = append(body, 1, byte(l))
			}
			body = append(body, f.body...)
			body = append(body, OpEnd)
			b = ULEB(b, uint64(len(body)))
			b = append(b, body...)
		}
		section(10, b)
	}
	if len(m.data) > 0 {
		b := ULEB(nil, uint64(len(m.data)))
		for _, d := range m.data {
			b = append(b, 0, OpI32Const)
			b = SLEB(b, int64(int32(d.offset)))
			b = append(b, OpEnd)
			b = ULEB(b, uint64(len(d.b)))
			b = append(b, d.b...)
		}
		section(11, b)
	}
	return out
}

func name(b []byte, s string) []byte {
	b = ULEB(b, uint64(len(s)))
	return append(b, s...)
}

// ULEB appends v in unsigned LEB128.
func ULEB(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

// SLEB appends v in signed LEB128.
func SLEB(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// I32Const encodes i32.const v.
func I32Const(v int32) []byte { return SLEB([]byte{OpI32Const}, int64(v)) }

// I64Const encodes i64.const v.
func I64Const(v int64) []byte { return SLEB([]byte{OpI64Const}, v) }

// LocalGet encodes local.get i.
func LocalGet(i uint32) []byte { return ULEB([]byte{OpLocalGet}, uint64(i)) }

// Call encodes call f.
func Call(f uint32) []byte { return ULEB([]byte{OpCall}, uint64(f)) }

// Cat concatenates instruction sequences.
func Cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
