package plugin

import (
	"bytes"
	"errors"
	"fmt"
)

// Metering (docs/decisions.md, "Plugin sandbox: metered modules"). Every module is rewritten at
// load before wazero compiles it:
//   - two mutable globals are added and exported: fuel (i64) and depth (i32);
//   - each function starts with a depth check (trap when the depth left is 0, else take one),
//     then a fuel check charged with the function's instructions outside loops;
//   - each loop header is charged with the instructions of its body outside nested loops;
//   - the body is wrapped in a block of the function's result type and every return becomes a
//     branch to it, so the one exit gives the depth back;
//   - the declared memory maximum is clamped to the host's page limit (a module without one gets
//     the limit), so the cap holds whatever the guest's toolchain declared.
//
// The host sets fuel and depth before each call. Nothing else changes: no function, type or
// global index shifts, so calls, tables, exports and the name section stay valid.

const (
	meterFuelExport  = "sluice_meter_fuel"
	meterDepthExport = "sluice_meter_depth"
)

var wasmHeader = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}

type section struct {
	id   byte
	body []byte
}

type funcType struct{ params, results []byte }

// meterModule returns bin instrumented as above. maxPages bounds the memory maximum; fuel and
// depth are the globals' initial values, the budget of a wasm start function.
func meterModule(bin []byte, maxPages uint32, fuel int64, depth uint32) ([]byte, error) {
	secs, err := splitSections(bin)
	if err != nil {
		return nil, err
	}
	info, err := scanSections(secs)
	if err != nil {
		return nil, err
	}
	fuelIdx := info.importedGlobals + info.nGlob
	depthIdx := fuelIdx + 1
	bts := &blockTypes{types: info.types}

	// Code comes after the type section in the file, so rewrite it first to learn the extra
	// types, then emit in order.
	var code []byte
	for _, s := range secs {
		if s.id == 10 {
			if code, err = meterCode(s.body, info.funcTypes, bts.forFunc, fuelIdx, depthIdx); err != nil {
				return nil, err
			}
		}
	}
	w := &moduleWriter{
		out:     append([]byte(nil), wasmHeader...),
		globals: meterGlobals(fuel, depth),
		exports: meterExports(fuelIdx, depthIdx),
	}
	for _, s := range secs {
		if err := w.section(s, info, bts, code, maxPages); err != nil {
			return nil, err
		}
	}
	w.finish()
	return w.out, nil
}

// splitSections checks the header and cuts the module into its sections, in file order.
func splitSections(bin []byte) ([]section, error) {
	if !bytes.HasPrefix(bin, wasmHeader) {
		return nil, errors.New("meter: not a wasm 1.0 binary")
	}
	r := &reader{b: bin, off: len(wasmHeader)}
	var secs []section
	for r.off < len(bin) {
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		body, err := r.bytes()
		if err != nil {
			return nil, fmt.Errorf("meter: section %d: %w", id, err)
		}
		secs = append(secs, section{id, body})
	}
	return secs, nil
}

// moduleInfo is what the rewrite needs to know of a module before touching it.
type moduleInfo struct {
	types                  []funcType
	funcTypes              []uint32 // the type index of each defined function
	importedGlobals, nGlob uint32   // the new globals' indices come after both
}

// scanSections reads the types, function signatures and global counts, and refuses a module
// that already exports one of the host's reserved names.
func scanSections(secs []section) (moduleInfo, error) {
	var (
		info moduleInfo
		err  error
	)
	for _, s := range secs {
		switch s.id {
		case 1:
			if info.types, err = parseTypes(s.body); err != nil {
				return info, fmt.Errorf("meter: type section: %w", err)
			}
		case 2:
			if info.importedGlobals, err = countImportedGlobals(s.body); err != nil {
				return info, fmt.Errorf("meter: import section: %w", err)
			}
		case 3:
			if info.funcTypes, err = parseFuncs(s.body); err != nil {
				return info, fmt.Errorf("meter: function section: %w", err)
			}
		case 6:
			rr := &reader{b: s.body}
			if info.nGlob, err = rr.u32(); err != nil {
				return info, fmt.Errorf("meter: global section: %w", err)
			}
		case 7:
			if err := checkExportNames(s.body); err != nil {
				return info, err
			}
		}
	}
	return info, nil
}

