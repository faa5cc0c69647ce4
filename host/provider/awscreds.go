package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

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
