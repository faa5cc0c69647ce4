package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

func TestVersionOutput(t *testing.T) {
	defer func(v, c string) { version, commit = v, c }(version, commit)
	version, commit = "v1.2.3-4-gabcdef0-dirty", "abcdef0123456789"
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("sluice v1.2.3-4-gabcdef0-dirty\nmodule  github.com/sluice-gw/sluice\ncommit  abcdef0123456789 (modified)\ngo      %s %s/%s\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if out.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestHealthCommand(t *testing.T) {
	code := 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(code)
		w.Write([]byte(`{"status":"ok"}`))
	}))
	defer srv.Close()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"health", "--url", srv.URL + "/health"}, &out, &errOut); err != nil {
		t.Fatalf("healthy server: %v", err)
	}
	if !strings.Contains(out.String(), `{"status":"ok"}`) {
		t.Fatalf("output: %q", out.String())
	}
	code = 503
	if err := run(context.Background(), []string{"health", "--url", srv.URL + "/health"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("503 answer: %v", err)
	}
	srv.Close()
	if err := run(context.Background(), []string{"health", "--url", srv.URL + "/health", "--timeout", "1s"}, &out, &errOut); err == nil {
		t.Fatal("closed server counted as healthy")
	}
}
