package telemetry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	"google.golang.org/protobuf/encoding/protowire"
)

// The lean tracer's exporter: ended spans queue in memory (at most spanQueueMax; beyond that
// they are dropped and counted, as the SDK's batch processor drops them) and one goroutine
// sends them as OTLP/HTTP protobuf in batches of up to spanBatchMax, at least every
// spanFlushEvery. The defaults are the SDK batch processor's.
const (
	spanQueueMax   = 2048
	spanBatchMax   = 512
	spanFlushEvery = 5 * time.Second
	spanPostLimit  = 10 * time.Second
)

// spanBatcher queues ended lean spans and exports them.
type spanBatcher struct {
	url     string
	headers map[string]string
	client  *http.Client
	// resource and scopeMsg are encoded once; buf is reused by every export (one goroutine).
	resource []byte
	schema   string
	scopeMsg []byte
	buf      []byte

	mu      sync.Mutex
	queue   []*leanSpan
	dropped int64
	kick    chan struct{}
	flush   chan chan struct{}
	stop    chan struct{}
	done    chan struct{}
	stopped bool
}

func newSpanBatcher(url string, headers map[string]string, res *resource.Resource, scope string) *spanBatcher {
	b := &spanBatcher{
		url: url, headers: headers,
		client:   &http.Client{Timeout: spanPostLimit},
		resource: encodeResource(res.Attributes()),
		schema:   res.SchemaURL(),
		scopeMsg: encodeScope(scope),
		kick:     make(chan struct{}, 1), flush: make(chan chan struct{}), stop: make(chan struct{}), done: make(chan struct{}),
		queue: make([]*leanSpan, 0, spanBatchMax),
	}
	go b.loop()
	return b
}

