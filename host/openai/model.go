package openai

import "fmt"

// MaxModelName bounds a model name a client may send. Real names (provider/model, Bedrock ARNs
// and inference profiles, Azure deployments, OpenRouter ids) are well under it; the name ends
// up in router names, metric labels and logs, so it is refused before any of them is built.
const MaxModelName = 256

// CheckModel reports why a client's model name cannot be served: longer than MaxModelName, or
// holding a byte outside printable ASCII without the space (0x21-0x7e). Every provider's
// model ids fit that set; spaces, control characters and non-ASCII never name a model and
// would only be echoed into headers, labels and logs.
func CheckModel(name string) error {
	if len(name) > MaxModelName {
		return fmt.Errorf("model name is %d bytes long; at most %d are allowed", len(name), MaxModelName)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("model name has byte 0x%02x at offset %d; only printable ASCII without spaces is allowed", c, i)
		}
	}
	return nil
}
