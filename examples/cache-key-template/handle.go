package main

import "github.com/sluice-gw/sluice/sdk"

// handle is the raw cache_key hook: the typed SDK input has no metadata field.
func handle(raw []byte) ([]byte, error) {
	in, err := Decode(raw)
	if err != nil {
		return nil, sdk.Errorf(400, "invalid_hook_input", "cache_key: %v", err)
	}
	return Key(in, sdk.PluginConfig().Int("buckets", 0)).AppendJSON(nil), nil
}
