package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRunServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"-body-size", "64", "-key", "k"}, pw, io.Discard)
		pw.Close()
	}()
	addr, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	req, _ := http.NewRequest(http.MethodPost, "http://"+strings.TrimSpace(addr)+"/v1/chat/completions",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Choices []struct {
			Message struct{ Content string }
		}
	}
	err = json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if err != nil || len(m.Choices) != 1 || len(m.Choices[0].Message.Content) < 60 {
		t.Fatalf("reply %+v err %v", m, err)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestRunBadFlag(t *testing.T) {
	if err := run(context.Background(), []string{"-nope"}, io.Discard, io.Discard); err == nil {
		t.Fatal("unknown flag accepted")
	}
}

// start runs the command with args and returns its address and a stop function.
func start(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, args, pw, io.Discard)
		pw.Close()
	}()
	addr, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Error(err)
		}
	})
	return "http://" + strings.TrimSpace(addr)
}

func post(t *testing.T, url string, body string, header ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: not JSON: %s", url, b)
	}
	return resp.StatusCode, m
}

func TestRunAnthropicFormat(t *testing.T) {
	root := start(t, "-format", "anthropic", "-body-size", "512")
	st, m := post(t, root+"/v1/messages", `{"model":"claude-x","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}`,
		"x-api-key", "any", "anthropic-version", "2023-06-01")
	if st != 200 || m["type"] != "message" {
		t.Fatalf("status %d: %v", st, m)
	}
	text := m["content"].([]any)[0].(map[string]any)["text"].(string)
	if len(text) < 500 {
		t.Errorf("reply text is %d bytes, want ~512", len(text))
	}
	if st, _ := post(t, root+"/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`); st != 404 {
		t.Errorf("the Anthropic fake answered chat completions with %d", st)
	}
}

func TestRunResponsesAndWithout(t *testing.T) {
	const body = `{"model":"m","input":"hi","store":false}`
	st, m := post(t, start(t, "-body-size", "256")+"/v1/responses", body)
	if st != 200 || m["object"] != "response" {
		t.Fatalf("responses: status %d: %v", st, m)
	}
	if st, m := post(t, start(t, "-no-responses")+"/v1/responses", body); st != 404 {
		t.Fatalf("-no-responses: status %d: %v", st, m)
	}
}

func TestRunBadFormat(t *testing.T) {
	if err := run(context.Background(), []string{"-format", "gemini-ish"}, io.Discard, io.Discard); err == nil {
		t.Fatal("unknown format accepted")
	}
}
