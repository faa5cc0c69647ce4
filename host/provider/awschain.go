//go:build !noawschain

package provider

import (
	"context"
	"fmt"

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
