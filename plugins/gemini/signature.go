package gemini

import (
	"encoding/base64"
	"strings"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// Thought signatures: Gemini puts an opaque thoughtSignature on some parts of a model turn (the
// first functionCall part of each step, sometimes a text or thought part) and wants each back on
// the same part of that turn in the next request. A chat message has one reasoning_signature
// string, so every signature of a turn becomes one segment of it:
//
//	"gemini:" + base64url(JSON {"c": n, "s": signature})  the n-th tool call's part
//	"gemini:" + base64url(JSON {"s": signature})          a text or thought part
//
// The segments are concatenated in the order of the parts. base64url has no ':', so the prefix
// delimits the segments exactly, and a stream can send each segment as its own delta (clients
// and the Responses bridge concatenate the deltas). A signature not starting with the prefix
// (Anthropic's, OpenAI's encrypted_content) is another provider's and is not sent to Gemini;
// a segment that does not decode is skipped: a conversation may move between providers.
const sigPrefix = "gemini:"

// appendSigSegment appends the segment of a part's signature; call is the part's tool-call
// index, or -1 for a part that is not a function call.
func appendSigSegment(dst []byte, call int64, sig jsonx.Value) []byte {
	w := jsonx.NewWriter(make([]byte, 0, len(sig.Raw())+16))
	w.ObjectStart()
	if call >= 0 {
		w.Key("c")
		w.Int(call)
	}
	w.Key("s")
	w.Value(sig)
	w.ObjectEnd()
	dst = append(dst, sigPrefix...)
	return base64.RawURLEncoding.AppendEncode(dst, w.Bytes())
}

// turnSigs are the signatures of one model turn, decoded from its reasoning_signature.
type turnSigs struct {
	text  jsonx.Value           // of a text or thought part (the last one wins)
	calls map[int64]jsonx.Value // by tool-call index
}

// decodeSigs reads a reasoning_signature; anything that is not Gemini's yields no signatures.
func decodeSigs(v jsonx.Value) turnSigs {
	var ts turnSigs
	s := v.Str()
	if !v.IsString() || !strings.HasPrefix(s, sigPrefix) {
		return ts
	}
	var f [2]jsonx.Value
	for _, seg := range strings.Split(s[len(sigPrefix):], sigPrefix) {
		raw, err := base64.RawURLEncoding.DecodeString(seg)
		if err != nil {
			continue
		}
		obj, err := jsonx.Parse(raw)
		if err != nil || !obj.IsObject() {
			continue
		}
		obj.Fields(f[:], "c", "s")
		if !f[1].IsString() || f[1].Is("") {
			continue
		}
		if !f[0].Exists() {
			ts.text = f[1]
			continue
		}
		n, ok := f[0].Int()
		if !ok || n < 0 {
			continue
		}
		if ts.calls == nil {
			ts.calls = make(map[int64]jsonx.Value, 1)
		}
		ts.calls[n] = f[1]
	}
	return ts
}

func writeSig(w *jsonx.Writer, sig jsonx.Value) {
	if sig.IsString() {
		w.Key("thoughtSignature")
		w.Value(sig)
	}
}
