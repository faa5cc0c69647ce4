// Package auth owns caller identity: virtual API keys (stored only as SHA-256 hashes) mapped
// to a key ID, user, team, per-key limits and allowed models and routers, or, when auth is off,
// an identity read from trusted headers. It also mints new keys.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/host/ratelimit"
)

// KeySpec declares one virtual key, from config or a keys file.
type KeySpec struct {
	ID string `toml:"id" json:"id"`
	// Key is the secret in clear; it is hashed at load and dropped. Prefer KeyHash.
	Key string `toml:"key" json:"key,omitempty"`
	// KeyHash is "sha256:" followed by the hex SHA-256 of the secret (see NewKey).
	KeyHash string `toml:"key_hash" json:"key_hash,omitempty"`
	User    string `toml:"user" json:"user,omitempty"`
	Team    string `toml:"team" json:"team,omitempty"`
	// Models and Routers are glob patterns ('*' matches any run of characters, '/' included;
	// '?' one character). Empty allows everything.
	Models  []string `toml:"models" json:"models,omitempty"`
	Routers []string `toml:"routers" json:"routers,omitempty"`
	// BYOK lets this key's requests bring their own provider credentials.
	BYOK bool `toml:"byok" json:"byok,omitempty"`
	// Passthrough lists "provider:path-glob" pairs this key may reach through
	// /passthrough/PROVIDER/PATH (e.g. "openai:/files*"; "*:*" is everything the providers'
	// own passthrough lists allow). Empty: no passthrough at all.
	Passthrough []string `toml:"passthrough" json:"passthrough,omitempty"`
	// Limits apply to this key alone (their scope is always "key"; an empty scope is fine).
	Limits []ratelimit.Spec `toml:"limits" json:"limits,omitempty"`
}

// String describes the spec with the secret redacted.
func (k KeySpec) String() string {
	secret := ""
	if k.Key != "" {
		secret = " key=[REDACTED]"
	}
	return fmt.Sprintf("key %q (user %q, team %q)%s", k.ID, k.User, k.Team, secret)
}

// LogValue keeps the secret out of structured logs.
func (k KeySpec) LogValue() slog.Value { return slog.StringValue(k.String()) }

// Identity is who is calling. The zero Identity is anonymous.
type Identity struct {
	KeyID string
	User  string
	Team  string
	// Anonymous is true when no virtual key was presented (auth off).
	Anonymous bool
	BYOK      bool
	// Limits are the key's own rules, for ratelimit.Subject.KeyRules.
	Limits      []ratelimit.Rule
	models      []string
	routers     []string
	passthrough []string
}

// RestrictsModels reports whether the identity has a model allow-list (an empty one allows
// every model).
func (id Identity) RestrictsModels() bool { return len(id.models) > 0 }

// AllowsPassthrough reports whether the identity may relay path (as sent after
// /passthrough/PROVIDER) to provider. Anonymous callers (auth off or optional) may; a virtual
// key needs a matching "provider:path-glob" entry.
func (id Identity) AllowsPassthrough(provider, path string) bool {
	if id.Anonymous {
		return true
	}
	for _, p := range id.passthrough {
		prov, glob, _ := strings.Cut(p, ":")
		if Glob(prov, provider) && Glob(glob, path) {
			return true
		}
	}
	return false
}

// AllowsModel reports whether the identity may be served by model, a "provider/model" target
// (e.g. "openai/gpt-4o-mini"); the gateway checks every target a request may be sent to, not
// the name the client asked for.
func (id Identity) AllowsModel(model string) bool { return allowed(id.models, model) }

// AllowsRouter reports whether the identity may use the named router.
func (id Identity) AllowsRouter(router string) bool { return allowed(id.routers, router) }

// CheckModel returns a 403 *Error when the model is not allowed.
func (id Identity) CheckModel(model string) error {
	if id.AllowsModel(model) {
		return nil
	}
	return &Error{Status: http.StatusForbidden, Type: openai.TypePermission, Code: openai.CodeModelNotAllowed,
		Message: fmt.Sprintf("key %q may not use model %q", id.KeyID, model)}
}