// blockTypes gives the block type of each function's wrapper block. A function with several
// results needs a type index; those result-only types are appended after the module's own.
type blockTypes struct {
	types []funcType
	extra []funcType
}

// forFunc returns the block type for function type ti and the function's parameter count.
func (bt *blockTypes) forFunc(ti uint32) ([]byte, int, error) {
	if int(ti) >= len(bt.types) {
		return nil, 0, fmt.Errorf("type index %d out of range", ti)
	}
	res, np := bt.types[ti].results, len(bt.types[ti].params)
	switch len(res) {
	case 0:
		return []byte{0x40}, np, nil
	case 1:
		return []byte{res[0]}, np, nil
	}
	nTypes := int64(len(bt.types))
	for i, t := range bt.extra {
		if bytes.Equal(t.results, res) {
			return appendSLEB(nil, nTypes+int64(i)), np, nil
		}
	}
	bt.extra = append(bt.extra, funcType{results: res})
	return appendSLEB(nil, nTypes+int64(len(bt.extra)-1)), np, nil
}

// meterGlobals encodes the two added globals: fuel (mutable i64) and depth (mutable i32).
func meterGlobals(fuel int64, depth uint32) []byte {
	globals := appendSLEB([]byte{0x7e, 0x01, 0x42}, fuel)
	globals = append(globals, 0x0b, 0x7f, 0x01, 0x41)
	globals = appendSLEB(globals, int64(int32(depth)))
	return append(globals, 0x0b)
}

// meterExports encodes the exports of the two added globals.
func meterExports(fuelIdx, depthIdx uint32) []byte {
	exports := appendName(nil, meterFuelExport)
	exports = append(exports, 0x03)
	exports = appendULEB(exports, uint64(fuelIdx))
	exports = appendName(exports, meterDepthExport)
	exports = append(exports, 0x03)
	return appendULEB(exports, uint64(depthIdx))
}

// moduleWriter emits the rewritten module section by section, adding a global and an export
// section where the module has none.
type moduleWriter struct {
	out                    []byte
	globals, exports       []byte // the added entries
	haveGlobal, haveExport bool
}

func (w *moduleWriter) emit(id byte, body []byte) {
	w.out = append(w.out, id)
	w.out = appendULEB(w.out, uint64(len(body)))
	w.out = append(w.out, body...)
}

// section emits s rewritten: the type section gains the extra block types, memories are
// clamped, the global and export sections gain the meter's entries, the code is the metered
// code; any other section is copied.
func (w *moduleWriter) section(s section, info moduleInfo, bts *blockTypes, code []byte, maxPages uint32) error {
	// Custom sections (id 0) may sit anywhere; known ones are placed by their order.
	if s.id != 0 {
		if !w.haveGlobal && sectionAfter(s.id, 6) {
			w.emit(6, append(appendULEB(nil, 2), w.globals...))
			w.haveGlobal = true
		}
		if !w.haveExport && sectionAfter(s.id, 7) {
			w.emit(7, append(appendULEB(nil, 2), w.exports...))
			w.haveExport = true
		}
	}
	switch s.id {
	case 1:
		body := appendULEB(nil, uint64(len(info.types)+len(bts.extra)))
		body = append(body, skipCount(s.body)...)
		for _, t := range bts.extra {
			body = append(body, 0x60, 0x00)
			body = appendULEB(body, uint64(len(t.results)))
			body = append(body, t.results...)
		}
		w.emit(1, body)
	case 5:
		body, err := clampMemories(s.body, maxPages)
		if err != nil {
			return fmt.Errorf("meter: memory section: %w", err)
		}
		w.emit(5, body)
	case 6:
		body := appendULEB(nil, uint64(info.nGlob)+2)
		body = append(body, skipCount(s.body)...)
		w.emit(6, append(body, w.globals...))
		w.haveGlobal = true
	case 7:
		rr := &reader{b: s.body}
		n, _ := rr.u32()
		body := appendULEB(nil, uint64(n)+2)
		body = append(body, s.body[rr.off:]...)
		w.emit(7, append(body, w.exports...))
		w.haveExport = true
	case 10:
		w.emit(10, code)
	default:
		w.emit(s.id, s.body)
	}
	return nil
}

// finish adds the meter's global and export sections when the module had neither nor any
// section after them.
func (w *moduleWriter) finish() {
	if !w.haveGlobal {
		w.emit(6, append(appendULEB(nil, 2), w.globals...))
	}
	if !w.haveExport {
		w.emit(7, append(appendULEB(nil, 2), w.exports...))
	}
}

