package fakeprovider

import (
	"encoding/xml"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// AWSCredentials is the set of credentials a Bedrock fake accepts: pairs a test adds, and the
// temporary ones an STS fake issues (with their session token and expiry).
type AWSCredentials struct {
	mu sync.Mutex
	m  map[string]aws.Credentials
}

// NewAWSCredentials returns an empty set.
func NewAWSCredentials() *AWSCredentials { return &AWSCredentials{m: map[string]aws.Credentials{}} }

// Add accepts these credentials; a non-empty token must come with them, as
// X-Amz-Security-Token, and be signed. A zero expires never expires.
func (c *AWSCredentials) Add(accessKeyID, secret, token string, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[accessKeyID] = aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secret, SessionToken: token, CanExpire: !expires.IsZero(), Expires: expires}
}

func (c *AWSCredentials) get(akid string) (aws.Credentials, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[akid]
	return v, ok
}

// WithAWSCredentials makes the Bedrock fake verify SigV4 against this set instead of one pair.
func WithAWSCredentials(c *AWSCredentials) Option { return func(cfg *config) { cfg.awsCreds = c } }

// checkStoredCreds finds the credentials of akid and checks the session token sent with them.
func checkStoredCreds(set *AWSCredentials, akid string, r *http.Request) (aws.Credentials, string, string) {
	c, ok := set.get(akid)
	if !ok {
		return c, "UnrecognizedClientException", "The security token included in the request is invalid."
	}
	if c.SessionToken != r.Header.Get("X-Amz-Security-Token") {
		return c, "UnrecognizedClientException", "The security token included in the request is invalid."
	}
	if c.CanExpire && time.Now().After(c.Expires) {
		return c, "ExpiredTokenException", "The security token included in the request is expired"
	}
	return c, "", ""
}

// STS is a fake AWS STS endpoint for AssumeRoleWithWebIdentity (IRSA), a fake ECS container
// credentials endpoint (GET /ecs) and a fake IAM Identity Center portal (GetRoleCredentials),
// all issuing temporary credentials into an AWSCredentials set.
type STS struct {
	URL string // set AWS_ENDPOINT_URL_STS to it; the ECS endpoint is URL + "/ecs"

	creds *AWSCredentials
	ttl   time.Duration
	srv   *http.Server

	mu     sync.Mutex
	issued int
	seen   []url.Values // AssumeRoleWithWebIdentity forms
}

// NewSTS starts an STS fake whose credentials live ttl and are added to creds.
func NewSTS(t testing.TB, creds *AWSCredentials, ttl time.Duration) *STS {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &STS{URL: "http://" + ln.Addr().String(), creds: creds, ttl: ttl}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ErrorLog: log.New(io.Discard, "", 0)}
	go s.srv.Serve(ln) //nolint:errcheck // Serve returns ErrServerClosed on Close.
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// Issued is how many credentials were handed out.
func (s *STS) Issued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// Calls are the AssumeRoleWithWebIdentity forms received.
func (s *STS) Calls() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.seen...)
}

func (s *STS) issue() aws.Credentials {
	s.mu.Lock()
	s.issued++
	n := s.issued
	s.mu.Unlock()
	c := aws.Credentials{
		AccessKeyID: fmt.Sprintf("ASIAFAKE%08d", n), SecretAccessKey: "fake-secret-" + strconv.Itoa(n),
		SessionToken: "fake-session-token-" + strconv.Itoa(n), CanExpire: true, Expires: time.Now().Add(s.ttl).UTC().Truncate(time.Second),
	}
	s.creds.Add(c.AccessKeyID, c.SecretAccessKey, c.SessionToken, c.Expires)
	return c
}

type stsCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

type stsResponse struct {
	XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleWithWebIdentityResponse"`
	Result  struct {
		Credentials                 stsCredentials `xml:"Credentials"`
		SubjectFromWebIdentityToken string         `xml:"SubjectFromWebIdentityToken"`
		AssumedRoleUser             struct {
			Arn           string `xml:"Arn"`
			AssumedRoleID string `xml:"AssumedRoleId"`
		} `xml:"AssumedRoleUser"`
	} `xml:"AssumeRoleWithWebIdentityResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

func stsError(w http.ResponseWriter, code int, typ, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(code)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>fake</RequestId></ErrorResponse>`, typ, msg)
}

// SSOAccessToken is the IAM Identity Center access token the fake's SSO portal accepts (a
// test writes it into the SDK's token cache).
const SSOAccessToken = "fake-sso-access-token"

func (s *STS) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/federation/credentials" {
		// IAM Identity Center's GetRoleCredentials (AWS_ENDPOINT_URL_SSO points here).
		q := r.URL.Query()
		if r.Header.Get("X-Amz-Sso_bearer_token") != SSOAccessToken || q.Get("account_id") == "" || q.Get("role_name") == "" {
			w.Header().Set("X-Amzn-Errortype", "UnauthorizedException")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write(mustJSON(map[string]string{"message": "Session token not found or invalid"}))
			return
		}
		c := s.issue()
		w.Header().Set("Content-Type", "application/json")
		w.Write(mustJSON(map[string]any{"roleCredentials": map[string]any{
			"accessKeyId": c.AccessKeyID, "secretAccessKey": c.SecretAccessKey, "sessionToken": c.SessionToken,
			"expiration": c.Expires.UnixMilli(),
		}}))
		return
	}
	if r.URL.Path == "/ecs" {
		c := s.issue()
		w.Header().Set("Content-Type", "application/json")
		w.Write(mustJSON(map[string]string{
			"AccessKeyId": c.AccessKeyID, "SecretAccessKey": c.SecretAccessKey, "Token": c.SessionToken,
			"Expiration": c.Expires.Format(time.RFC3339),
		}))
		return
	}
	b, _ := io.ReadAll(r.Body)
	form, err := url.ParseQuery(string(b))
	if r.Method != http.MethodPost || err != nil {
		stsError(w, 400, "InvalidAction", "Could not parse the request")
		return
	}
	s.mu.Lock()
	s.seen = append(s.seen, form)
	s.mu.Unlock()
	switch {
	case form.Get("Action") != "AssumeRoleWithWebIdentity":
		stsError(w, 400, "InvalidAction", "Could not find operation "+form.Get("Action")+" for version "+form.Get("Version"))
	case form.Get("Version") != "2011-06-15":
		stsError(w, 400, "InvalidAction", "Unsupported version "+form.Get("Version"))
	case form.Get("RoleArn") == "" || form.Get("RoleSessionName") == "" || form.Get("WebIdentityToken") == "":
		stsError(w, 400, "ValidationError", "RoleArn, RoleSessionName and WebIdentityToken are required")
	default:
		c := s.issue()
		var resp stsResponse
		resp.Result.Credentials = stsCredentials{c.AccessKeyID, c.SecretAccessKey, c.SessionToken, c.Expires.Format(time.RFC3339)}
		resp.Result.SubjectFromWebIdentityToken = "system:serviceaccount:default:sluice"
		resp.Result.AssumedRoleUser.Arn = form.Get("RoleArn") + "/" + form.Get("RoleSessionName")
		resp.Result.AssumedRoleUser.AssumedRoleID = "AROAFAKE:" + form.Get("RoleSessionName")
		resp.RequestID = "fake-" + strconv.Itoa(s.Issued())
		out, _ := xml.Marshal(resp)
		w.Header().Set("Content-Type", "text/xml")
		w.Write(out)
	}
}
