package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"
)

// FirstEvent is the kind of a stream's first event, the "event" label of the time-to-first-
// token histogram: a small fixed set, so a request resolves its child by index, not by
// hashing a label value.
type FirstEvent uint8

// The kinds of a chat stream's first chunk, then the native stream events (Responses and
// Messages) counted under their own names. FirstEventOther is any other or unknown event.
const (
	FirstEventOther FirstEvent = iota
	FirstEventRole
	FirstEventContent
	FirstEventReasoning
	FirstEventToolCall
	FirstEventRefusal
	FirstEventUsage
	FirstEventResponseCreated
	FirstEventResponseInProgress
	FirstEventResponseOutputItemAdded
	FirstEventResponseContentPartAdded
	FirstEventResponseOutputTextDelta
	FirstEventResponseReasoningDelta
	FirstEventResponseFunctionCallDelta
	FirstEventMessageStart
	FirstEventContentBlockStart
	FirstEventContentBlockDelta
	FirstEventPing
	FirstEventError
	numFirstEvents
)

var firstEventNames = [numFirstEvents]string{
	FirstEventOther:                     "other",
	FirstEventRole:                      "role",
	FirstEventContent:                   "content",
	FirstEventReasoning:                 "reasoning",
	FirstEventToolCall:                  "tool_call",
	FirstEventRefusal:                   "refusal",
	FirstEventUsage:                     "usage",
	FirstEventResponseCreated:           "response.created",
	FirstEventResponseInProgress:        "response.in_progress",
	FirstEventResponseOutputItemAdded:   "response.output_item.added",
	FirstEventResponseContentPartAdded:  "response.content_part.added",
	FirstEventResponseOutputTextDelta:   "response.output_text.delta",
	FirstEventResponseReasoningDelta:    "response.reasoning_summary_text.delta",
	FirstEventResponseFunctionCallDelta: "response.function_call_arguments.delta",
	FirstEventMessageStart:              "message_start",
	FirstEventContentBlockStart:         "content_block_start",
	FirstEventContentBlockDelta:         "content_block_delta",
	FirstEventPing:                      "ping",
	FirstEventError:                     "error",
}

// String is the label value.
func (e FirstEvent) String() string {
	if e >= numFirstEvents {
		return firstEventNames[FirstEventOther]
	}
	return firstEventNames[e]
}

// NativeFirstEvent maps a native stream's event name (Responses or Messages) to its kind;
// a name outside the set is FirstEventOther, so an upstream cannot add series.
func NativeFirstEvent(name string) FirstEvent {
	for e := FirstEventResponseCreated; e < numFirstEvents; e++ {
		if firstEventNames[e] == name {
			return e
		}
	}
	return FirstEventOther
}

// ttftChild holds one resolved TTFT child; a pointer to it is swapped in atomically.
type ttftChild struct{ prometheus.Observer }

// ttftFor returns the request label set's TTFT child for the event kind, resolving it on
// first use: only kinds that happen become series.
func (m *metrics) ttftFor(h *reqHandles, e FirstEvent) prometheus.Observer {
	if e >= numFirstEvents {
		e = FirstEventOther
	}
	p := &h.ttft[e]
	if c := p.Load(); c != nil {
		return c.Observer
	}
	p.CompareAndSwap(nil, &ttftChild{m.ttft.WithLabelValues(h.provider, h.model, e.String())})
	return p.Load().Observer
}
