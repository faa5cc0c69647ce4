package jsonx

// NextMember steps through an object without an iterator, as NextElem does through an array:
// pos 0 gives the first member, and each call returns the member's key (a String Value) and
// value and the pos of the member after it; the key is Invalid when there are no more. pos must
// be 0 or a value NextMember returned for v.
//
//	for k, val, i := v.NextMember(0); k.Exists(); k, val, i = v.NextMember(i) { ... }
func (v Value) NextMember(pos int) (key, val Value, next int) {
	if v.Kind() != Object || pos < 0 {
		return Value{}, Value{}, len(v.raw)
	}
	d := v.raw
	i := pos
	if i == 0 {
		i = skipWS(d, 1)
	}
	if i >= len(d) || d[i] != '"' {
		return Value{}, Value{}, len(d)
	}
	k, val, next := v.nextMember(i)
	return Value{raw: k, t: v.t}, val, next
}
