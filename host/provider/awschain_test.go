//go:build !noawschain

package provider

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

// Environment credentials with a session token: the token is sent and signed (the fake
// re-signs with it and compares).
func TestAWSChainEnvSessionToken(t *testing.T) {
	awsEnv(t)
	creds := fakeprovider.NewAWSCredentials()
	creds.Add("ASIAENVKEY", "env-secret", "env-session-token", time.Time{})
	fake := fakeprovider.NewBedrock(t, fakeprovider.WithAWSCredentials(creds), fakeprovider.WithRegion("us-west-2"))
	t.Setenv("AWS_ACCESS_KEY_ID", "ASIAENVKEY")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
	t.Setenv("AWS_SESSION_TOKEN", "env-session-token")
	p := newBedrock(t, fake, config.Provider{})
	if status, body := titanCall(t, p, "hello env"); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	status, body := do(t, p, ChatCompletions, "amazon.nova-lite-v1:0", chatBody("amazon.nova-lite-v1:0", false), false)
	if status != 200 || !strings.Contains(body, "say hello vertex") {
		t.Fatalf("converse: %d %s", status, body)
	}
	authz, tok := lastAuth(fake)
	if tok != "env-session-token" || !strings.Contains(authz, "x-amz-security-token") {
		t.Errorf("session token %q not signed: %s", tok, authz)
	}
	// A wrong token is refused by the fake: the check above can fail.
	t.Setenv("AWS_SESSION_TOKEN", "other-token")
	q := newBedrock(t, fake, config.Provider{})
	if status, _ := titanCall(t, q, "hello env"); status != 403 {
		t.Errorf("wrong session token: %d", status)
	}
}

// A named profile of a shared config file.
func TestAWSChainProfile(t *testing.T) {
	awsEnv(t)
	creds := fakeprovider.NewAWSCredentials()
	creds.Add("AKIAPROFILE", "profile-secret", "profile-token", time.Time{})
	fake := fakeprovider.NewBedrock(t, fakeprovider.WithAWSCredentials(creds))
	t.Setenv("AWS_CONFIG_FILE", writeFile(t, "config", []byte("[default]\nregion = eu-west-1\n\n[profile team]\naws_access_key_id = AKIAPROFILE\naws_secret_access_key = profile-secret\naws_session_token = profile-token\n")))
	p := newBedrock(t, fake, config.Provider{Profile: "team"})
	if status, body := titanCall(t, p, "hello profile"); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	if authz, _ := lastAuth(fake); !strings.Contains(authz, "Credential=AKIAPROFILE/") {
		t.Errorf("authorization %s", authz)
	}
	q := newBedrock(t, fake, config.Provider{Profile: "absent"})
	if !strings.Contains(q.Unavailable(), "absent") {
		t.Errorf("unknown profile: %q", q.Unavailable())
	}
}

// Web identity (IRSA): the SDK exchanges the token file at STS (AWS_ENDPOINT_URL_STS), caches
// the temporary credentials and gets new ones once they expire.
func TestAWSChainWebIdentityRefresh(t *testing.T) {
	awsEnv(t)
	creds := fakeprovider.NewAWSCredentials()
	sts := fakeprovider.NewSTS(t, creds, 2*time.Second)
	fake := fakeprovider.NewBedrock(t, fakeprovider.WithAWSCredentials(creds))
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", writeFile(t, "token", []byte("eyJ.fake.jwt")))
	t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/sluice")
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	p := newBedrock(t, fake, config.Provider{})
	if u := p.Unavailable(); u != "" {
		t.Fatal(u)
	}
	for i := 0; i < 3; i++ {
		if status, body := titanCall(t, p, "hello irsa"); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
	}
	if sts.Issued() != 1 {
		t.Errorf("%d credentials issued for 3 calls, want 1 (cached)", sts.Issued())
	}
	if c := sts.Calls()[0]; c.Get("WebIdentityToken") != "eyJ.fake.jwt" || c.Get("RoleArn") != "arn:aws:iam::123456789012:role/sluice" {
		t.Errorf("STS call %v", c)
	}
	first, _ := lastAuth(fake)
	time.Sleep(2500 * time.Millisecond)
	if status, body := titanCall(t, p, "hello again"); status != 200 {
		t.Fatalf("after expiry: %d %s", status, body)
	}
	second, tok := lastAuth(fake)
	if sts.Issued() != 2 || !strings.Contains(second, "ASIAFAKE00000002") || tok != "fake-session-token-2" {
		t.Errorf("not refreshed: issued %d, %s then %s", sts.Issued(), first, second)
	}
}

