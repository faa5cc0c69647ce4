// Command manifests renders the Helm chart into deploy/manifests, for users without Helm.
package main

import (
	"fmt"
	"os"

	"github.com/sluice-gw/sluice/deploy/internal/chart"
)

func main() {
	if err := chart.WriteManifests(); err != nil {
		fmt.Fprintln(os.Stderr, "manifests:", err)
		os.Exit(1)
	}
}
