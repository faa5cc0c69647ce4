package fakeprovider

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const chatBody = `{"model":"gpt-4o-mini","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello there world"}]}`

func TestOpenAIChatNonStream(t *testing.T) {
	up := NewOpenAI(t, WithKey("sk-test"))
	resp := post(t, up.URL+"/chat/completions", map[string]string{"Authorization": "Bearer sk-test"}, chatBody)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	m := decodeBody(t, resp)
	if got := dig(m, "choices", 0, "message", "content"); got != "hello there world" {
		t.Errorf("content = %v", got)
	}
	if dig(m, "id") != "chatcmpl-fake-1" || dig(m, "model") != "gpt-4o-mini" || dig(m, "object") != "chat.completion" {
		t.Errorf("envelope = %v", m)
	}
	if dig(m, "usage", "prompt_tokens") != 5.0 || dig(m, "usage", "completion_tokens") != 3.0 || dig(m, "usage", "total_tokens") != 8.0 {
		t.Errorf("usage = %v", dig(m, "usage"))
	}
	got := up.Requests()
	if len(got) != 1 || got[0].Path != "/v1/chat/completions" || got[0].Model != "gpt-4o-mini" || got[0].Stream {
		t.Fatalf("recorded %+v", got)
	}
	if got[0].Header.Get("Authorization") != "Bearer sk-test" || string(got[0].Body) != chatBody {
		t.Errorf("recorded header/body wrong: %+v", got[0])
	}
}