// CheckRouter returns a 403 *Error when the router is not allowed.
func (id Identity) CheckRouter(router string) error {
	if id.AllowsRouter(router) {
		return nil
	}
	return &Error{Status: http.StatusForbidden, Type: openai.TypePermission, Code: openai.CodeRouterNotAllowed,
		Message: fmt.Sprintf("key %q may not use router %q", id.KeyID, router)}
}

func allowed(patterns []string, s string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if Glob(p, s) {
			return true
		}
	}
	return false
}

// Glob matches s against pattern: '*' is any run of characters ('/' included), '?' is one
// character, everything else is literal.
func Glob(pattern, s string) bool {
	// Iterative matcher with single-star backtracking: linear in practice, no recursion.
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]) && pattern[p] != '*':
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// Error is an authentication or authorization failure, shaped for an OpenAI error body.
type Error struct {
	Status  int
	Type    string
	Code    string
	Message string
}

func (e *Error) Error() string { return "auth: " + e.Message }

// Is matches errors with the same code, so errors.Is(err, ErrInvalidKey) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

var (
	// ErrMissingKey: auth is required and the request carries no key (401).
	ErrMissingKey = &Error{Status: http.StatusUnauthorized, Type: openai.TypeInvalidRequest, Code: openai.CodeMissingAPIKey,
		Message: "no API key provided; send Authorization: Bearer <key> or x-api-key"}
	// ErrInvalidKey: the key is not one of the configured virtual keys (401).
	ErrInvalidKey = &Error{Status: http.StatusUnauthorized, Type: openai.TypeInvalidRequest, Code: openai.CodeInvalidAPIKey,
		Message: "invalid API key"}
	// ErrModelNotAllowed and ErrRouterNotAllowed match the errors of CheckModel and CheckRouter.
	ErrModelNotAllowed  = &Error{Status: http.StatusForbidden, Code: openai.CodeModelNotAllowed}
	ErrRouterNotAllowed = &Error{Status: http.StatusForbidden, Code: openai.CodeRouterNotAllowed}
)

// Options configures an Authenticator.
type Options struct {
	// Required makes a valid virtual key mandatory. When false, a valid key still identifies
	// the caller, and anything else (no key, or a provider key passed through) is anonymous
	// with user and team read from UserHeader and TeamHeader.
	Required bool
	Keys     []KeySpec
	// UserHeader and TeamHeader default to x-sluice-user and x-sluice-team.
	UserHeader, TeamHeader string
	// TrustIdentityHeaders reads UserHeader and TeamHeader for anonymous callers even though
	// virtual keys are configured. Without keys the headers are always read (auth is off and
	// the headers are the only identity there is); with keys they are ignored by default, so
	// a caller without a key cannot spend another user's or team's limits or budget.
	TrustIdentityHeaders bool
}

// Authenticator resolves requests to identities. It is immutable and safe for concurrent use.
type Authenticator struct {
	required               bool
	trustHeaders           bool
	userHeader, teamHeader string
	byHash                 map[[sha256.Size]byte]*Identity
}

// New validates the key specs and builds an Authenticator. Literal keys are hashed here; the
// Authenticator keeps no secret.
func New(o Options) (*Authenticator, error) {
	a := &Authenticator{required: o.Required, userHeader: o.UserHeader, teamHeader: o.TeamHeader,
		byHash: make(map[[sha256.Size]byte]*Identity, len(o.Keys))}
	if a.userHeader == "" {
		a.userHeader = "x-sluice-user"
	}
	if a.teamHeader == "" {
		a.teamHeader = "x-sluice-team"
	}
	ids := map[string]bool{}
	for i, k := range o.Keys {
		id, sum, err := compile(k)
		if err != nil {
			return nil, fmt.Errorf("auth: keys[%d]: %w", i, err)
		}
		if ids[k.ID] {
			return nil, fmt.Errorf("auth: keys[%d]: duplicate id %q", i, k.ID)
		}
		ids[k.ID] = true
		if prev, dup := a.byHash[sum]; dup {
			return nil, fmt.Errorf("auth: keys[%d] (%q): same secret as key %q", i, k.ID, prev.KeyID)
		}
		a.byHash[sum] = id
	}
	if o.Required && len(a.byHash) == 0 {
		return nil, errors.New("auth: required but no keys are configured")
	}
	a.trustHeaders = len(a.byHash) == 0 || o.TrustIdentityHeaders
	return a, nil
}

