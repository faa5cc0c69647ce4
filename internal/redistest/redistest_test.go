package redistest

import (
	"strings"
	"testing"
)

func TestStartPingStop(t *testing.T) {
	s := Start(t)
	if err := ping(s.Addr, ""); err != nil {
		t.Fatalf("ping after start: %v", err)
	}
	s.Stop()
	if err := ping(s.Addr, ""); err == nil {
		t.Fatal("server still answers after Stop")
	}
	s.Stop() // idempotent
	s.Restart(t)
	if err := ping(s.Addr, ""); err != nil {
		t.Fatalf("ping after restart: %v", err)
	}
}

func TestPassword(t *testing.T) {
	s := Start(t, Password("s3cret"))
	if err := ping(s.Addr, ""); err == nil {
		t.Fatal("server answered PING without AUTH")
	}
	if err := ping(s.Addr, "s3cret"); err != nil {
		t.Fatalf("ping with the password: %v", err)
	}
	if !strings.HasPrefix(s.URL, "redis://:s3cret@127.0.0.1:") {
		t.Fatalf("URL %q does not carry the password", s.URL)
	}
}
