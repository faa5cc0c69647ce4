package plugin

import (
	"errors"
	"fmt"
)

// The decoder below walks a function body instruction by instruction. It only needs each
// instruction's extent and, for control instructions, its kind: the bytes themselves are copied
// through unchanged and wazero validates the rewritten module, so a body the decoder frames
// wrongly cannot slip past validation. Anything it does not know is refused by name.

var errTruncated = errors.New("truncated")

// reader is a cursor over a byte slice.
type reader struct {
	b   []byte
	off int
}

func (r *reader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, errTruncated
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *reader) skip(n int) error {
	if n < 0 || len(r.b)-r.off < n {
		return errTruncated
	}
	r.off += n
	return nil
}

// leb reads an unsigned LEB128 of at most maxBytes bytes.
func (r *reader) leb(maxBytes int) (uint64, error) {
	var v uint64
	for i := 0; i < maxBytes; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if i < 10 {
			v |= uint64(c&0x7f) << (7 * uint(i))
		}
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, errors.New("LEB128 too long")
}

func (r *reader) u32() (uint32, error) {
	v, err := r.leb(5)
	if err != nil {
		return 0, err
	}
	if v > 0xffffffff {
		return 0, errors.New("u32 out of range")
	}
	return uint32(v), nil
}

// bytes reads a length-prefixed byte string (names, section bodies).
func (r *reader) bytes() ([]byte, error) {
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	start := r.off
	if err := r.skip(int(n)); err != nil {
		return nil, err
	}
	return r.b[start:r.off], nil
}

// instr kinds the rewriter cares about.
const (
	kOther = iota
	kBlock // block or if: opens a label
	kLoop
	kElse
	kEnd
	kReturn
	kCall // call, call_indirect: the callee reads the budget from the global
)

// nextInstr decodes one instruction at r and returns its kind. Unknown or unsupported opcodes
// are errors naming the opcode. Local and global indices must be below nLocals and nGlobals,
// the function's and module's own: the meter's local and globals come after them, and only
// the meter's code may touch those (wazero validates the rewritten module, in which they
// exist, so the original's bounds are checked here).
func nextInstr(r *reader, nLocals uint64, nGlobals uint32) (int, error) {
	at := r.off
	op, err := r.byte()
	if err != nil {
		return 0, err
	}
	switch {
	case op <= 0x11:
		return controlInstr(r, op, at)
	case op <= 0x26:
		return kOther, variableInstr(r, op, at, nLocals, nGlobals)
	default:
		return kOther, operandInstr(r, op, at)
	}
}

// unsupported is the error for an opcode the meter does not decode.
func unsupported(at int, op byte) error {
	return fmt.Errorf("offset %d: opcode 0x%02x (%s) is not supported", at, op, opName(op))
}

// controlInstr decodes the control instructions (0x00 to 0x11): blocks, branches, return
// and calls, the ones whose kind the rewriter acts on.
func controlInstr(r *reader, op byte, at int) (int, error) {
	var err error
	switch op {
	case 0x00, 0x01: // unreachable, nop
		return kOther, nil
	case 0x02, 0x04: // block, if
		return kBlock, blockType(r)
	case 0x03:
		return kLoop, blockType(r)
	case 0x05:
		return kElse, nil
	case 0x0b:
		return kEnd, nil
	case 0x0c, 0x0d: // br, br_if
		_, err = r.u32()
	case 0x0e: // br_table
		var n uint32
		if n, err = r.u32(); err != nil {
			return 0, err
		}
		for i := uint64(0); i <= uint64(n) && err == nil; i++ {
			_, err = r.u32()
		}
	case 0x0f:
		return kReturn, nil
	case 0x10: // call
		_, err = r.u32()
		return kCall, err
	case 0x11: // call_indirect typeidx tableidx
		if _, err = r.u32(); err == nil {
			_, err = r.u32()
		}
		return kCall, err
	default:
		return 0, unsupported(at, op)
	}
	return kOther, err
}

