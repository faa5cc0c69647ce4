package xlate

import (
	"slices"
	"testing"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// TestCheckParamsEscapedNames: a member name written with escapes is the same member.
func TestCheckParamsEscapedNames(t *testing.T) {
	body, err := jsonx.Parse([]byte(`{"se\u0065d":7,"log\u0070robs":false,"x\u0079z":1}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := CheckParams(body, Anthropic)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Ignored, []string{"seed", "xyz"}) {
		t.Fatalf("ignored = %v", p.Ignored)
	}
	body, _ = jsonx.Parse([]byte(`{"log\u0070robs":true}`))
	if _, err := CheckParams(body, Bedrock); err == nil {
		t.Fatal("logprobs with an escaped name was not refused")
	}
}

// TestTableComplete: every row has a rule for every translator, and names are unique.
func TestTableComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range ChatParams {
		if seen[p.Name] {
			t.Errorf("%s: two rows", p.Name)
		}
		seen[p.Name] = true
		for _, tr := range Translators {
			if r := p.By[tr]; r.How == 0 || r.Target == "" {
				t.Errorf("%s: no rule for %s", p.Name, tr)
			}
		}
	}
}