// sectionOrder is the position of each known section id in a module.
var sectionOrder = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

// sectionAfter reports whether section id comes after section want.
func sectionAfter(id, want byte) bool {
	o, ok := sectionOrder[id]
	return ok && o > sectionOrder[want]
}

func skipCount(b []byte) []byte {
	r := &reader{b: b}
	_, _ = r.u32()
	return b[r.off:]
}

func parseTypes(b []byte) ([]funcType, error) {
	r := &reader{b: b}
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	var ts []funcType
	for i := uint32(0); i < n; i++ {
		form, err := r.byte()
		if err != nil {
			return nil, err
		}
		if form != 0x60 {
			return nil, fmt.Errorf("type %d: form 0x%02x is not a function type", i, form)
		}
		p, err := r.bytes()
		if err != nil {
			return nil, err
		}
		q, err := r.bytes()
		if err != nil {
			return nil, err
		}
		ts = append(ts, funcType{p, q})
	}
	return ts, nil
}

func countImportedGlobals(b []byte) (uint32, error) {
	r := &reader{b: b}
	n, err := r.u32()
	if err != nil {
		return 0, err
	}
	var globals uint32
	for i := uint32(0); i < n; i++ {
		if _, err := r.bytes(); err != nil {
			return 0, err
		}
		if _, err := r.bytes(); err != nil {
			return 0, err
		}
		kind, err := r.byte()
		if err != nil {
			return 0, err
		}
		switch kind {
		case 0x00: // func
			_, err = r.u32()
		case 0x01: // table: reftype, limits
			if err = r.skip(1); err == nil {
				err = limits(r)
			}
		case 0x02:
			err = limits(r)
		case 0x03:
			globals++
			err = r.skip(2)
		default:
			return 0, fmt.Errorf("import %d: kind 0x%02x is not supported", i, kind)
		}
		if err != nil {
			return 0, err
		}
	}
	return globals, nil
}

func limits(r *reader) error {
	flags, err := r.byte()
	if err != nil {
		return err
	}
	if _, err := r.u32(); err != nil {
		return err
	}
	if flags&1 != 0 {
		_, err = r.u32()
	}
	return err
}

func parseFuncs(b []byte) ([]uint32, error) {
	r := &reader{b: b}
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	fs := make([]uint32, 0, min(n, 1<<20))
	for i := uint32(0); i < n; i++ {
		t, err := r.u32()
		if err != nil {
			return nil, err
		}
		fs = append(fs, t)
	}
	return fs, nil
}