func TestOpenAIAuth(t *testing.T) {
	up := NewOpenAI(t, WithKey("sk-test"))
	for _, h := range []map[string]string{nil, {"Authorization": "Bearer wrong"}} {
		resp := post(t, up.URL+"/chat/completions", h, chatBody)
		if resp.StatusCode != 401 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		m := decodeBody(t, resp)
		if dig(m, "error", "code") != "invalid_api_key" || dig(m, "error", "type") != "invalid_request_error" {
			t.Errorf("error = %v", m)
		}
	}
	if st := up.Stats(); st.Rejected != 2 || st.Requests != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestOpenAIValidation(t *testing.T) {
	up := NewOpenAI(t)
	for _, body := range []string{`{"messages":[{"role":"user","content":"x"}]}`, `{"model":"m","messages":[]}`, `not json`} {
		resp := post(t, up.URL+"/chat/completions", nil, body)
		if resp.StatusCode != 400 {
			t.Errorf("%s: status %d", body, resp.StatusCode)
		}
		if m := decodeBody(t, resp); dig(m, "error", "message") == "" {
			t.Errorf("%s: body %v", body, m)
		}
	}
}

func TestOpenAIChatStream(t *testing.T) {
	for _, includeUsage := range []bool{false, true} {
		up := NewOpenAI(t)
		body := `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":[{"type":"text","text":"one two three"}]}]}`
		if includeUsage {
			body = strings.Replace(body, `"stream":true`, `"stream":true,"stream_options":{"include_usage":true}`, 1)
		}
		resp := post(t, up.URL+"/chat/completions", nil, body)
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("content type %q", ct)
		}
		events, err := readSSE(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if events[len(events)-1].Data != "[DONE]" {
			t.Fatalf("no [DONE]: %v", events)
		}
		var text strings.Builder
		var finish any
		var usage any
		for _, e := range events[:len(events)-1] {
			m := mustDecode(t, e.Data)
			if m["object"] != "chat.completion.chunk" || m["id"] != "chatcmpl-fake-1" {
				t.Fatalf("chunk %v", m)
			}
			if c, ok := dig(m, "choices", 0, "delta", "content").(string); ok {
				text.WriteString(c)
			}
			if f := dig(m, "choices", 0, "finish_reason"); f != nil {
				finish = f
			}
			if u := m["usage"]; u != nil {
				usage = u
				if n := len(m["choices"].([]any)); n != 0 {
					t.Errorf("usage chunk has %d choices", n)
				}
			}
			if _, has := m["usage"]; has != includeUsage {
				t.Errorf("usage key present=%v, include_usage=%v", has, includeUsage)
			}
		}
		if text.String() != "one two three" || finish != "stop" {
			t.Errorf("text %q finish %v", text.String(), finish)
		}
		if includeUsage != (usage != nil) {
			t.Errorf("usage %v with include_usage=%v", usage, includeUsage)
		}
		if includeUsage && dig(usage, "completion_tokens") != 3.0 {
			t.Errorf("usage %v", usage)
		}
		if r := up.Requests(); len(r) != 1 || !r[0].Stream {
			t.Errorf("recorded %+v", r)
		}
	}
}

func TestOpenAIToolCalls(t *testing.T) {
	up := NewOpenAI(t)
	calls := []ToolCall{{Name: "get_weather", Arguments: `{"city":"Paris"}`}}
	up.Enqueue(Reply{ToolCalls: calls}, Reply{ToolCalls: calls, Pieces: 1})

	m := decodeBody(t, post(t, up.URL+"/chat/completions", nil, chatBody))
	tc := dig(m, "choices", 0, "message", "tool_calls", 0)
	if dig(tc, "function", "name") != "get_weather" || dig(tc, "function", "arguments") != `{"city":"Paris"}` ||
		dig(tc, "id") != "call_fake_1_0" || dig(m, "choices", 0, "finish_reason") != "tool_calls" ||
		dig(m, "choices", 0, "message", "content") != nil {
		t.Errorf("tool call reply %v", m)
	}

	resp := post(t, up.URL+"/chat/completions", nil, strings.Replace(chatBody, `{"model"`, `{"stream":true,"model"`, 1))
	events, err := readSSE(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var name, args string
	var finish any
	for _, e := range events[:len(events)-1] {
		m := mustDecode(t, e.Data)
		if n, ok := dig(m, "choices", 0, "delta", "tool_calls", 0, "function", "name").(string); ok {
			name = n
		}
		if a, ok := dig(m, "choices", 0, "delta", "tool_calls", 0, "function", "arguments").(string); ok {
			args += a
		}
		if f := dig(m, "choices", 0, "finish_reason"); f != nil {
			finish = f
		}
	}
	if name != "get_weather" || args != `{"city":"Paris"}` || finish != "tool_calls" {
		t.Errorf("stream tool call name=%q args=%q finish=%v", name, args, finish)
	}
}

func TestOpenAIScriptedChunksAndBody(t *testing.T) {
	up := NewOpenAI(t)
	up.Script(func(r Received) Reply {
		if r.Stream {
			return Reply{Chunks: []string{`{"custom":1}`, `{"custom":2}`}}
		}
		return Reply{Status: 201, Body: []byte(`{"verbatim":true}`), Headers: http.Header{"X-Extra": {"yes"}}}
	})
	resp := post(t, up.URL+"/chat/completions", nil, chatBody)
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 201 || string(b) != `{"verbatim":true}` || resp.Header.Get("X-Extra") != "yes" {
		t.Errorf("status %d body %s headers %v", resp.StatusCode, b, resp.Header)
	}
	resp = post(t, up.URL+"/chat/completions", nil, strings.Replace(chatBody, `{"model"`, `{"stream":true,"model"`, 1))
	events, _ := readSSE(resp.Body)
	if len(events) != 3 || events[0].Data != `{"custom":1}` || events[2].Data != "[DONE]" {
		t.Errorf("events %v", events)
	}
}

func TestOpenAIErrorStatus(t *testing.T) {
	up := NewOpenAI(t)
	up.Enqueue(Reply{Status: 503, Message: "overloaded"}, Reply{Status: 400})
	resp := post(t, up.URL+"/chat/completions", nil, chatBody)
	m := decodeBody(t, resp)
	if resp.StatusCode != 503 || dig(m, "error", "message") != "overloaded" || dig(m, "error", "type") != "server_error" {
		t.Errorf("status %d body %v", resp.StatusCode, m)
	}
	resp = post(t, up.URL+"/chat/completions", nil, chatBody)
	if m := decodeBody(t, resp); resp.StatusCode != 400 || dig(m, "error", "type") != "invalid_request_error" {
		t.Errorf("status %d body %v", resp.StatusCode, m)
	}
}

func TestOpenAICompletionsEmbeddingsModels(t *testing.T) {
	up := NewOpenAI(t, WithModels("a", "b"))
	m := decodeBody(t, post(t, up.URL+"/completions", nil, `{"model":"gpt-3.5-turbo-instruct","prompt":"say this"}`))
	if dig(m, "choices", 0, "text") != "say this" || dig(m, "object") != "text_completion" || dig(m, "usage", "prompt_tokens") != 2.0 {
		t.Errorf("completion %v", m)
	}
	resp := post(t, up.URL+"/completions", nil, `{"model":"m","prompt":"a b","stream":true}`)
	events, _ := readSSE(resp.Body)
	if len(events) != 4 || events[3].Data != "[DONE]" || dig(mustDecode(t, events[0].Data), "choices", 0, "text") != "a " {
		t.Errorf("completion stream %v", events)
	}

	m = decodeBody(t, post(t, up.URL+"/embeddings", nil, `{"model":"text-embedding-3-small","input":["x","y z"],"dimensions":4}`))
	if n := len(m["data"].([]any)); n != 2 || len(dig(m, "data", 1, "embedding").([]any)) != 4 || dig(m, "usage", "prompt_tokens") != 3.0 {
		t.Errorf("embeddings %v", m)
	}
	again := decodeBody(t, post(t, up.URL+"/embeddings", nil, `{"model":"e","input":"x","dimensions":4}`))
	if a, b := mustMarshal(dig(m, "data", 0, "embedding")), mustMarshal(dig(again, "data", 0, "embedding")); a != b {
		t.Errorf("embedding of the same text differs: %s vs %s", a, b)
	}
	m = decodeBody(t, post(t, up.URL+"/embeddings", nil, `{"model":"e","input":"x","encoding_format":"base64"}`))
	if s, ok := dig(m, "data", 0, "embedding").(string); !ok || len(s) != 44 {
		t.Errorf("base64 embedding %v", dig(m, "data", 0, "embedding"))
	}

	resp, err := http.Get(up.URL + "/models")
	if err != nil {
		t.Fatal(err)
	}
	m = decodeBody(t, resp)
	resp.Body.Close()
	if dig(m, "data", 1, "id") != "b" || dig(m, "object") != "list" {
		t.Errorf("models %v", m)
	}
	resp, err = http.Get(up.URL + "/models/zzz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("unknown model status %d", resp.StatusCode)
	}
}

func mustMarshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestOpenAIPassthroughEcho(t *testing.T) {
	up := NewOpenAI(t)
	m := decodeBody(t, post(t, up.URL+"/files?purpose=batch", nil, `{"a":1}`))
	if m["method"] != "POST" || m["path"] != "/v1/files" || m["query"] != "purpose=batch" || m["body"] != `{"a":1}` {
		t.Errorf("echo %v", m)
	}
	if r := up.Requests(); r[0].Query().Get("purpose") != "batch" {
		t.Errorf("recorded query %q", r[0].RawQuery)
	}
}

func TestOpenAIConcurrentRecordingAndWait(t *testing.T) {
	up := NewOpenAI(t)
	const n = 20
	var wg sync.WaitGroup
	done := make(chan []Received, 1)
	go func() {
		got, err := up.WaitRequests(n, 5*time.Second)
		if err != nil {
			t.Error(err)
		}
		done <- got
	}()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(up.URL+"/chat/completions", "application/json", strings.NewReader(chatBody))
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	wg.Wait()
	got := <-done
	if len(got) != n || up.Count() != n {
		t.Fatalf("got %d requests, count %d", len(got), up.Count())
	}
	for i, r := range got {
		if r.Seq != i+1 {
			t.Fatalf("request %d has seq %d", i, r.Seq)
		}
	}
	if _, err := up.WaitRequests(n+1, 50*time.Millisecond); err == nil {
		t.Error("waiting for more requests than sent succeeded")
	}
}

func TestOpenAIBodySize(t *testing.T) {
	up := NewOpenAI(t, WithBodySize(1024), WithChunks(4))
	m := decodeBody(t, post(t, up.URL+"/chat/completions", nil, chatBody))
	if n := len(dig(m, "choices", 0, "message", "content").(string)); n < 1000 || n > 1024 {
		t.Errorf("content length %d", n)
	}
	resp := post(t, up.URL+"/chat/completions", nil, strings.Replace(chatBody, `{"model"`, `{"stream":true,"model"`, 1))
	events, _ := readSSE(resp.Body)
	// role chunk + 4 pieces + finish chunk + [DONE]
	if len(events) != 7 {
		t.Errorf("%d events", len(events))
	}
}

func BenchmarkOpenAIChatFixed(b *testing.B) {
	up := NewOpenAI(b, WithBodySize(1024), WithoutRecording())
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Post(up.URL+"/chat/completions", "application/json", strings.NewReader(chatBody))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
