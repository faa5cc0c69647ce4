package config

import (
	"path"
	"strings"
)

// ReservedHeader reports whether a plugin may never set or remove the (lower-cased) header:
// credentials, framing, cookies, signing and sluice's own headers. upstream_headers and
// response_headers globs never grant them.
func ReservedHeader(ln string) bool {
	switch ln {
	case "authorization", "api-key", "x-api-key", "x-goog-api-key", "host", "content-length", "content-type",
		"transfer-encoding", "connection", "te", "upgrade", "cookie", "set-cookie", "proxy-authorization", "trailer":
		return true
	}
	return strings.HasPrefix(ln, "x-amz-") || strings.HasPrefix(ln, "x-sluice-") || strings.HasPrefix(ln, "x-ratelimit-")
}

// validateHeaderGlobs checks a plugin's header allow-list: each entry a valid glob of header
// names, and none naming only a reserved header (a glob such as "x-*" may cover reserved names;
// they stay refused).
func validateHeaderGlobs(v *validator, key string, globs []string) {
	for i, g := range globs {
		lg := strings.ToLower(g)
		switch _, err := path.Match(lg, "x"); {
		case g == "":
			v.errAt(key, "entry %d is empty", i+1)
		case err != nil:
			v.errAt(key, "%q is not a valid glob: %v", g, err)
		case strings.ContainsAny(g, " \t\r\n:/"):
			v.errAt(key, "%q is not a header name pattern", g)
		case !strings.ContainsAny(g, "*?[") && ReservedHeader(lg):
			v.errAt(key, "%q is a reserved header no plugin may set", g)
		case strings.HasPrefix(lg, "x-sluice-") || strings.HasPrefix(lg, "x-amz-") || strings.HasPrefix(lg, "x-ratelimit-"):
			v.errAt(key, "%q only names reserved headers, which no plugin may set", g)
		}
	}
}
