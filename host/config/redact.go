package config

import (
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// redacted replaces a secret so that its presence shows but not its value.
func redacted(s string) string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// Redacted returns a copy of the configuration safe to show: keys, secrets, credentials in
// URLs, header values, provider options and plugin config values are replaced. Plugin config
// and provider options are free-form, so every string in them is hidden: sluice cannot tell a
// model list from a token.
func (c *Config) Redacted() *Config {
	out := *c
	out.Server.AdminToken = redacted(c.Server.AdminToken)
	out.Providers = make(map[string]*Provider, len(c.Providers))
	for k, p := range c.Providers {
		cp := *p
		cp.APIKey = redacted(cp.APIKey)
		cp.SecretAccessKey = redacted(cp.SecretAccessKey)
		cp.SessionToken = redacted(cp.SessionToken)
		cp.AccessKeyID = redacted(cp.AccessKeyID)
		cp.BaseURL = redactURL(cp.BaseURL)
		if len(cp.Headers) > 0 {
			cp.Headers = make(map[string]string, len(p.Headers))
			for h, v := range p.Headers {
				cp.Headers[h] = redacted(v)
			}
		}
		if cp.Options != nil {
			cp.Options = redactTree(p.Options).(map[string]any)
		}
		out.Providers[k] = &cp
	}
	if c.Plugins != nil {
		out.Plugins = make(map[string]*Plugin, len(c.Plugins))
		for k, p := range c.Plugins {
			cp := *p
			if cp.Config != nil {
				cp.Config = redactTree(p.Config).(map[string]any)
			}
			out.Plugins[k] = &cp
		}
	}
	out.Auth.Keys = make([]KeySpec, len(c.Auth.Keys))
	for i, k := range c.Auth.Keys {
		k.Key = redacted(k.Key)
		out.Auth.Keys[i] = k
	}
	out.Redis.URL = redactURL(c.Redis.URL)
	out.Redis.SentinelPassword = redacted(c.Redis.SentinelPassword)
	out.Telemetry.Endpoint = redactURL(c.Telemetry.Endpoint)
	if len(c.Telemetry.Headers) > 0 {
		out.Telemetry.Headers = map[string]string{}
		for h, v := range c.Telemetry.Headers {
			out.Telemetry.Headers[h] = redacted(v)
		}
	}
	out.Warnings = make([]Problem, len(c.Warnings))
	for i, w := range c.Warnings {
		w.Msg = c.Scrub(w.Msg)
		out.Warnings[i] = w
	}
	return &out
}

// redactTree copies a decoded TOML value with every string replaced.
func redactTree(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = redactTree(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = redactTree(e)
		}
		return l
	case []map[string]any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = redactTree(e)
		}
		return l
	case string:
		return redacted(x)
	}
	return v
}

// redactURL hides the password of a URL: redis://:pw@host becomes redis://:***@host.
func redactURL(s string) string {
	if s == "" {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		// Unparsable, yet it may still hold a password: hide what lies between the user name
		// and the last '@'.
		if i := strings.LastIndex(s, "@"); i >= 0 {
			start := 0
			if j := strings.Index(s, "://"); j >= 0 && j < i {
				start = j + 3
			}
			user, _, _ := strings.Cut(s[start:i], ":")
			return s[:start] + user + ":***" + s[i:]
		}
		return s
	}
	if u.User == nil {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "redacted")
		return strings.Replace(u.String(), ":redacted@", ":***@", 1)
	}
	return s
}

// userinfoRE finds the password part of scheme://user:password@ in free text. The password
// ends at the last '@' before the host, so one holding '@' or '/' is still covered.
var userinfoRE = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^:@/\s"'<>]*):[^\s"'<>]*@`)

// ScrubURLs replaces the passwords of the URLs in s with ***.
func ScrubURLs(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return userinfoRE.ReplaceAllString(s, "$1:***@")
}

// minSecret is the length below which a configured value is not scrubbed from messages:
// shorter strings ("on", "us-east-1") would mangle text without hiding anything worth it.
const minSecret = 6

// Secrets lists the secret values the configuration holds: its Credentials and every string
// of plugin configs and provider options (free-form, so any of them may be a token); longest
// first, so that Scrub replaces a secret before any shorter one inside it.
func (c *Config) Secrets() []string { return c.secrets(true) }

// Credentials lists API keys, cloud credentials, header values, virtual keys, the admin token
// and URL passwords, longest first: what must never appear in an answer to a client.
func (c *Config) Credentials() []string { return c.secrets(false) }

func (c *Config) secrets(freeForm bool) []string {
	var out []string
	add := func(s string) {
		if len(s) >= minSecret {
			out = append(out, s)
		}
	}
	var tree func(v any)
	tree = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for _, e := range x {
				tree(e)
			}
		case []any:
			for _, e := range x {
				tree(e)
			}
		case []map[string]any:
			for _, e := range x {
				tree(e)
			}
		case string:
			add(x)
		}
	}
	urlPass := func(s string) {
		if u, err := url.Parse(s); err == nil && u.User != nil {
			if p, ok := u.User.Password(); ok {
				add(p)
				add(url.PathEscape(p))
			}
		}
	}
	add(c.Server.AdminToken)
	for _, p := range c.Providers {
		add(p.APIKey)
		add(p.SecretAccessKey)
		add(p.SessionToken)
		add(p.AccessKeyID)
		urlPass(p.BaseURL)
		for _, v := range p.Headers {
			add(v)
		}
		if freeForm {
			tree(p.Options)
		}
	}
	if freeForm {
		for _, p := range c.Plugins {
			tree(p.Config)
		}
	}
	for _, k := range c.Auth.Keys {
		add(k.Key)
	}
	urlPass(c.Redis.URL)
	add(c.Redis.SentinelPassword)
	urlPass(c.Telemetry.Endpoint)
	for _, v := range c.Telemetry.Headers {
		add(v)
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// ScrubWith removes the URL passwords and the given secret values from msg.
func ScrubWith(msg string, secrets []string) string {
	msg = ScrubURLs(msg)
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, "***")
		}
	}
	return msg
}

// Scrub removes from a message (an error, a log line) the passwords of URLs and every secret
// value this configuration holds. c may be nil.
func (c *Config) Scrub(msg string) string {
	if c == nil {
		return ScrubURLs(msg)
	}
	return ScrubWith(msg, c.Secrets())
}
