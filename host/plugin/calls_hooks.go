package plugin

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sluice-gw/sluice/host/plugin/envelope"
	"github.com/sluice-gw/sluice/sdk/abi"
)

// LogInput is what the on_log hook reports about a finished request besides Meta.
type LogInput = envelope.Log

// LogUsage is the token usage in a LogInput.
type LogUsage = envelope.Usage

// StreamDecision is an on_stream hook's answer: Action "" or "allow", "reject" (Status, Code,
// Message: the stream ends with an error event) or "rewrite" (Chunks are sent instead of the
// batch). State is kept by the caller for the stream's next batch.
type StreamDecision struct {
	Action  string            `json:"action"`
	State   json.RawMessage   `json:"state"`
	Status  int               `json:"status"`
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Chunks  []json.RawMessage `json:"chunks"`
}

// OnStream runs the on_stream hook over a batch of a stream's chunks. requestState is the
// plugin's request state, state what it returned for the stream's previous batch.
func (p *Plugin) OnStream(ctx context.Context, m *Meta, requestState, state []byte, chunks [][]byte, done bool) (StreamDecision, error) {
	out, err := p.callWith(ctx, abi.HookOnStream, func(b []byte) []byte {
		return envelope.OnStream(b, m, requestState, state, chunks, done)
	})
	if err != nil {
		return StreamDecision{}, err
	}
	var d StreamDecision
	if err := json.Unmarshal(out, &d); err != nil {
		return StreamDecision{}, p.badOutput(abi.HookOnStream, err)
	}
	if string(d.State) == "null" {
		d.State = nil
	}
	if len(d.State) > abi.StreamStateLimit {
		return StreamDecision{}, &Error{Plugin: p.name, Hook: abi.HookOnStream, Status: 502, Type: typeAPIError, Code: CodeBadOutput,
			Message: fmt.Sprintf("returned a stream state of %d bytes, more than the %d allowed", len(d.State), abi.StreamStateLimit)}
	}
	return d, nil
}

// OnLog runs the on_log hook; its output is ignored.
func (p *Plugin) OnLog(ctx context.Context, m *Meta, requestState []byte, l *LogInput) error {
	_, err := p.callWith(ctx, abi.HookOnLog, func(b []byte) []byte { return envelope.OnLog(b, m, requestState, l) })
	return err
}
