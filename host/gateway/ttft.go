package gateway

import (
	"bytes"

	"github.com/sluice-gw/sluice/host/telemetry"
)

var (
	toolCallsKey = []byte(`"tool_calls":[`)
	contentKey   = []byte(`"content":"`)
	reasoningKey = []byte(`"reasoning_content":"`)
	reasonKey    = []byte(`"reasoning":"`)
	refusalKey   = []byte(`"refusal":"`)
	roleKey      = []byte(`"role":`)
	choicesEmpty = []byte(`"choices":[]`)
)

// chatFirstEvent classifies a chat stream's first chunk for the TTFT histogram: what the
// client first received. A key's quoted name cannot occur inside a JSON string (its quotes
// would be escaped), so byte searches find members, not text.
func chatFirstEvent(chunk []byte) telemetry.FirstEvent {
	switch {
	case bytes.Contains(chunk, toolCallsKey):
		return telemetry.FirstEventToolCall
	case nonEmptyString(chunk, contentKey):
		return telemetry.FirstEventContent
	case nonEmptyString(chunk, reasoningKey), nonEmptyString(chunk, reasonKey):
		return telemetry.FirstEventReasoning
	case nonEmptyString(chunk, refusalKey):
		return telemetry.FirstEventRefusal
	case bytes.Contains(chunk, roleKey):
		return telemetry.FirstEventRole
	case bytes.Contains(chunk, choicesEmpty) && bytes.Contains(chunk, usageKey):
		return telemetry.FirstEventUsage
	}
	return telemetry.FirstEventOther
}

var usageKey = []byte(`"usage":{`)

// nonEmptyString reports whether key (ending in its value's opening quote) occurs with a
// non-empty string value.
func nonEmptyString(b, key []byte) bool {
	i := bytes.Index(b, key)
	return i >= 0 && i+len(key) < len(b) && b[i+len(key)] != '"'
}

// noteFirstEvent classifies the first chunk of each attempt: an attempt that failed over
// before sending anything set its own ttft, and the next attempt's first chunk sets a new one.
func (c *call) noteFirstEvent(chunk []byte) {
	if c.ttft != c.firstEventAt {
		c.firstEventAt = c.ttft
		c.firstEvent = chatFirstEvent(chunk)
	}
}
