package redisclient

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// endpoint is what a redis:// or rediss:// URL says.
type endpoint struct {
	addr     string
	host     string // for TLS server-name verification
	tls      bool
	user     string
	password string
	db       int
}

// parseURL reads redis://[user[:password]@]host[:port][/db]; rediss:// is the same over TLS.
// The port defaults to 6379 and the host to localhost. Query options are rejected rather than
// silently ignored.
func parseURL(raw string) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the whole URL, password included: keep only the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return endpoint{}, fmt.Errorf("redisclient: url does not parse: %w", err)
	}
	var e endpoint
	switch u.Scheme {
	case "redis":
	case "rediss":
		e.tls = true
	default:
		return endpoint{}, fmt.Errorf("redisclient: url: scheme %q is not redis or rediss", u.Scheme)
	}
	if u.Opaque != "" {
		return endpoint{}, errors.New("redisclient: url has no host (want redis://[user[:password]@]host[:port][/db])")
	}
	if u.RawQuery != "" {
		return endpoint{}, fmt.Errorf("redisclient: url: query options are not supported (%q)", u.RawQuery)
	}
	if u.User != nil {
		e.user = u.User.Username()
		e.password, _ = u.User.Password()
	}
	e.host = u.Hostname()
	if e.host == "" {
		e.host = "localhost"
	}
	port := u.Port()
	if port == "" {
		port = "6379"
	}
	e.addr = net.JoinHostPort(e.host, port)
	if p := strings.TrimPrefix(u.Path, "/"); p != "" {
		db, err := strconv.Atoi(p)
		if err != nil || db < 0 {
			return endpoint{}, fmt.Errorf("redisclient: url: database %q is not a non-negative number", p)
		}
		e.db = db
	}
	return e, nil
}

// Endpoint is what a redis:// or rediss:// URL says, for code that dials Redis itself (the
// benchmark baseline).
type Endpoint struct {
	Addr     string
	Host     string // for TLS server-name verification
	TLS      bool
	User     string
	Password string
	DB       int
}

// ParseURL reads a URL exactly as New does.
func ParseURL(raw string) (Endpoint, error) {
	e, err := parseURL(raw)
	return Endpoint{Addr: e.addr, Host: e.host, TLS: e.tls, User: e.user, Password: e.password, DB: e.db}, err
}
