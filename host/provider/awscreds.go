package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/sluice-gw/sluice/host/config"
)

// awsChain loads the AWS SDK's default credential chain for a Bedrock provider without static
// keys: environment, shared config and credentials files (profiles, SSO, assume-role,
// credential_process), web identity (IRSA), ECS container credentials and EC2 instance
// metadata, in the SDK's order. The SDK wraps the chain in its CredentialsCache, which caches
// the credentials and refreshes them before they expire.
//
// It also says whether a source is visible without a network call. Instance metadata is not:
// probing it off EC2 costs seconds, so a provider that relies on an instance profile alone sets
// credentials = "chain" to be served.
func awsChain(pc *config.Provider) (aws.CredentialsProvider, bool, error) {
	opts := []func(*awsconfig.LoadOptions) error{}
	if pc.Region != "" {
		opts = append(opts, awsconfig.WithRegion(pc.Region))
	}
	if pc.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(pc.Profile))
	}
	// The context only bounds loading (reading files); credentials are fetched per request.
	cfg, err := awsconfig.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		return nil, false, fmt.Errorf("aws credentials: %w", err)
	}
	creds := cfg.Credentials
	if creds == nil {
		return nil, false, fmt.Errorf("aws credentials: the default chain has no provider")
	}
	if _, ok := creds.(*aws.CredentialsCache); !ok {
		creds = aws.NewCredentialsCache(creds)
	}
	return &failCache{p: creds}, pc.Profile != "" || pc.Credentials == "chain" || awsSourceVisible(), nil
}

// awsSourceVisible reports whether the environment or the file system names a credential
// source of the default chain other than instance metadata.
func awsSourceVisible() bool {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		if os.Getenv(k) != "" {
			return true
		}
	}
	files := []string{os.Getenv("AWS_CONFIG_FILE"), os.Getenv("AWS_SHARED_CREDENTIALS_FILE")}
	if home, err := os.UserHomeDir(); err == nil {
		files = append(files, filepath.Join(home, ".aws", "config"), filepath.Join(home, ".aws", "credentials"))
	}
	for _, f := range files {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err == nil {
			return true
		}
	}
	return false
}

// failRetry is how long a failed credential fetch is answered from memory: the chain's last
// resort (instance metadata) takes seconds to fail, and every request would pay it.
const failRetry = 5 * time.Second

// failCache remembers a failed Retrieve for failRetry. Successful credentials are cached (and
// refreshed) by the SDK's CredentialsCache below it.
type failCache struct {
	p      aws.CredentialsProvider
	mu     sync.Mutex
	err    error
	failAt time.Time
}

func (f *failCache) Retrieve(ctx context.Context) (aws.Credentials, error) {
	f.mu.Lock()
	if f.err != nil && time.Since(f.failAt) < failRetry {
		err := f.err
		f.mu.Unlock()
		return aws.Credentials{}, err
	}
	f.mu.Unlock()
	c, err := f.p.Retrieve(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		f.err, f.failAt = err, time.Now()
	} else if err == nil {
		f.err = nil
	}
	return c, err
}

// awsCredentials are the credentials to sign the next request with: the static keys, or the
// chain's current ones.
func (p *Provider) awsCredentials(ctx context.Context) (aws.Credentials, error) {
	if p.awsChain == nil {
		return p.creds, nil
	}
	c, err := p.awsChain.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("aws credentials from the default chain: %w", err)
	}
	return c, nil
}
