package redistest

import (
	"strings"
	"testing"
)

func TestStartPingStop(t *testing.T) {
	s := Start(t)
	if err := ping(s.Addr, "", nil); err != nil {
		t.Fatalf("ping after start: %v", err)
	}
	s.Stop()
	if err := ping(s.Addr, "", nil); err == nil {
		t.Fatal("server still answers after Stop")
	}
	s.Stop() // idempotent
	s.Restart(t)
	if err := ping(s.Addr, "", nil); err != nil {
		t.Fatalf("ping after restart: %v", err)
	}
}

func TestPassword(t *testing.T) {
	s := Start(t, Password("s3cret"))
	if err := ping(s.Addr, "", nil); err == nil {
		t.Fatal("server answered PING without AUTH")
	}
	if err := ping(s.Addr, "s3cret", nil); err != nil {
		t.Fatalf("ping with the password: %v", err)
	}
	if !strings.HasPrefix(s.URL, "redis://:s3cret@127.0.0.1:") {
		t.Fatalf("URL %q does not carry the password", s.URL)
	}
}

func TestTLS(t *testing.T) {
	s := Start(t, TLS())
	if !strings.HasPrefix(s.URL, "rediss://127.0.0.1:") {
		t.Fatalf("URL %q", s.URL)
	}
	if err := s.ping(); err != nil {
		t.Fatalf("ping over TLS with the client certificate: %v", err)
	}
	if err := ping(s.Addr, "", nil); err == nil {
		t.Fatal("a TLS-only server answered plain RESP")
	}
	tc, err := s.TLS.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	tc.Certificates = nil
	if err := ping(s.Addr, "", tc); err == nil {
		t.Fatal("the server accepted a client without a certificate")
	}
}

func TestSentinel(t *testing.T) {
	p := Start(t)
	s := StartSentinel(t, p, "main")
	if addr, err := s.masterAddr("main"); err != nil || addr != p.Addr {
		t.Fatalf("sentinel reports %q, %v; want %s", addr, err, p.Addr)
	}
	if _, err := s.masterAddr("other"); err == nil {
		t.Fatal("sentinel knows an unmonitored name")
	}
}