// variableInstr decodes the parametric, variable and table access instructions (0x12 to
// 0x26), checking local and global indices against the original module's bounds.
func variableInstr(r *reader, op byte, at int, nLocals uint64, nGlobals uint32) error {
	var err error
	switch {
	case op == 0x1a || op == 0x1b: // drop, select
	case op == 0x1c: // select t*
		var n uint32
		if n, err = r.u32(); err == nil {
			err = r.skip(int(n))
		}
	case op >= 0x20 && op <= 0x22: // local.get, local.set, local.tee
		var i uint32
		if i, err = r.u32(); err == nil && uint64(i) >= nLocals {
			return fmt.Errorf("offset %d: local %d out of range", at, i)
		}
	case op == 0x23 || op == 0x24: // global.get, global.set
		var i uint32
		if i, err = r.u32(); err == nil && i >= nGlobals {
			return fmt.Errorf("offset %d: global %d out of range", at, i)
		}
	case op == 0x25 || op == 0x26: // table.get, table.set
		_, err = r.u32()
	default:
		return unsupported(at, op)
	}
	return err
}

// operandInstr decodes the memory, constant, numeric and reference instructions and the
// prefixed ones (0x27 up): none changes control flow, so only their immediates are skipped.
func operandInstr(r *reader, op byte, at int) error {
	var err error
	switch {
	case op >= 0x28 && op <= 0x3e: // loads and stores
		err = memarg(r)
	case op == 0x3f || op == 0x40: // memory.size, memory.grow
		_, err = r.u32()
	case op == 0x41: // i32.const
		_, err = r.leb(5)
	case op == 0x42: // i64.const
		_, err = r.leb(10)
	case op == 0x43:
		err = r.skip(4)
	case op == 0x44:
		err = r.skip(8)
	case op >= 0x45 && op <= 0xc4: // numeric, including sign extension
	case op == 0xd0: // ref.null t
		err = r.skip(1)
	case op == 0xd1: // ref.is_null
	case op == 0xd2: // ref.func
		_, err = r.u32()
	case op == 0xfc:
		err = prefixFC(r)
	case op == 0xfd:
		err = prefixFD(r)
	default:
		return unsupported(at, op)
	}
	return err
}

func opName(op byte) string {
	switch {
	case op >= 0x06 && op <= 0x0a, op == 0x18, op == 0x19, op == 0x1f:
		return "exception handling"
	case op == 0x12 || op == 0x13 || op == 0x15:
		return "tail call"
	case op == 0x14 || op >= 0xd3 && op <= 0xd6:
		return "typed function references"
	case op == 0xfb:
		return "GC"
	case op == 0xfe:
		return "threads"
	}
	return "unknown"
}

func blockType(r *reader) error {
	if r.off >= len(r.b) {
		return errTruncated
	}
	switch c := r.b[r.off]; c {
	case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		r.off++
		return nil
	}
	_, err := r.leb(5) // s33 type index
	return err
}

func memarg(r *reader) error {
	align, err := r.u32()
	if err != nil {
		return err
	}
	if align&0x40 != 0 {
		return errors.New("multi-memory is not supported")
	}
	_, err = r.leb(10) // offset (u64 under memory64; wazero refuses what it does not support)
	return err
}

// prefixFC covers saturating truncation (0-7), bulk memory and table operations (8-17).
func prefixFC(r *reader) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case sub <= 7:
		return nil
	case sub == 8 || sub == 10 || sub == 12 || sub == 14: // two immediates
		if _, err := r.u32(); err != nil {
			return err
		}
		_, err = r.u32()
		return err
	case sub == 9 || sub == 11 || sub == 13 || sub == 15 || sub == 16 || sub == 17:
		_, err = r.u32()
		return err
	}
	return fmt.Errorf("opcode 0xfc %d is not supported", sub)
}

// prefixFD covers the fixed-width SIMD proposal (opcodes 0-255); relaxed SIMD is refused.
func prefixFD(r *reader) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch {
	case sub <= 11 || sub == 92 || sub == 93: // v128 loads and stores
		return memarg(r)
	case sub == 12 || sub == 13: // v128.const, i8x16.shuffle
		return r.skip(16)
	case sub >= 21 && sub <= 34: // extract/replace lane
		return r.skip(1)
	case sub >= 84 && sub <= 91: // load/store lane
		if err := memarg(r); err != nil {
			return err
		}
		return r.skip(1)
	case sub <= 255:
		return nil
	}
	return fmt.Errorf("opcode 0xfd %d (relaxed SIMD) is not supported", sub)
}
