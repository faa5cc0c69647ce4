package redisclient

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/internal/redistest"
)

// TestTLS: a rediss:// server that requires client certificates is reached with the CA and
// a client certificate, and refused without the certificate or with another CA.
func TestTLS(t *testing.T) {
	srv := redistest.Start(t, redistest.TLS())
	f := srv.TLS
	ctx := context.Background()
	good := newClient(t, Options{URL: srv.URL, TLS: TLS{CAFile: f.CAFile, CertFile: f.CertFile, KeyFile: f.KeyFile}})
	do(t, good, "SET", "k", "over tls")
	if s, _ := do(t, good, "GET", "k").Str(); s != "over tls" {
		t.Fatalf("GET = %q", s)
	}
	// The server name defaults to the URL's host; an explicit one must match the certificate.
	named := newClient(t, Options{URL: srv.URL, TLS: TLS{CAFile: f.CAFile, CertFile: f.CertFile, KeyFile: f.KeyFile, ServerName: "localhost"}})
	do(t, named, "PING")
	wrongName := newClient(t, Options{URL: srv.URL, TLS: TLS{CAFile: f.CAFile, CertFile: f.CertFile, KeyFile: f.KeyFile, ServerName: "elsewhere"}})
	if err := wrongName.Ping(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a wrong server name: %v", err)
	}
	noCert := newClient(t, Options{URL: srv.URL, TLS: TLS{CAFile: f.CAFile}})
	if err := noCert.Ping(ctx); err == nil {
		t.Fatal("the server accepted a client without a certificate")
	}
	other, err := redistest.MakeCA(t.TempDir(), "other")
	if err != nil {
		t.Fatal(err)
	}
	untrusted := newClient(t, Options{URL: srv.URL, TLS: TLS{CAFile: other.File, CertFile: f.CertFile, KeyFile: f.KeyFile}})
	if err := untrusted.Ping(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a server signed by an untrusted CA: %v", err)
	}
	// A client certificate from another CA is refused by the server.
	cert, key, err := other.Issue("stranger", false)
	if err != nil {
		t.Fatal(err)
	}
	stranger := newClient(t, Options{URL: srv.URL, TLS: TLS{CAFile: f.CAFile, CertFile: cert, KeyFile: key}})
	if err := stranger.Ping(ctx); err == nil {
		t.Fatal("the server accepted a client certificate from another CA")
	}
	insecure := newClient(t, Options{URL: srv.URL, TLS: TLS{InsecureSkipVerify: true, CertFile: f.CertFile, KeyFile: f.KeyFile}})
	do(t, insecure, "PING")
	plain := newClient(t, Options{URL: strings.Replace(srv.URL, "rediss://", "redis://", 1)})
	if err := plain.Ping(ctx); err == nil {
		t.Fatal("plain RESP to a TLS port succeeded")
	}
}

// TestSentinel: with sentinels configured, the client asks them for the primary and talks to
// it; the URL's host is not used.
func TestSentinel(t *testing.T) {
	primary := redistest.Start(t)
	decoy := redistest.Start(t)
	s1 := redistest.StartSentinel(t, primary, "main")
	s2 := redistest.StartSentinel(t, primary, "main")
	c := newClient(t, Options{URL: decoy.URL, Sentinel: Sentinel{Addrs: []string{s1.Addr, s2.Addr}, Master: "main"}})
	do(t, c, "SET", "via", "sentinel")
	direct := newClient(t, Options{URL: primary.URL})
	if s, _ := do(t, direct, "GET", "via").Str(); s != "sentinel" {
		t.Fatalf("the primary has %q", s)
	}
	onDecoy := newClient(t, Options{URL: decoy.URL})
	if v := do(t, onDecoy, "GET", "via"); !v.IsNil() {
		t.Fatal("the write went to the URL's host")
	}
	// One sentinel down: the other still answers.
	s1.Stop()
	c2 := newClient(t, Options{URL: decoy.URL, Sentinel: Sentinel{Addrs: []string{s1.Addr, s2.Addr}, Master: "main"}})
	if s, _ := do(t, c2, "GET", "via").Str(); s != "sentinel" {
		t.Fatalf("through the second sentinel: %q", s)
	}
	unknown := newClient(t, Options{URL: decoy.URL, Sentinel: Sentinel{Addrs: []string{s2.Addr}, Master: "nope"}})
	if err := unknown.Ping(context.Background()); err == nil {
		t.Fatal("an unmonitored master name was accepted")
	}
}

// TestSentinelFailover: after the sentinel promotes the replica, the client's writes go to it.
func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("a failover takes seconds")
	}
	primary := redistest.Start(t)
	replica := redistest.Start(t, redistest.ReplicaOf(primary))
	sentinel := redistest.StartSentinel(t, primary, "main")
	ctx := context.Background()
	c := newClient(t, Options{URL: primary.URL, Sentinel: Sentinel{Addrs: []string{sentinel.Addr}, Master: "main"}})
	do(t, c, "SET", "before", "1")
	rc := newClient(t, Options{URL: replica.URL})
	// Replication is asynchronous: wait for the write to reach the replica.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if v, err := rc.Do(ctx, "GET", "before"); err == nil && !v.IsNil() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replica never got the first write")
		}
	}
	sc := newClient(t, Options{URL: "redis://" + sentinel.Addr})
	// The sentinel learns of the replica from the primary's INFO; until then it has none to
	// promote.
	var err error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if _, err = sc.Do(ctx, "SENTINEL", "FAILOVER", "main"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("SENTINEL FAILOVER: %v", err)
	}
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the replica was never promoted")
		}
		if role, _ := rc.Do(ctx, "ROLE"); strings.Contains(role.String(), `"master"`) {
			break
		}
	}
	// Once the replica is the primary, a fresh value is on it only if the client wrote it
	// there: nothing replicates into a primary.
	for i, deadline := 0, time.Now().Add(15*time.Second); ; i++ {
		if time.Now().After(deadline) {
			t.Fatal("the client's writes never reached the promoted replica")
		}
		want := fmt.Sprint("after-", i)
		// Writes fail while the roles change (READONLY, a closed connection): keep trying.
		if _, err := c.Do(ctx, "SET", "after", want); err == nil {
			if got, _ := rc.Do(ctx, "GET", "after"); got.String() == fmt.Sprintf("%q", want) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s, _ := do(t, rc, "GET", "before").Str(); s != "1" {
		t.Fatalf("a write from before the failover is lost: %q", s)
	}
}