// add queues one ended span; it never blocks the request.
func (b *spanBatcher) add(s *leanSpan) {
	b.mu.Lock()
	if b.stopped || len(b.queue) >= spanQueueMax {
		b.dropped++
		b.mu.Unlock()
		return
	}
	b.queue = append(b.queue, s)
	full := len(b.queue) == spanBatchMax
	b.mu.Unlock()
	if full {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

func (b *spanBatcher) take() []*leanSpan {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.queue
	b.queue = make([]*leanSpan, 0, spanBatchMax)
	return q
}

func (b *spanBatcher) loop() {
	defer close(b.done)
	tick := time.NewTicker(spanFlushEvery)
	defer tick.Stop()
	for {
		var ack chan struct{}
		select {
		case <-b.kick:
		case <-tick.C:
		case ack = <-b.flush:
		case <-b.stop:
			b.exportAll(context.Background())
			return
		}
		b.exportAll(context.Background())
		if ack != nil {
			close(ack)
		}
	}
}

func (b *spanBatcher) exportAll(ctx context.Context) {
	q := b.take()
	for len(q) > 0 {
		n := min(len(q), spanBatchMax)
		if err := b.export(ctx, q[:n]); err != nil {
			otel.Handle(fmt.Errorf("telemetry: traces: otlp-http: %w", err))
		}
		q = q[n:]
	}
	b.mu.Lock()
	dropped := b.dropped
	b.dropped = 0
	b.mu.Unlock()
	if dropped > 0 {
		otel.Handle(fmt.Errorf("telemetry: traces: %d spans dropped: export queue full", dropped))
	}
}

// export sends one batch, retrying a refused or failed post twice with a short backoff.
func (b *spanBatcher) export(ctx context.Context, spans []*leanSpan) error {
	b.buf = b.appendRequest(b.buf[:0], spans)
	body := b.buf
	var last error
	for try := range 3 {
		if try > 0 {
			select {
			case <-time.After(time.Duration(try) * 500 * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		retry, err := b.post(ctx, body)
		if err == nil {
			return nil
		}
		last = err
		if !retry {
			break
		}
	}
	return last
}

func (b *spanBatcher) post(ctx context.Context, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.url, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	for k, v := range b.headers {
		req.Header.Set(k, v)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusBadGateway,
		resp.StatusCode == http.StatusServiceUnavailable, resp.StatusCode == http.StatusGatewayTimeout:
		return true, fmt.Errorf("collector answered %s", resp.Status)
	}
	return false, fmt.Errorf("collector answered %s", resp.Status)
}

// Flush exports what is queued and waits for it (or ctx).
func (b *spanBatcher) Flush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case b.flush <- ack:
	case <-b.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown exports what is queued, refuses new spans and stops the goroutine.
func (b *spanBatcher) Shutdown(ctx context.Context) error {
	b.mu.Lock()
	if b.stopped {
		b.mu.Unlock()
		return nil
	}
	b.stopped = true
	b.mu.Unlock()
	close(b.stop)
	select {
	case <-b.done:
		return nil
	case <-ctx.Done():
		return errors.Join(errors.New("telemetry: traces: shutdown before the last export finished"), ctx.Err())
	}
}

// The encoder writes OTLP protobuf directly (field numbers from opentelemetry-proto's
// trace.proto, common.proto and resource.proto) into one buffer reused across exports: the
// generated types cost three allocations per attribute and a reflective marshal, about as
// much CPU as recording the spans. The tests decode its output with the generated types.

// Field numbers.
const (
	fReqResourceSpans = 1
	fRSResource       = 1
	fRSScopeSpans     = 2
	fRSSchemaURL      = 3
	fResAttributes    = 1
	fSSScope          = 1
	fSSSpans          = 2
	fScopeName        = 1
	fSpanTraceID      = 1
	fSpanSpanID       = 2
	fSpanTraceState   = 3
	fSpanParentID     = 4
	fSpanName         = 5
	fSpanKind         = 6
	fSpanStart        = 7
	fSpanEnd          = 8
	fSpanAttributes   = 9
	fSpanEvents       = 11
	fSpanStatus       = 15
	fSpanFlags        = 16
	fEventTime        = 1
	fEventName        = 2
	fEventAttributes  = 3
	fStatusMessage    = 2
	fStatusCode       = 3
	fKVKey            = 1
	fKVValue          = 2
	fAnyString        = 1
	fAnyBool          = 2
	fAnyInt           = 3
	fAnyDouble        = 4
	fAnyArray         = 5
	fArrayValues      = 1
	statusCodeOK      = 1
	statusCodeError   = 2
	flagHasIsRemote   = 0x100
	flagIsRemote      = 0x200
	lenReserve        = 5 // bytes kept for a nested message's length (up to 2^35)
)

// beginMsg writes field's tag and room for the length of the message that follows; endMsg
// writes the length and closes the gap.
func beginMsg(b []byte, field protowire.Number) ([]byte, int) {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	b = append(b, 0, 0, 0, 0, 0)
	return b, len(b)
}

func endMsg(b []byte, start int) []byte {
	n := len(b) - start
	var lb [lenReserve]byte
	l := protowire.AppendVarint(lb[:0], uint64(n))
	hdr := start - lenReserve
	copy(b[hdr+len(l):], b[start:])
	copy(b[hdr:], l)
	return b[:hdr+len(l)+n]
}

func appendString(b []byte, field protowire.Number, v string) []byte {
	if v == "" {
		return b
	}
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendString(b, v)
}

func appendBytes(b []byte, field protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendFixed64(b []byte, field protowire.Number, v uint64) []byte {
	return protowire.AppendFixed64(protowire.AppendTag(b, field, protowire.Fixed64Type), v)
}

func appendVarintField(b []byte, field protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	return protowire.AppendVarint(protowire.AppendTag(b, field, protowire.VarintType), v)
}

// appendRequest appends one ExportTraceServiceRequest holding spans.
func (b *spanBatcher) appendRequest(dst []byte, spans []*leanSpan) []byte {
	dst, rs := beginMsg(dst, fReqResourceSpans)
	dst = append(dst, b.resource...)
	dst, ss := beginMsg(dst, fRSScopeSpans)
	dst = append(dst, b.scopeMsg...)
	for _, s := range spans {
		dst = appendSpan(dst, s)
	}
	dst = endMsg(dst, ss)
	dst = appendString(dst, fRSSchemaURL, b.schema)
	return endMsg(dst, rs)
}

// encodeResource is the resource field of ResourceSpans and the scope field of ScopeSpans,
// encoded once per batcher.
func encodeResource(attrs []attribute.KeyValue) []byte {
	b, start := beginMsg(nil, fRSResource)
	for _, a := range attrs {
		b = appendKV(b, fResAttributes, a)
	}
	return endMsg(b, start)
}

func encodeScope(name string) []byte {
	b, start := beginMsg(nil, fSSScope)
	b = appendString(b, fScopeName, name)
	return endMsg(b, start)
}

func appendSpan(b []byte, s *leanSpan) []byte {
	b, start := beginMsg(b, fSSSpans)
	tid, sid := s.sc.TraceID(), s.sc.SpanID()
	b = appendBytes(b, fSpanTraceID, tid[:])
	b = appendBytes(b, fSpanSpanID, sid[:])
	b = appendString(b, fSpanTraceState, s.sc.TraceState().String())
	if ps := s.parent.SpanID(); ps.IsValid() {
		b = appendBytes(b, fSpanParentID, ps[:])
	}
	b = appendString(b, fSpanName, s.name)
	b = appendVarintField(b, fSpanKind, uint64(s.kind))
	b = appendFixed64(b, fSpanStart, uint64(s.start.UnixNano()))
	b = appendFixed64(b, fSpanEnd, uint64(s.end.UnixNano()))
	attrs := s.attrs
	for i, a := range attrs {
		if shadowed(attrs, i) {
			continue
		}
		b = appendKV(b, fSpanAttributes, a)
	}
	for _, e := range s.events {
		var es int
		b, es = beginMsg(b, fSpanEvents)
		b = appendFixed64(b, fEventTime, uint64(e.at.UnixNano()))
		b = appendString(b, fEventName, e.name)
		for _, a := range e.attrs {
			b = appendKV(b, fEventAttributes, a)
		}
		b = endMsg(b, es)
	}
	switch s.status {
	case codes.Error:
		var st int
		b, st = beginMsg(b, fSpanStatus)
		b = appendString(b, fStatusMessage, s.statusMsg)
		b = appendVarintField(b, fStatusCode, statusCodeError)
		b = endMsg(b, st)
	case codes.Ok:
		var st int
		b, st = beginMsg(b, fSpanStatus)
		b = appendVarintField(b, fStatusCode, statusCodeOK)
		b = endMsg(b, st)
	}
	// The low byte is the W3C flags; like the SDK, always say whether the parent is remote.
	flags := uint32(s.sc.TraceFlags()) | flagHasIsRemote
	if s.parent.IsRemote() {
		flags |= flagIsRemote
	}
	b = protowire.AppendFixed32(protowire.AppendTag(b, fSpanFlags, protowire.Fixed32Type), flags)
	return endMsg(b, start)
}

// shadowed reports whether a later attribute has the same key: the last value wins, in the
// position of the first, as the SDK reports them. Spans carry a few dozen attributes at most.
func shadowed(kv []attribute.KeyValue, i int) bool {
	for j := i + 1; j < len(kv); j++ {
		if kv[j].Key == kv[i].Key {
			return true
		}
	}
	return false
}

func appendKV(b []byte, field protowire.Number, a attribute.KeyValue) []byte {
	if !a.Valid() {
		return b
	}
	b, start := beginMsg(b, field)
	b = appendString(b, fKVKey, string(a.Key))
	b, vs := beginMsg(b, fKVValue)
	b = appendValue(b, a.Value)
	b = endMsg(b, vs)
	return endMsg(b, start)
}

// appendValue appends the members of an AnyValue.
func appendValue(b []byte, v attribute.Value) []byte {
	switch v.Type() {
	case attribute.BOOL:
		x := uint64(0)
		if v.AsBool() {
			x = 1
		}
		return protowire.AppendVarint(protowire.AppendTag(b, fAnyBool, protowire.VarintType), x)
	case attribute.INT64:
		return protowire.AppendVarint(protowire.AppendTag(b, fAnyInt, protowire.VarintType), uint64(v.AsInt64()))
	case attribute.FLOAT64:
		return appendFixed64(b, fAnyDouble, math.Float64bits(v.AsFloat64()))
	case attribute.STRING:
		b = protowire.AppendTag(b, fAnyString, protowire.BytesType)
		return protowire.AppendString(b, v.AsString())
	case attribute.BOOLSLICE:
		return appendArray(b, v.AsBoolSlice(), attribute.BoolValue)
	case attribute.INT64SLICE:
		return appendArray(b, v.AsInt64Slice(), attribute.Int64Value)
	case attribute.FLOAT64SLICE:
		return appendArray(b, v.AsFloat64Slice(), attribute.Float64Value)
	case attribute.STRINGSLICE:
		return appendArray(b, v.AsStringSlice(), attribute.StringValue)
	}
	b = protowire.AppendTag(b, fAnyString, protowire.BytesType)
	return protowire.AppendString(b, v.String())
}

func appendArray[T any](b []byte, xs []T, val func(T) attribute.Value) []byte {
	b, start := beginMsg(b, fAnyArray)
	for _, x := range xs {
		var vs int
		b, vs = beginMsg(b, fArrayValues)
		b = appendValue(b, val(x))
		b = endMsg(b, vs)
	}
	return endMsg(b, start)
}
