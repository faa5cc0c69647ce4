package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"
)

// errHeaderTimeout is the cause of an attempt canceled because its response headers did not
// come in time. It reads as a timeout to net.Error checks.
var errHeaderTimeout = &headerTimeoutError{}

type headerTimeoutError struct{}

func (*headerTimeoutError) Error() string   { return "no response headers in time" }
func (*headerTimeoutError) Timeout() bool   { return true }
func (*headerTimeoutError) Temporary() bool { return true }

// roundTrip sends req and reports whether the whole request was written to the upstream
// (httptrace WroteRequest): before that, the upstream certainly did not start the work.
//
// headerTimeout, when positive, bounds the wait for the response headers of this one request.
// It is applied per request rather than as the transport's ResponseHeaderTimeout because the
// right bound depends on the call: a stream's first bytes come quickly (the idle timeout
// fits), while a non-streamed answer arrives with its headers only once the whole generation
// is done, so only the request's total timeout (the context) may bound it.
func roundTrip(do func(*http.Request) (*http.Response, error), req *http.Request, headerTimeout time.Duration) (resp *http.Response, wrote bool, err error) {
	var sent atomic.Bool
	ctx := httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				sent.Store(true)
			}
		},
	})
	if headerTimeout <= 0 {
		resp, err = do(req.WithContext(ctx))
		return resp, sent.Load(), err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	t := time.AfterFunc(headerTimeout, func() { cancel(errHeaderTimeout) })
	resp, err = do(req.WithContext(ctx))
	if !t.Stop() && context.Cause(ctx) == errHeaderTimeout {
		if resp != nil {
			resp.Body.Close()
		}
		cancel(nil)
		return nil, sent.Load(), fmt.Errorf("%w (%s): %w", errHeaderTimeout, headerTimeout, context.DeadlineExceeded)
	}
	if err != nil {
		cancel(nil)
		return nil, sent.Load(), err
	}
	// The body is read under ctx; closing it releases the context.
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, true, nil
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel(nil)
	return err
}

// isHeaderTimeout reports whether err is a header timeout of roundTrip.
func isHeaderTimeout(err error) bool { return errors.Is(err, errHeaderTimeout) }
