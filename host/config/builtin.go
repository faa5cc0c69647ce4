package config

// Kind describes the defaults of one built-in provider kind.
type Kind struct {
	BaseURL    string
	Auth       string // bearer | x-api-key | x-goog-api-key | api-key | sigv4 | none
	Translator string // embedded plugin name, "" for OpenAI-compatible wire format
	NeedsKey   bool
}

// Kinds lists the built-in provider kinds. Any other provider declares kind = "openai" (or
// another kind) with its own base_url.
var Kinds = map[string]Kind{
	"openai":     {BaseURL: "https://api.openai.com/v1", Auth: "bearer", NeedsKey: true},
	"groq":       {BaseURL: "https://api.groq.com/openai/v1", Auth: "bearer", NeedsKey: true},
	"mistral":    {BaseURL: "https://api.mistral.ai/v1", Auth: "bearer", NeedsKey: true},
	"deepseek":   {BaseURL: "https://api.deepseek.com/v1", Auth: "bearer", NeedsKey: true},
	"xai":        {BaseURL: "https://api.x.ai/v1", Auth: "bearer", NeedsKey: true},
	"together":   {BaseURL: "https://api.together.xyz/v1", Auth: "bearer", NeedsKey: true},
	"openrouter": {BaseURL: "https://openrouter.ai/api/v1", Auth: "bearer", NeedsKey: true},
	"ollama":     {BaseURL: "http://127.0.0.1:11434/v1", Auth: "none"},
	"vllm":       {BaseURL: "http://127.0.0.1:8000/v1", Auth: "none"},
	"anthropic":  {BaseURL: "https://api.anthropic.com", Auth: "x-api-key", Translator: "anthropic", NeedsKey: true},
	"gemini":     {BaseURL: "https://generativelanguage.googleapis.com/v1beta", Auth: "x-goog-api-key", Translator: "gemini", NeedsKey: true},
	"bedrock":    {Auth: "sigv4", Translator: "bedrock"},
	// Vertex AI: the base URL follows the location (VertexBaseURL); the translator follows
	// the model (gemini-* or claude-*).
	"vertex": {Auth: "google"},
	"azure":  {Auth: "api-key", NeedsKey: true},
	"demo":   {Auth: "none"},
}

// AuthStyles are the accepted values of a provider's auth key.
var AuthStyles = []string{"bearer", "x-api-key", "x-goog-api-key", "api-key", "sigv4", "google", "none"}

// VertexBaseURL is the Vertex AI service endpoint of a location: regional endpoints carry the
// region as a host prefix, the global one has none.
func VertexBaseURL(location string) string {
	if location == "" || location == "global" {
		return "https://aiplatform.googleapis.com"
	}
	return "https://" + location + "-aiplatform.googleapis.com"
}

// Strategies are the accepted router strategies.
var Strategies = []string{"latency", "weighted", "round_robin", "least_busy", "priority", "cost", "plugin"}
