package config

import (
	"net/url"
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
// URLs and header values are replaced.
func (c *Config) Redacted() *Config {
	out := *c
	out.Providers = make(map[string]*Provider, len(c.Providers))
	for k, p := range c.Providers {
		cp := *p
		cp.APIKey = redacted(cp.APIKey)
		cp.SecretAccessKey = redacted(cp.SecretAccessKey)
		cp.SessionToken = redacted(cp.SessionToken)
		cp.AccessKeyID = redacted(cp.AccessKeyID)
		if len(cp.Headers) > 0 {
			cp.Headers = make(map[string]string, len(p.Headers))
			for h, v := range p.Headers {
				cp.Headers[h] = redacted(v)
			}
		}
		out.Providers[k] = &cp
	}
	out.Auth.Keys = make([]KeySpec, len(c.Auth.Keys))
	for i, k := range c.Auth.Keys {
		k.Key = redacted(k.Key)
		out.Auth.Keys[i] = k
	}
	out.Redis.URL = redactURL(c.Redis.URL)
	if len(c.Telemetry.Headers) > 0 {
		out.Telemetry.Headers = map[string]string{}
		for h, v := range c.Telemetry.Headers {
			out.Telemetry.Headers[h] = redacted(v)
		}
	}
	return &out
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		// Unparsable, yet it may still hold a password: hide everything before the host.
		if i := strings.LastIndex(s, "@"); i >= 0 {
			pre := ""
			if j := strings.Index(s, "://"); j >= 0 && j < i {
				pre = s[:j+3]
			}
			return pre + "[redacted]" + s[i:]
		}
		return s
	}
	if u.User == nil {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "redacted")
	}
	return strings.Replace(u.String(), "redacted", "[redacted]", 1)
}
