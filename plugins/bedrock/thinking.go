package bedrock

import (
	"strings"

	"github.com/sluice-gw/sluice/plugins/internal/xlate"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// defaultMaxTokens is maxTokens when reasoning needs one and the client set none, before the
// thinking budget is added (the default_max_tokens option overrides it).
const defaultMaxTokens = 4096

// minThinking is the smallest budget Claude accepts.
const minThinking = 1024

// effortBudget is Claude's thinking budget for each reasoning_effort, the same as the
// Anthropic translator's.
var effortBudget = map[string]int64{"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384}

// thinking is Claude's extended thinking for one request: a budget (0: off) and the maxTokens
// it needs (0: the client's, unchanged).
type thinking struct {
	budget, maxTokens int64
}

// isClaude reports a Claude model id, inference profile (us.anthropic.claude-...) or ARN
// naming one: those take thinking in additionalModelRequestFields.
func isClaude(model string) bool { return strings.Contains(model, "anthropic.claude") }

// readThinking maps reasoning_effort to Claude's thinking budget, as the Anthropic translator
// does: OpenAI counts reasoning inside max_completion_tokens, so a client limit caps the budget
// below it; without one maxTokens becomes defMax plus the budget. Other Bedrock models take no
// reasoning control through Converse, and an effort other than none is a 400 for them.
func readThinking(chat *xlate.Chat, model string, defMax int64) (thinking, error) {
	effort := chat.ReasoningEffort
	if !effort.Exists() || effort.IsNull() || effort.Is("none") {
		return thinking{}, nil
	}
	budget, ok := effortBudget[effort.Str()]
	if !effort.IsString() || !ok {
		return thinking{}, xlate.BadRequest("invalid_request", "bedrock: unknown reasoning_effort %s", effort.Raw())
	}
	if !isClaude(model) {
		return thinking{}, xlate.BadRequest("unsupported_parameter",
			"bedrock: parameter reasoning_effort is not supported for model %s (only Claude models take a thinking budget through Converse)", model)
	}
	limit, ok := chat.MaxTokens()
	if !ok {
		return thinking{budget: budget, maxTokens: defMax + budget}, nil
	}
	if budget >= limit {
		budget = limit - 1
	}
	if budget < minThinking {
		return thinking{}, xlate.BadRequest("invalid_request",
			"bedrock: max_completion_tokens %d is too small for reasoning_effort %q (needs more than %d)", limit, effort.Str(), minThinking)
	}
	return thinking{budget: budget}, nil
}

// write writes additionalModelRequestFields.thinking when thinking is on.
func (t thinking) write(w *jsonx.Writer) {
	if t.budget == 0 {
		return
	}
	w.Key("additionalModelRequestFields")
	w.ObjectStart()
	w.Key("thinking")
	w.ObjectStart()
	w.Key("type")
	w.String("enabled")
	w.Key("budget_tokens")
	w.Int(t.budget)
	w.ObjectEnd()
	w.ObjectEnd()
}
