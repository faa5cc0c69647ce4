package sdk

var cfg Config

// Config is the plugin's TOML table from the host config, delivered as JSON by the init hook.
type Config struct {
	name string
	raw  []byte
	m    map[string]any
}

// PluginConfig returns the config of this instance (empty before init).
func PluginConfig() Config { return cfg }

// PluginName returns the name the host loaded this plugin under.
func PluginName() string { return cfg.name }

// Name returns the plugin name the host passed with the config.
func (c Config) Name() string { return c.name }

// Raw returns the config JSON as the host sent it.
func (c Config) Raw() []byte { return c.raw }

// Map returns the decoded config table (nil when empty).
func (c Config) Map() map[string]any { return c.m }

// Lookup returns the value of key.
func (c Config) Lookup(key string) (any, bool) {
	v, ok := c.m[key]
	return v, ok
}

// String returns the string at key or def.
func (c Config) String(key, def string) string {
	if s, ok := c.m[key].(string); ok {
		return s
	}
	return def
}

// Float returns the number at key or def.
func (c Config) Float(key string, def float64) float64 {
	if f, ok := c.m[key].(float64); ok {
		return f
	}
	return def
}

// Int returns the number at key (truncated) or def.
func (c Config) Int(key string, def int) int {
	if f, ok := c.m[key].(float64); ok {
		return int(f)
	}
	return def
}

// Bool returns the boolean at key or def.
func (c Config) Bool(key string, def bool) bool {
	if b, ok := c.m[key].(bool); ok {
		return b
	}
	return def
}

// Strings returns the strings of the array at key (non-strings are skipped).
func (c Config) Strings(key string) []string {
	a, _ := c.m[key].([]any)
	out := make([]string, 0, len(a))
	for _, v := range a {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// StringMap returns the string values of the table at key (non-strings are skipped).
func (c Config) StringMap(key string) map[string]string {
	t, _ := c.m[key].(map[string]any)
	out := make(map[string]string, len(t))
	for k, v := range t {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// Table returns the table at key.
func (c Config) Table(key string) map[string]any {
	t, _ := c.m[key].(map[string]any)
	return t
}
