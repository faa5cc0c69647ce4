package fakeprovider

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The Vertex AI fake serves both halves of a Vertex deployment:
//
//   - POST /token, a Google OAuth token endpoint for service accounts: it takes the JWT-bearer
//     grant, checks the assertion's RS256 signature against the key ServiceAccountJSON hands
//     out, its issuer, audience, scope and expiry, and issues access tokens that expire after
//     the token TTL;
//   - the Vertex API under /v1/projects/{project}/locations/{location}/publishers/...: it
//     requires a live access token it issued and the configured project and location, then
//     checks the request as Vertex does (Gemini: generateContent, streamGenerateContent with
//     alt=sse, predict for embeddings; Anthropic: rawPredict and streamRawPredict with
//     anthropic_version vertex-2023-10-16 in the body and the model in the URL only) and answers
//     with the Gemini or Anthropic fake's replies.

// VertexAnthropicVersion is the anthropic_version Vertex requires in the body of Claude calls.
const VertexAnthropicVersion = "vertex-2023-10-16"

// VertexCall is one Vertex API request as it arrived, before the fake handed it on.
type VertexCall struct {
	Path          string
	RawQuery      string
	Authorization string
	Body          []byte
	Invalid       string // why it was refused, or ""
}

type vertexState struct {
	project, location string
	ttl               time.Duration
	key               *rsa.PrivateKey
	email             string

	mu     sync.Mutex
	tokens map[string]time.Time // access token -> expiry
	issued int
	calls  []VertexCall
}

// WithVertex sets the project and location the Vertex fake serves.
func WithVertex(project, location string) Option {
	return func(c *config) { c.vertexProject, c.vertexLocation = project, location }
}

// WithTokenTTL sets how long the Vertex fake's access tokens live (default one hour).
func WithTokenTTL(d time.Duration) Option { return func(c *config) { c.tokenTTL = d } }

// NewVertex starts a Vertex AI fake with its token endpoint.
func NewVertex(t testing.TB, opts ...Option) *Server {
	return startT(t, FormatVertex, opts)
}

func (s *Server) initVertex() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("fakeprovider: vertex key: %w", err)
	}
	v := &vertexState{project: s.cfg.vertexProject, location: s.cfg.vertexLocation, ttl: s.cfg.tokenTTL,
		key: key, email: "sluice-test@fake-project.iam.gserviceaccount.com", tokens: map[string]time.Time{}}
	if v.project == "" {
		v.project = "fake-project"
	}
	if v.location == "" {
		v.location = "global"
	}
	if v.ttl == 0 {
		v.ttl = time.Hour
	}
	s.vertex = v
	return nil
}

// ServiceAccountJSON is a service-account key file whose token_uri is this fake's /token.
func (s *Server) ServiceAccountJSON() []byte {
	v := s.vertex
	der := x509.MarshalPKCS1PrivateKey(v.key)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der})
	return mustJSON(map[string]string{
		"type": "service_account", "project_id": v.project, "private_key_id": "fake-key-1",
		"private_key": string(pemKey), "client_email": v.email, "client_id": "1234567890",
		"token_uri": s.Root + "/token",
	})
}

// TokensIssued is how many access tokens the token endpoint handed out.
func (s *Server) TokensIssued() int {
	s.vertex.mu.Lock()
	defer s.vertex.mu.Unlock()
	return s.vertex.issued
}

// VertexCalls are the Vertex API requests received, in order.
func (s *Server) VertexCalls() []VertexCall {
	s.vertex.mu.Lock()
	defer s.vertex.mu.Unlock()
	return append([]VertexCall(nil), s.vertex.calls...)
}

