package gateway

import (
	"container/list"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sluice-gw/sluice/host/auth"
	"github.com/sluice-gw/sluice/host/balance"
	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/host/plugin/envelope"
	"github.com/sluice-gw/sluice/host/provider"
)

func testGateway(t *testing.T, maxImplicit int) *Gateway {
	t.Helper()
	cfg, err := config.Parse("test.toml", []byte(fmt.Sprintf("[server]\nmax_implicit_routers = %d\n[providers.paid]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:1\"\napi_key = \"k\"\n", maxImplicit)), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return &Gateway{
		cfg: cfg, providers: map[string]*provider.Provider{"paid": {Name: "paid"}}, routers: map[string]*balance.Router{},
		registry: balance.NewRegistry(), implicit: map[string]*list.Element{}, implicitLRU: list.New(),
	}
}

func TestParseRequestBounds(t *testing.T) {
	sc := &config.Server{MaxMessages: 2, MaxTools: 1}
	msg := `{"role":"user","content":"x"}`
	for _, tc := range []struct{ body, param, code string }{
		{`{"model":"a/b","model":"a/c"}`, "model", "duplicate_key"},
		{`{"model":"a/` + strings.Repeat("b", 300) + `"}`, "model", "invalid_model"},
		{`{"model":"a/b\u0000"}`, "model", "invalid_model"},
		{`{"model":"a/b","messages":[` + msg + "," + msg + "," + msg + `]}`, "messages", "too_many_messages"},
		{`{"model":"a/b","tools":[{},{}]}`, "tools", "too_many_tools"},
		{`{"model":`, "", "invalid_json"},
	} {
		_, e := parseRequest([]byte(tc.body), sc)
		if e == nil || e.Status != 400 || e.Param != tc.param || e.Code != tc.code {
			t.Errorf("%.60s: %+v, want 400 param %q code %q", tc.body, e, tc.param, tc.code)
		}
	}
	if _, e := parseRequest([]byte(`{"model":"a/b","messages":[`+msg+","+msg+`],"tools":[{}]}`), sc); e != nil {
		t.Fatalf("at the caps: %v", e)
	}
}

func TestCheckSluiceHeaders(t *testing.T) {
	ok := http.Header{}
	ok.Set("X-Sluice-Exclude", "a, b/c")
	ok.Set("X-Sluice-Provider", "openai")
	if e := checkSluiceHeaders(ok); e != nil {
		t.Fatal(e)
	}
	for name, v := range map[string]string{
		"X-Sluice-Exclude":  strings.Repeat("a,", maxExcludes) + "a",
		"X-Sluice-Provider": strings.Repeat("p", maxPinBytes+1),
	} {
		h := http.Header{}
		h.Set(name, v)
		if e := checkSluiceHeaders(h); e == nil || e.Status != 400 {
			t.Errorf("%s of %d bytes accepted", name, len(v))
		}
	}
	h := http.Header{}
	h.Set("X-Sluice-Exclude", "a,"+strings.Repeat("p", maxPinBytes+1))
	if e := checkSluiceHeaders(h); e == nil {
		t.Error("long exclude entry accepted")
	}
}

// Implicit routers are an LRU: past the cap the oldest is closed and its registry state freed.
func TestImplicitRoutersBounded(t *testing.T) {
	g := testGateway(t, 8)
	for i := range 100 {
		name, r, implicit, e := g.resolve("", fmt.Sprintf("paid/m-%d", i))
		if e != nil || name != "" || r != nil || implicit == "" {
			t.Fatalf("resolve: %q %v %q %v", name, r, implicit, e)
		}
		if _, e := g.implicitRouter(implicit); e != nil {
			t.Fatal(e)
		}
		// A recently used name stays.
		if _, e := g.implicitRouter("paid/m-0"); e != nil {
			t.Fatal(e)
		}
	}
	if n := g.ImplicitRouters(); n != 8 {
		t.Fatalf("%d implicit routers kept, want 8", n)
	}
	if n := g.registry.Len(); n != 8 {
		t.Fatalf("registry holds %d states, want 8 (evicted routers must release theirs)", n)
	}
	if _, ok := g.Routers()["paid/m-0"]; !ok {
		t.Fatal("the most recently used router was evicted")
	}
	if _, ok := g.Routers()["paid/m-99"]; !ok {
		t.Fatal("the newest router is missing")
	}
	g.Close()
	if n := g.registry.Len(); n != 0 {
		t.Fatalf("registry holds %d states after Close", n)
	}
}

func TestResolveRefusesBeforeBuilding(t *testing.T) {
	g := testGateway(t, 8)
	for _, m := range []string{"paid/" + strings.Repeat("x", 20<<10), "paid/a b", "nope/x"} {
		if _, _, _, e := g.resolve("", m); e == nil {
			t.Errorf("%.30q resolved", m)
		}
	}
	if n := g.ImplicitRouters(); n != 0 || g.registry.Len() != 0 {
		t.Fatalf("refused names built %d routers", n)
	}
}

// An unauthorized model builds no router: authorize runs between resolve and implicitRouter.
func TestUnauthorizedModelBuildsNothing(t *testing.T) {
	g := testGateway(t, 8)
	a, err := auth.New(auth.Options{Required: true, Keys: []auth.KeySpec{{ID: "k", Key: "sk-test-key-123456", Models: []string{"paid/allowed"}}}})
	if err != nil {
		t.Skipf("auth config: %v", err)
	}
	g.auth = a
	r := httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(`{"model":"paid/other","messages":[]}`))
	r.Header.Set("Authorization", "Bearer sk-test-key-123456")
	c := &call{r: r, endpoint: provider.ChatCompletions}
	w := httptest.NewRecorder()
	e := g.serveAPI(w, c)
	if e == nil || e.Status != 403 {
		t.Fatalf("unauthorized model: %+v", e)
	}
	if n := g.ImplicitRouters(); n != 0 {
		t.Fatalf("an unauthorized request built %d routers", n)
	}
}

