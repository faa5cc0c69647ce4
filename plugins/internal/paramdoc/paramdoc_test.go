package paramdoc

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/host/responsesapi"
	"github.com/sluice-gw/sluice/plugins/anthropic"
	"github.com/sluice-gw/sluice/plugins/bedrock"
	"github.com/sluice-gw/sluice/plugins/gemini"
	"github.com/sluice-gw/sluice/plugins/internal/xlate"
	"github.com/sluice-gw/sluice/sdk"
)

var update = flag.Bool("update", false, "rewrite docs/parameters.md")

const docPath = "../../../docs/parameters.md"

var translate = map[string]func([]byte) ([]byte, error){
	xlate.Anthropic: anthropic.TranslateRequest,
	xlate.Bedrock:   bedrock.TranslateRequest,
	xlate.Gemini:    gemini.TranslateRequest,
}

var models = map[string]string{
	xlate.Anthropic: "claude-sonnet-4-5",
	xlate.Bedrock:   "anthropic.claude-sonnet-4-5-20250929-v1:0",
	xlate.Gemini:    "gemini-2.5-flash",
}

// TestDocUpToDate fails when docs/parameters.md is not what the tables render.
func TestDocUpToDate(t *testing.T) {
	got := Render()
	if *update {
		if err := os.WriteFile(docPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("docs/parameters.md is out of date: run go test ./plugins/internal/paramdoc/ -update")
	}
}

// result is one translate_request outcome.
type result struct {
	err     *sdk.Error
	path    string
	body    map[string]any
	raw     string // the provider body as the translator wrote it
	ignored []string
}

func run(t *testing.T, provider, members string, messages string) result {
	t.Helper()
	if messages == "" {
		messages = `[{"role":"user","content":"hi"}]`
	}
	body := `{"model":"m","messages":` + messages
	if members != "" {
		body += "," + members
	}
	body += "}"
	stream := strings.Contains(members, `"stream":true`)
	env, _ := json.Marshal(map[string]any{"endpoint": "chat.completions", "model": models[provider], "stream": stream,
		"provider": map[string]any{"name": provider, "options": map[string]any{}}, "body": json.RawMessage(body)})
	out, err := translate[provider](env)
	if err != nil {
		e, ok := err.(*sdk.Error)
		if !ok {
			t.Fatalf("error %T: %v", err, err)
		}
		return result{err: e}
	}
	var o struct {
		Path    string          `json:"path"`
		Body    json.RawMessage `json:"body"`
		Ignored []string        `json:"ignored"`
	}
	var pb map[string]any
	if err := json.Unmarshal(out, &o); err != nil || json.Unmarshal(o.Body, &pb) != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return result{path: o.Path, body: pb, raw: string(o.Body), ignored: o.Ignored}
}

// has reports whether the dotted path exists in the body (arrays: any element).
func has(v any, path []string) bool {
	if len(path) == 0 {
		return v != nil
	}
	switch x := v.(type) {
	case map[string]any:
		return has(x[path[0]], path[1:])
	case []any:
		for _, e := range x {
			if has(e, path) {
				return true
			}
		}
	}
	return false
}

// check asserts that res is what rule says for the member name.
func check(t *testing.T, name string, r xlate.Rule, res result, model string) {
	t.Helper()
	switch r.How {
	case xlate.Refused:
		if res.err == nil || res.err.Status != 400 || !strings.Contains(res.err.Message, name) {
			t.Fatalf("want a 400 naming %s, got %+v", name, res)
		}
	case xlate.Ignored:
		if res.err != nil {
			t.Fatalf("want ignored, got error %v", res.err)
		}
		if !slices.Contains(res.ignored, name) {
			t.Fatalf("want %s in ignored, got %v", name, res.ignored)
		}
	case xlate.Mapped:
		if res.err != nil {
			t.Fatalf("want mapped, got error %v", res.err)
		}
		if slices.Contains(res.ignored, name) {
			t.Fatalf("%s is mapped but reported ignored", name)
		}
		switch {
		case r.Target == "gateway":
		case strings.HasPrefix(r.Target, "path:"):
			want := strings.TrimPrefix(r.Target, "path:")
			if before, after, ok := strings.Cut(want, "{model}"); ok {
				if !strings.HasPrefix(res.path, before) || !strings.HasSuffix(res.path, after) {
					t.Fatalf("path %s, want %s", res.path, want)
				}
			} else if !strings.HasSuffix(res.path, want) {
				t.Fatalf("path %s, want it to end in %s", res.path, want)
			}
		default:
			if !has(res.body, strings.Split(r.Target, ".")) {
				b, _ := json.Marshal(res.body)
				t.Fatalf("body has no %s: %s", r.Target, b)
			}
		}
	default:
		t.Fatalf("no rule")
	}
}

// TestChatParams sends every chat parameter through every translator and checks the table.
func TestChatParams(t *testing.T) {
	for _, p := range xlate.ChatParams {
		for _, prov := range xlate.Translators {
			t.Run(p.Name+"/"+prov, func(t *testing.T) {
				r, ok := p.By[prov]
				if !ok {
					t.Fatal("no rule for this translator")
				}
				res := run(t, prov, p.Sample, "")
				check(t, p.Name, r, res, models[prov])
				if r.How == xlate.Ignored {
					// Ignored means not sent: the provider body is the one without it.
					base := run(t, prov, without(t, p.Sample, p.Name), "")
					a, _ := json.Marshal(res.body)
					b, _ := json.Marshal(base.body)
					if !bytes.Equal(a, b) {
						t.Fatalf("ignored %s changed the provider body:\n%s\n%s", p.Name, a, b)
					}
				}
			})
		}
	}
}

// TestDefaultsAskNothing: a parameter at its default is neither refused nor reported.
func TestDefaultsAskNothing(t *testing.T) {
	for _, members := range []string{`"n":1`, `"logprobs":false`, `"frequency_penalty":0`, `"presence_penalty":0.0`,
		`"modalities":["text"]`, `"logit_bias":{}`, `"seed":null`, tool + `,"parallel_tool_calls":true`} {
		for _, prov := range xlate.Translators {
			res := run(t, prov, members, "")
			if res.err != nil || len(res.ignored) > 0 {
				t.Errorf("%s on %s: %+v", members, prov, res)
			}
		}
	}
}

const tool = `"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{}}}}]`

// TestUnknownMemberNamed: a member no row knows is ignored and named, never dropped in silence.
func TestUnknownMemberNamed(t *testing.T) {
	for _, prov := range xlate.Translators {
		res := run(t, prov, `"top_k":5`, "")
		if res.err != nil || !slices.Contains(res.ignored, "top_k") {
			t.Errorf("%s: %+v", prov, res)
		}
	}
}

// TestEveryOpenAIParamHasARow lists the chat completions parameters of OpenAI's API reference:
// a new one must get a row.
func TestEveryOpenAIParamHasARow(t *testing.T) {
	for _, n := range []string{"messages", "model", "audio", "frequency_penalty", "function_call", "functions",
		"logit_bias", "logprobs", "max_completion_tokens", "max_tokens", "metadata", "modalities", "n",
		"parallel_tool_calls", "prediction", "presence_penalty", "prompt_cache_key", "prompt_cache_retention",
		"reasoning_effort", "response_format", "safety_identifier", "seed", "service_tier", "stop", "store",
		"stream", "stream_options", "temperature", "tool_choice", "tools", "top_logprobs", "top_p", "user",
		"verbosity", "web_search_options"} {
		if _, ok := chatRule(n); !ok {
			t.Errorf("no row for %s", n)
		}
	}
}

// TestParts sends every content part type through every translator.
func TestParts(t *testing.T) {
	for _, p := range Parts {
		for _, prov := range xlate.Translators {
			t.Run(p.Name+"/"+prov, func(t *testing.T) {
				r := p.By[prov]
				res := run(t, prov, "", "["+p.Message+"]")
				switch r.How {
				case xlate.Mapped:
					if res.err != nil {
						t.Fatalf("want mapped, got %v", res.err)
					}
					if want := p.Has[prov]; want == "" || !strings.Contains(res.raw, want) {
						t.Fatalf("body lacks %q: %s", want, res.raw)
					}
				case xlate.Refused:
					if res.err == nil || res.err.Status != 400 {
						t.Fatalf("want a 400, got %+v", res)
					}
				default:
					t.Fatal("no rule")
				}
			})
		}
	}
}

// TestResponsesParams sends every Responses parameter through the bridge: a row naming a chat
// parameter must produce it; bridge rows must be refused, ignored (named) or accepted.
func TestResponsesParams(t *testing.T) {
	for _, p := range RespParams {
		t.Run(p.Name, func(t *testing.T) {
			body := `{"model":"m","input":"hi"`
			if p.Sample != "" {
				body += "," + p.Sample
			}
			body += "}"
			r, err := responsesapi.Parse([]byte(body))
			if err != nil {
				if p.How == xlate.Refused {
					return
				}
				t.Fatalf("parse: %v", err)
			}
			chat, err := r.ToChat(nil)
			if p.Chat != "" {
				if err != nil {
					t.Fatalf("to chat: %v", err)
				}
				var m map[string]any
				if err := json.Unmarshal(chat, &m); err != nil {
					t.Fatal(err)
				}
				if _, ok := m[p.Chat]; !ok {
					t.Fatalf("chat body has no %s: %s", p.Chat, chat)
				}
				if _, ok := chatRule(p.Chat); !ok {
					t.Fatalf("no chat row for %s", p.Chat)
				}
				return
			}
			switch p.How {
			case xlate.Refused:
				if err == nil || !strings.Contains(err.Error(), p.Name) {
					t.Fatalf("want refused naming %s, got %v", p.Name, err)
				}
			case xlate.Ignored:
				if err != nil {
					t.Fatalf("to chat: %v", err)
				}
				if !slices.ContainsFunc(r.Ignored, func(s string) bool { return strings.HasPrefix(s, strings.Split(p.Name, ".")[0]) }) {
					t.Fatalf("want %s in Ignored, got %v", p.Name, r.Ignored)
				}
			case xlate.Mapped:
				if p.Sample != "" && err != nil {
					t.Fatalf("to chat: %v", err)
				}
			default:
				t.Fatal("no handling")
			}
		})
	}
}

// without is sample's members without name.
func without(t *testing.T, sample, name string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte("{"+sample+"}"), &m); err != nil {
		t.Fatal(err)
	}
	delete(m, name)
	b, _ := json.Marshal(m)
	return strings.TrimSuffix(strings.TrimPrefix(string(b), "{"), "}")
}