func checkExportNames(b []byte) error {
	r := &reader{b: b}
	n, err := r.u32()
	if err != nil {
		return fmt.Errorf("meter: export section: %w", err)
	}
	for i := uint32(0); i < n; i++ {
		name, err := r.bytes()
		if err != nil {
			return fmt.Errorf("meter: export section: %w", err)
		}
		if s := string(name); s == meterFuelExport || s == meterDepthExport {
			return fmt.Errorf("meter: the module exports %q, a name the host reserves", s)
		}
		if err := r.skip(1); err != nil {
			return err
		}
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	return nil
}

// clampMemories rewrites each memory's maximum to at most maxPages (setting one when absent).
// A minimum above the limit is left for wazero to refuse with its own message.
func clampMemories(b []byte, maxPages uint32) ([]byte, error) {
	r := &reader{b: b}
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	out := appendULEB(nil, uint64(n))
	for i := uint32(0); i < n; i++ {
		start := r.off
		flags, err := r.byte()
		if err != nil {
			return nil, err
		}
		lo, err := r.u32()
		if err != nil {
			return nil, err
		}
		hi := uint32(0)
		if flags&1 != 0 {
			if hi, err = r.u32(); err != nil {
				return nil, err
			}
		}
		if flags > 1 || lo > maxPages {
			// Shared or 64-bit memories are not rewritten; wazero refuses them.
			out = append(out, b[start:r.off]...)
			continue
		}
		if flags == 0 || hi > maxPages {
			hi = maxPages
		}
		out = append(out, 0x01)
		out = appendULEB(out, uint64(lo))
		out = appendULEB(out, uint64(hi))
	}
	return out, nil
}

// meterCode rewrites the code section.
func meterCode(b []byte, funcTypes []uint32, blockTypeFor func(uint32) ([]byte, int, error), fuelIdx, depthIdx uint32) ([]byte, error) {
	r := &reader{b: b}
	n, err := r.u32()
	if err != nil {
		return nil, fmt.Errorf("meter: code section: %w", err)
	}
	if int(n) != len(funcTypes) {
		return nil, fmt.Errorf("meter: code section has %d bodies for %d functions", n, len(funcTypes))
	}
	out := appendULEB(make([]byte, 0, len(b)+len(b)/4), uint64(n))
	var body []byte
	for i := uint32(0); i < n; i++ {
		fb, err := r.bytes()
		if err != nil {
			return nil, fmt.Errorf("meter: function %d: %w", i, err)
		}
		bt, params, err := blockTypeFor(funcTypes[i])
		if err != nil {
			return nil, fmt.Errorf("meter: function %d: %w", i, err)
		}
		body, err = meterBody(body[:0], fb, bt, params, fuelIdx, depthIdx)
		if err != nil {
			return nil, fmt.Errorf("meter: function %d: %w", i, err)
		}
		out = appendULEB(out, uint64(len(body)))
		out = append(out, body...)
	}
	return out, nil
}

type span struct {
	start, end int
	kind       int
}

// meterBody instruments one function body (locals then expression) into out.
// The function keeps the budget in a local of its own (a register, where a global costs a
// load and a store each time): it is loaded from the global on entry and after each call, and
// stored back before each call, at the exit and before a budget trap.
func meterBody(out, fb, bt []byte, params int, fuelIdx, depthIdx uint32) ([]byte, error) {
	r := &reader{b: fb}
	nl, nLocals, err := readLocals(r, params)
	if err != nil {
		return nil, err
	}
	localsEnd := r.off
	spans, err := frameBody(r, nLocals, fuelIdx)
	if err != nil {
		return nil, err
	}
	cost := priceRegions(spans)
	m := &meterEmit{fuel: fuelIdx, local: uint32(nLocals)}

	out = appendULEB(out, uint64(nl)+1)
	out = append(out, fb[lebLen(fb):localsEnd]...)
	out = append(out, 0x01, 0x7e) // the budget local
	out = appendDepthEnter(out, depthIdx)
	out = m.load(out)
	out = m.charge(out, cost[0], true)
	out = append(out, 0x02)
	out = append(out, bt...)
	out = m.instrs(out, fb, spans, cost)
	out = append(out, 0x0b) // the wrapper block
	out = m.store(out)
	out = appendDepthLeave(out, depthIdx)
	return append(out, 0x0b), nil
}

// readLocals reads the local declarations, returning how many groups there are and the
// function's local count with its params. It refuses a count that leaves no room for the
// budget local.
func readLocals(r *reader, params int) (groups uint32, nLocals uint64, err error) {
	groups, err = r.u32()
	if err != nil {
		return 0, 0, err
	}
	nLocals = uint64(params)
	for j := uint32(0); j < groups; j++ {
		n, err := r.u32()
		if err != nil {
			return 0, 0, err
		}
		nLocals += uint64(n)
		if err := r.skip(1); err != nil {
			return 0, 0, err
		}
	}
	if nLocals >= 50000 {
		return 0, 0, fmt.Errorf("%d locals: too many to add one", nLocals)
	}
	return groups, nLocals, nil
}

// frameBody decodes the expression into instruction spans, up to and including the final end,
// checking that blocks nest and that nothing follows the final end.
func frameBody(r *reader, nLocals uint64, fuelIdx uint32) ([]span, error) {
	var (
		spans []span
		open  int
	)
	for {
		if r.off >= len(r.b) {
			return nil, errors.New("body has no final end")
		}
		start := r.off
		kind, err := nextInstr(r, nLocals, fuelIdx)
		if err != nil {
			return nil, err
		}
		spans = append(spans, span{start, r.off, kind})
		switch kind {
		case kBlock, kLoop:
			open++
		case kElse:
			if open == 0 {
				return nil, errors.New("else outside if")
			}
		case kEnd:
			if open == 0 {
				if r.off != len(r.b) {
					return nil, fmt.Errorf("%d bytes after the final end", len(r.b)-r.off)
				}
				return spans, nil
			}
			open--
		}
	}
}

// priceRegions returns cost[i], the price of the region starting at span i (zero where none
// starts). A region starts at the body's start and at every place a branch can land or a path
// can begin (after loop, else and end), and costs its instruction count. Entering a block or
// an if does not start one: the region runs on into it, so a skipped then-branch or the code
// after a branch out is charged anyway (the charge is an upper bound, never less than what
// runs). Every region is charged as it starts; only loop headers and the function entry also
// check the balance, since only back-edges and calls can make a run unbounded.
func priceRegions(spans []span) []int64 {
	cost := make([]int64, len(spans)+1)
	regionStart := 0
	for i, s := range spans {
		cost[regionStart]++
		switch s.kind {
		case kLoop, kElse, kEnd:
			regionStart = i + 1
		}
	}
	return cost
}

// instrs emits the body's instructions but the final end: each return becomes a branch to the
// wrapper block, each call saves the budget before and reloads it after, and each region is
// charged where it starts.
func (m *meterEmit) instrs(out, fb []byte, spans []span, cost []int64) []byte {
	depth := 0
	last := len(spans) - 1
	for i, s := range spans[:last] {
		switch s.kind {
		case kReturn:
			out = append(out, 0x0c)
			out = appendULEB(out, uint64(depth))
			continue
		case kBlock:
			depth++
		case kLoop:
			depth++
		case kEnd:
			depth--
		case kCall:
			out = m.store(out)
			out = append(out, fb[s.start:s.end]...)
			out = m.load(out)
			continue
		}
		out = append(out, fb[s.start:s.end]...)
		switch s.kind {
		case kLoop:
			out = m.charge(out, cost[i+1], true)
		case kElse, kEnd:
			if i+1 < last && cost[i+1] > 0 {
				out = m.charge(out, cost[i+1], false)
			}
		}
	}
	return out
}

// meterEmit writes the budget instructions of one function.
type meterEmit struct {
	fuel  uint32 // the global
	local uint32 // the function's copy
}

func lebLen(b []byte) int {
	for i, c := range b {
		if c&0x80 == 0 {
			return i + 1
		}
	}
	return len(b)
}

// load: local = global.
func (m *meterEmit) load(b []byte) []byte {
	b = append(b, 0x23)
	b = appendULEB(b, uint64(m.fuel))
	b = append(b, 0x21)
	return appendULEB(b, uint64(m.local))
}

// store: global = local.
func (m *meterEmit) store(b []byte) []byte {
	b = append(b, 0x20)
	b = appendULEB(b, uint64(m.local))
	b = append(b, 0x24)
	return appendULEB(b, uint64(m.fuel))
}

// charge: local -= cost; and when check, if local < 0 { global = local; unreachable }.
func (m *meterEmit) charge(b []byte, cost int64, check bool) []byte {
	b = append(b, 0x20)
	b = appendULEB(b, uint64(m.local))
	b = append(b, 0x42)
	b = appendSLEB(b, max(cost, 1))
	b = append(b, 0x7d) // i64.sub
	if !check {
		b = append(b, 0x21)
		return appendULEB(b, uint64(m.local))
	}
	b = append(b, 0x22) // local.tee
	b = appendULEB(b, uint64(m.local))
	b = append(b, 0x42, 0x00, 0x53, 0x04, 0x40) // i64.const 0, i64.lt_s, if
	b = m.store(b)
	return append(b, 0x00, 0x0b) // unreachable, end
}

// appendDepthEnter: if depth == 0 { unreachable }; depth--.
func appendDepthEnter(b []byte, idx uint32) []byte {
	b = append(b, 0x23)
	b = appendULEB(b, uint64(idx))
	b = append(b, 0x45, 0x04, 0x40, 0x00, 0x0b) // i32.eqz, if, unreachable, end
	b = append(b, 0x23)
	b = appendULEB(b, uint64(idx))
	b = append(b, 0x41, 0x01, 0x6b, 0x24) // i32.const 1, i32.sub, global.set
	return appendULEB(b, uint64(idx))
}

// appendDepthLeave: depth++.
func appendDepthLeave(b []byte, idx uint32) []byte {
	b = append(b, 0x23)
	b = appendULEB(b, uint64(idx))
	b = append(b, 0x41, 0x01, 0x6a, 0x24) // i32.const 1, i32.add, global.set
	return appendULEB(b, uint64(idx))
}

func appendULEB(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendSLEB(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendName(b []byte, s string) []byte {
	b = appendULEB(b, uint64(len(s)))
	return append(b, s...)
}
