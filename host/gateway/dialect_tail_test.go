package gateway

import (
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/host/provider"
)

// messagesAnswer is a Messages answer of about size bytes in Anthropic's member order: the
// stop reason and usage after the content.
func messagesAnswer(size int) []byte {
	head := `{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"`
	tail := `"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":36,"cache_creation_input_tokens":5,"cache_read_input_tokens":7,"output_tokens":160,"service_tier":"standard"}}`
	n := max(size-len(head)-len(tail), 0)
	word := `lorem \"ipsum\" dolor sit amet `
	return []byte(head + strings.TrimRight(strings.Repeat(word, n/len(word)+1)[:n], `\`) + tail)
}

// The tail read gives what the whole parse gives, and steps aside when the tail is not the
// answer's own members.
func TestMessagesTail(t *testing.T) {
	bodies := []string{
		string(messagesAnswer(1 << 10)),
		string(messagesAnswer(64 << 10)),
		`{"usage":{"input_tokens":3,"output_tokens":1},"stop_reason":"tool_use"}`,
		`{"content":[{"type":"tool_use","input":{"usage":{"input_tokens":99},"stop_reason":"x"}}],"stop_reason":"tool_use","usage":{"input_tokens":2,"output_tokens":1}}`,
		`{"content":[{"type":"tool_use","input":{"usage":{"input_tokens":99},"stop_reason":"x"}}]}`,
		`{"stop_reason":null,"usage":null}`,
	}
	for _, b := range bodies {
		u, finish := nativeSummary(provider.Messages, []byte(b))
		wu, wfinish := nativeSummaryTape(provider.Messages, []byte(b))
		if finish != wfinish || (u == nil) != (wu == nil) || (u != nil && *u != *wu) {
			t.Errorf("%.80s: tail %+v %q, whole %+v %q", b, u, finish, wu, wfinish)
		}
	}
	if _, _, ok := messagesTail([]byte(bodies[4])); ok {
		t.Error("members nested in the content were read as the answer's")
	}
	if _, _, ok := messagesTail(messagesAnswer(16 << 10)); !ok {
		t.Error("the tail of an ordinary answer was not read")
	}
}

func BenchmarkNativeSummaryMessagesSizes(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10, 256 << 10} {
		body := messagesAnswer(size)
		for _, way := range []struct {
			name string
			read func(string, []byte) (*openai.Usage, string)
		}{{"tail", nativeSummary}, {"whole", nativeSummaryTape}} { // "tail": as served (the whole parse below minTailSummary)
			b.Run(strconv.Itoa(size>>10)+"KB/"+way.name, func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					if u, f := way.read(provider.Messages, body); u == nil || f != "end_turn" {
						b.Fatal("no summary")
					}
				}
			})
		}
	}
}
