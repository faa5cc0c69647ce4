//go:build !wasip1

package sdk

import (
	"fmt"
	"os"
)

// LogSink receives Log calls in native builds (unit tests); the default writes to stderr. In
// wasm builds logs go to the host's sluice_host.log import instead.
var LogSink = func(level int, msg string) { fmt.Fprintf(os.Stderr, "plugin log level=%d: %s\n", level, msg) }

func hostLog(level int, msg string) { LogSink(level, msg) }