func TestRecordStopsAtMaxEntry(t *testing.T) {
	c := &call{cacheState: cacheState{collect: true, collectMax: 1000}, outcome: outcome{model: "m"}}
	chunk := []byte(strings.Repeat("c", 100))
	for range 20 {
		c.record(chunk)
	}
	if c.collect || !c.collectOver || c.chunks != nil {
		t.Fatalf("still collecting: collect %v over %v, %d chunks", c.collect, c.collectOver, len(c.chunks))
	}
	c = &call{cacheState: cacheState{collect: true, collectMax: 10000}, outcome: outcome{model: "m"}}
	for range 20 {
		c.record(chunk)
	}
	if !c.collect || len(c.chunks) != 20 {
		t.Fatalf("under the bound: collect %v, %d chunks", c.collect, len(c.chunks))
	}
}

// FuzzMetaJSON: the meta object handed to plugins is valid JSON for any model, identity,
// request id and header values.
func FuzzMetaJSON(f *testing.F) {
	f.Add("paid/m", "req-1", "user", "team", "x-tenant", "acme")
	f.Add("a/\x00\xff\"\\", "\u2028", "\xe2\x82", "t\n", "x-\x01", "\x7f\xc0")
	f.Fuzz(func(t *testing.T, model, id, user, team, hk, hv string) {
		g := testGateway(t, 8)
		r := httptest.NewRequest("POST", "/v1/chat/completions", nil)
		r.Header["X-Tenant"] = []string{hv}
		r.Header["X-"+hk] = []string{hv}
		c := &call{id: id, r: r, endpoint: provider.ChatCompletions, router: model,
			req: &openai.Request{Model: model, User: user}, ident: auth.Identity{User: user, Team: team, KeyID: hv}}
		b := envelope.AppendMeta(nil, g.meta(c))
		if !utf8.Valid(b) || !json.Valid(b) {
			t.Fatalf("invalid meta JSON: %q", b)
		}
	})
}