func compile(k KeySpec) (*Identity, [sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	if k.ID == "" {
		return nil, sum, errors.New("missing id")
	}
	switch {
	case k.Key != "" && k.KeyHash != "":
		return nil, sum, fmt.Errorf("key %q: set key or key_hash, not both", k.ID)
	case k.Key != "":
		sum = sha256.Sum256([]byte(k.Key))
	case k.KeyHash != "":
		hx, ok := strings.CutPrefix(k.KeyHash, "sha256:")
		b, err := hex.DecodeString(hx)
		if !ok || err != nil || len(b) != sha256.Size {
			return nil, sum, fmt.Errorf("key %q: key_hash must be sha256: and 64 hex digits", k.ID)
		}
		copy(sum[:], b)
	default:
		return nil, sum, fmt.Errorf("key %q: needs key or key_hash", k.ID)
	}
	for _, list := range [][]string{k.Models, k.Routers, k.Passthrough} {
		for _, p := range list {
			if p == "" {
				return nil, sum, fmt.Errorf("key %q: empty pattern", k.ID)
			}
		}
	}
	for _, p := range k.Passthrough {
		if prov, path, ok := strings.Cut(p, ":"); !ok || prov == "" || path == "" {
			return nil, sum, fmt.Errorf("key %q: passthrough %q: want provider:path-glob, e.g. \"openai:/files*\"", k.ID, p)
		}
	}
	id := &Identity{KeyID: k.ID, User: k.User, Team: k.Team, BYOK: k.BYOK,
		models: append([]string(nil), k.Models...), routers: append([]string(nil), k.Routers...),
		passthrough: append([]string(nil), k.Passthrough...)}
	for j, s := range k.Limits {
		if s.Scope == "" {
			s.Scope = "key"
		}
		if s.Scope != "key" {
			return nil, sum, fmt.Errorf("key %q: limits[%d]: scope must be key", k.ID, j)
		}
		if s.Name == "" {
			s.Name = "limit-" + strconv.Itoa(j)
		}
		r, err := s.Rule()
		if err != nil {
			return nil, sum, fmt.Errorf("key %q: limits[%d]: %w", k.ID, j, err)
		}
		id.Limits = append(id.Limits, r)
	}
	return id, sum, nil
}

// Identify resolves the caller from "Authorization: Bearer <key>" or "x-api-key: <key>".
func (a *Authenticator) Identify(r *http.Request) (Identity, error) {
	secret := presentedKey(r)
	if secret != "" {
		if id, ok := a.lookup(secret); ok {
			return *id, nil
		}
		if a.required {
			return Identity{}, ErrInvalidKey
		}
	} else if a.required {
		return Identity{}, ErrMissingKey
	}
	if !a.trustHeaders {
		return Identity{Anonymous: true}, nil
	}
	return Identity{Anonymous: true, User: r.Header.Get(a.userHeader), Team: r.Header.Get(a.teamHeader)}, nil
}

// dummy is compared against when the hash is unknown, so hits and misses do the same work.
var dummy [sha256.Size]byte

func (a *Authenticator) lookup(secret string) (*Identity, bool) {
	sum := sha256.Sum256([]byte(secret))
	id, ok := a.byHash[sum]
	// The map is keyed by the hash, not the secret, so its timing reveals nothing usable;
	// the final equality check is constant-time all the same.
	want := dummy
	if ok {
		want = sum
	}
	if subtle.ConstantTimeCompare(want[:], sum[:]) != 1 || !ok {
		return nil, false
	}
	return id, true
}

func presentedKey(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
	}
	return strings.TrimSpace(r.Header.Get("x-api-key"))
}

// Hash returns the key_hash form of a secret: "sha256:" and its hex digest.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// NewKey mints a random virtual key ("sk-sluice-" and 256 random bits in unpadded base64url)
// and its key_hash. Only the hash should be stored.
func NewKey() (plain, hash string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	plain = "sk-sluice-" + base64.RawURLEncoding.EncodeToString(b[:])
	return plain, Hash(plain)
}