// ECS container credentials (and EKS pod identity), from a loopback full URI.
func TestAWSChainContainer(t *testing.T) {
	awsEnv(t)
	creds := fakeprovider.NewAWSCredentials()
	sts := fakeprovider.NewSTS(t, creds, time.Hour)
	fake := fakeprovider.NewBedrock(t, fakeprovider.WithAWSCredentials(creds))
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", sts.URL+"/ecs")
	p := newBedrock(t, fake, config.Provider{})
	if status, body := titanCall(t, p, "hello ecs"); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	if _, tok := lastAuth(fake); tok != "fake-session-token-1" {
		t.Errorf("token %q", tok)
	}
}

// Nothing visible: the provider is unconfigured at once rather than probing instance metadata
// on every request; credentials = "chain" opts in, and static keys keep working as before.
func TestAWSChainNothingAndStatic(t *testing.T) {
	awsEnv(t)
	fake := fakeprovider.NewBedrock(t, fakeprovider.WithCredentials("AKIASTATIC", "static-secret"))
	p := newBedrock(t, fake, config.Provider{})
	if !strings.Contains(p.Unavailable(), "no AWS credentials") {
		t.Errorf("unavailable %q", p.Unavailable())
	}
	q := newBedrock(t, fake, config.Provider{Credentials: "chain"})
	if q.Unavailable() != "" {
		t.Errorf("chain: %q", q.Unavailable())
	}
	_, err := q.Do(context.Background(), &Request{Endpoint: Embeddings, Model: "amazon.titan-embed-text-v2:0", Body: []byte(`{"model":"m","input":"x"}`)})
	if ae, ok := err.(*AttemptError); !ok || ae.Kind != FailUnavailable || !strings.Contains(err.Error(), "aws credentials") {
		t.Errorf("chain without a source: %v", err)
	}
	s := newBedrock(t, fake, config.Provider{AccessKeyID: "AKIASTATIC", SecretAccessKey: "static-secret"})
	if status, body := titanCall(t, s, "hello static"); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
}

// An SSO profile: the SDK reads the cached IAM Identity Center token and trades it at the
// portal (AWS_ENDPOINT_URL_SSO) for role credentials.
func TestAWSChainSSOProfile(t *testing.T) {
	awsEnv(t)
	creds := fakeprovider.NewAWSCredentials()
	sts := fakeprovider.NewSTS(t, creds, time.Hour)
	fake := fakeprovider.NewBedrock(t, fakeprovider.WithAWSCredentials(creds))
	const startURL = "https://acme.awsapps.com/start"
	t.Setenv("AWS_CONFIG_FILE", writeFile(t, "config", []byte("[profile sso-dev]\nsso_start_url = "+startURL+
		"\nsso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = Inference\n")))
	t.Setenv("AWS_ENDPOINT_URL_SSO", sts.URL)
	sum := sha1.Sum([]byte(startURL))
	cache := filepath.Join(os.Getenv("HOME"), ".aws", "sso", "cache")
	if err := os.MkdirAll(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	tok := fmt.Sprintf(`{"accessToken":%q,"expiresAt":%q,"region":"us-east-1","startUrl":%q}`, fakeprovider.SSOAccessToken, time.Now().Add(time.Hour).UTC().Format(time.RFC3339), startURL)
	if err := os.WriteFile(filepath.Join(cache, hex.EncodeToString(sum[:])+".json"), []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newBedrock(t, fake, config.Provider{Profile: "sso-dev"})
	if status, body := titanCall(t, p, "hello sso"); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	if _, tok := lastAuth(fake); tok != "fake-session-token-1" || sts.Issued() != 1 {
		t.Errorf("token %q, %d issued", tok, sts.Issued())
	}
}