func b64url(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// serveToken is the OAuth token endpoint.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	v := s.vertex
	fail := func(code int, errCode, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		w.Write(mustJSON(map[string]string{"error": errCode, "error_description": desc}))
	}
	if r.Method != http.MethodPost {
		fail(405, "invalid_request", "POST only")
		return
	}
	b, _ := io.ReadAll(r.Body)
	form, err := url.ParseQuery(string(b))
	if err != nil || form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		fail(400, "unsupported_grant_type", "Invalid grant_type: "+form.Get("grant_type"))
		return
	}
	parts := strings.Split(form.Get("assertion"), ".")
	if len(parts) != 3 {
		fail(400, "invalid_grant", "Invalid JWT: not three segments")
		return
	}
	head, err1 := b64url(parts[0])
	payload, err2 := b64url(parts[1])
	sig, err3 := b64url(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		fail(400, "invalid_grant", "Invalid JWT: bad base64url")
		return
	}
	var h struct{ Alg, Kid string }
	var c struct {
		Iss   string `json:"iss"`
		Scope string `json:"scope"`
		Aud   string `json:"aud"`
		Exp   int64  `json:"exp"`
		Iat   int64  `json:"iat"`
	}
	if json.Unmarshal(head, &h) != nil || json.Unmarshal(payload, &c) != nil || h.Alg != "RS256" {
		fail(400, "invalid_grant", "Invalid JWT header or claims")
		return
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&v.key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		fail(400, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	now := time.Now().Unix()
	switch {
	case c.Iss != v.email:
		fail(400, "invalid_grant", "Invalid issuer: "+c.Iss)
	case c.Aud != s.Root+"/token":
		fail(400, "invalid_grant", "Invalid JWT audience: "+c.Aud)
	case !strings.Contains(" "+c.Scope+" ", " https://www.googleapis.com/auth/cloud-platform "):
		fail(400, "invalid_scope", "Invalid OAuth scope or ID token audience provided: "+c.Scope)
	case c.Exp < now || c.Iat > now+60 || c.Exp-c.Iat > 3600:
		fail(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
	default:
		v.mu.Lock()
		v.issued++
		tok := "ya29.fake-" + strconv.Itoa(v.issued)
		v.tokens[tok] = time.Now().Add(v.ttl)
		v.mu.Unlock()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(mustJSON(map[string]any{"access_token": tok, "expires_in": int(v.ttl / time.Second), "token_type": "Bearer"}))
	}
}

// serveVertex routes a Vertex API call to the Gemini or Anthropic fake after checking what
// is Vertex's own: the token, the resource path and the Claude body's version.
func (s *Server) serveVertex(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		s.serveToken(w, r)
		return
	}
	v := s.vertex
	body, _ := io.ReadAll(r.Body)
	call := VertexCall{Path: r.URL.Path, RawQuery: r.URL.RawQuery, Authorization: r.Header.Get("Authorization"), Body: body}
	msg := ""
	// Recorded before answering: a client may look as soon as the answer is read.
	v.mu.Lock()
	at := len(v.calls)
	v.calls = append(v.calls, call)
	v.mu.Unlock()
	refuse := func(code int, m string) {
		msg = m
		v.mu.Lock()
		v.calls[at].Invalid = m
		v.mu.Unlock()
		s.record(&Received{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body, Invalid: m, At: time.Now()})
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(code)
		w.Write(geminiError(code, m))
	}
	tok, ok := strings.CutPrefix(call.Authorization, "Bearer ")
	v.mu.Lock()
	exp, known := v.tokens[tok]
	v.mu.Unlock()
	switch {
	case !ok || tok == "":
		refuse(401, "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return
	case !known || time.Now().After(exp):
		refuse(401, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return
	}
	if r.URL.Path == "/v1/projects/"+v.project+"/locations/"+v.location+"/endpoints/openapi/chat/completions" {
		// The OpenAI-compatible endpoint of partner and open models ("meta/llama-...").
		m, err := decodeObject(body)
		if model, _ := m["model"].(string); err != nil || !strings.Contains(model, "/") {
			refuse(400, "fakeprovider: vertex: the openapi endpoint takes publisher/model names")
			return
		}
		s.handOn(w, r, "/v1/chat/completions", body, func(h http.Header) { h.Set("Authorization", "Bearer "+s.innerKey()) }, s.serveOpenAI)
		return
	}
	prefix := "/v1/projects/" + v.project + "/locations/" + v.location + "/publishers/"
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok {
		refuse(404, "fakeprovider: vertex: path "+r.URL.Path+" is not under "+prefix)
		return
	}
	publisher, rest, _ := strings.Cut(rest, "/models/")
	model, method, _ := strings.Cut(rest, ":")
	if model == "" {
		refuse(404, "fakeprovider: vertex: no model in "+r.URL.Path)
		return
	}
	switch {
	case publisher == "google" && (method == "generateContent" || method == "streamGenerateContent"):
		s.handOn(w, r, "/v1/models/"+model+":"+method, body, func(h http.Header) { h.Set("X-Goog-Api-Key", s.innerKey()) }, s.serveGemini)
	case publisher == "google" && method == "predict":
		m, err := decodeObject(body)
		var out []byte
		if err != nil {
			msg = "Invalid JSON payload received."
		} else {
			out, msg = vertexPredictAnswer(model, m)
		}
		if msg != "" {
			refuse(400, msg)
			return
		}
		s.record(&Received{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Header: r.Header.Clone(), Body: body, Model: model, At: time.Now()})
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.Write(out)
	case publisher == "anthropic" && (method == "rawPredict" || method == "streamRawPredict"):
		m, err := decodeObject(body)
		if err != nil {
			refuse(400, "There was an error parsing the body of your request: it is not valid JSON")
			return
		}
		if m["anthropic_version"] != VertexAnthropicVersion {
			refuse(400, "anthropic_version: Input should be '"+VertexAnthropicVersion+"'")
			return
		}
		if _, has := m["model"]; has {
			refuse(400, "model: Extra inputs are not permitted")
			return
		}
		if st, _ := m["stream"].(bool); st != (method == "streamRawPredict") {
			refuse(400, "fakeprovider: vertex: "+method+" with stream="+strconv.FormatBool(st))
			return
		}
		delete(m, "anthropic_version")
		m["model"] = model
		s.handOn(w, r, "/v1/messages", mustJSON(m), func(h http.Header) {
			h.Set("X-Api-Key", s.innerKey())
			h.Set("Anthropic-Version", "2023-06-01")
			h.Del("Authorization")
		}, s.serveAnthropic)
	default:
		refuse(404, "fakeprovider: vertex: publisher "+publisher+" has no method "+method)
	}
}

// handOn serves the request as the wrapped provider's fake would, at its own path.
func (s *Server) handOn(w http.ResponseWriter, r *http.Request, path string, body []byte, header func(http.Header), next http.HandlerFunc) {
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = path, ""
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	header(r2.Header)
	next(w, r2)
}

// innerKey is the key the wrapped fakes are handed: Vertex has none of its own.
func (s *Server) innerKey() string {
	if s.cfg.key != "" {
		return s.cfg.key
	}
	return "vertex"
}
