//go:build noawschain

package provider

import (
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sluice-gw/sluice/host/config"
)

// awsChain without the AWS SDK's config packages (build tag noawschain, about 3.4 MB less):
// Bedrock then signs with static keys only.
func awsChain(*config.Provider) (aws.CredentialsProvider, bool, error) {
	return nil, false, errors.New("no AWS credentials: this binary was built without the AWS default credential chain (tag noawschain); set access_key_id and secret_access_key")
}
