package fakeprovider

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

const streamBody = `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"a b c d e f"}]}`

func freshClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

func TestFaultReset(t *testing.T) {
	up := NewOpenAI(t)
	up.Enqueue(Reply{Fault: Reset()})
	_, err := freshClient().Post(up.URL+"/chat/completions", "application/json", strings.NewReader(chatBody))
	if err == nil {
		t.Fatal("reset connection gave no error")
	}
	if up.Stats().Faults != 1 {
		t.Errorf("stats %+v", up.Stats())
	}
	// The next request is served normally.
	resp, err := freshClient().Post(up.URL+"/chat/completions", "application/json", strings.NewReader(chatBody))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status %d after reset", resp.StatusCode)
	}
}

func TestFaultCutMidStream(t *testing.T) {
	up := NewOpenAI(t)
	up.Enqueue(Reply{Fault: CutAfter(3)})
	resp, err := freshClient().Post(up.URL+"/chat/completions", "application/json", strings.NewReader(streamBody))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events, err := readSSE(resp.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("read error %v, want unexpected EOF", err)
	}
	if len(events) != 3 {
		t.Errorf("got %d events before the cut, want 3", len(events))
	}
	for _, e := range events {
		if e.Data == "[DONE]" {
			t.Error("cut stream carried [DONE]")
		}
	}
}

func TestFaultResetMidStream(t *testing.T) {
	up := NewOpenAI(t)
	up.SetFault(ResetAfter(2))
	resp, err := freshClient().Post(up.URL+"/chat/completions", "application/json", strings.NewReader(streamBody))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Error("reading a reset stream succeeded")
	}
}

func TestFaultCutNonStream(t *testing.T) {
	up := NewOpenAI(t)
	up.Enqueue(Reply{Fault: CutAfter(0)})
	resp, err := freshClient().Post(up.URL+"/chat/completions", "application/json", strings.NewReader(chatBody))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("read error %v, want unexpected EOF", err)
	}
}

func TestFaultRetryAfter(t *testing.T) {
	up := NewOpenAI(t)
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	up.Enqueue(RetryAfter(2*time.Second), RetryAfterDate(at))
	resp := post(t, up.URL+"/chat/completions", nil, chatBody)
	m := decodeBody(t, resp)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" || dig(m, "error", "code") != "rate_limit_exceeded" {
		t.Errorf("status %d retry-after %q body %v", resp.StatusCode, resp.Header.Get("Retry-After"), m)
	}
	resp = post(t, up.URL+"/chat/completions", nil, chatBody)
	got, err := http.ParseTime(resp.Header.Get("Retry-After"))
	if err != nil || !got.Equal(at) {
		t.Errorf("Retry-After %q: %v", resp.Header.Get("Retry-After"), err)
	}
}

func TestFaultSlowHeaders(t *testing.T) {
	up := NewOpenAI(t)
	up.Enqueue(Reply{HeaderDelay: 2 * time.Second})
	client := &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 100 * time.Millisecond}}
	start := time.Now()
	_, err := client.Post(up.URL+"/chat/completions", "application/json", strings.NewReader(chatBody))
	if err == nil || !strings.Contains(err.Error(), "timeout awaiting response headers") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("header timeout took %v", time.Since(start))
	}
}

func TestFaultHang(t *testing.T) {
	up := NewOpenAI(t)
	up.Enqueue(Reply{Fault: Hang()}, Reply{Fault: HangAfter(1)})
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, up.URL+"/chat/completions", strings.NewReader(chatBody))
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}

	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	req, _ = http.NewRequestWithContext(ctx2, http.MethodPost, up.URL+"/chat/completions", strings.NewReader(streamBody))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events, err := readSSE(resp.Body)
	if len(events) != 1 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("events %v err %v", events, err)
	}
}

func TestCloseReleasesHangingHandlers(t *testing.T) {
	up, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	up.SetFault(Hang())
	errc := make(chan error, 1)
	go func() {
		_, err := freshClient().Post(up.URL+"/chat/completions", "application/json", strings.NewReader(chatBody))
		errc <- err
	}()
	if _, err := up.WaitRequests(1, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	up.Close()
	select {
	case err := <-errc:
		if err == nil {
			t.Error("request to a closed hanging server succeeded")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not release the hanging request")
	}
}
