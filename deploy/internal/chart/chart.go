// Package chart renders the sluice Helm chart the way `helm template` does, through Helm's
// own Go packages, for the plain manifests committed under deploy/manifests and the tests.
package chart

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
)

// Dir is the chart's folder.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "helm", "sluice")
}

// ManifestsDir is where the rendered manifests are committed.
func ManifestsDir() string { return filepath.Join(Dir(), "..", "..", "manifests") }

// Manifest is one rendered template file.
type Manifest struct {
	// Name is the template's path in the chart ("sluice/templates/deployment.yaml").
	Name string
	Body string
}

// Render renders the chart with the release name and namespace and the values files given
// (merged in order over values.yaml, as helm's -f does), templates sorted by name, NOTES.txt
// and empty output left out.
func Render(release, namespace string, valueFiles ...string) ([]Manifest, error) {
	ch, err := loader.Load(Dir())
	if err != nil {
		return nil, fmt.Errorf("chart: load: %w", err)
	}
	vals := map[string]any{}
	for _, f := range valueFiles {
		v, err := chartutil.ReadValuesFile(f)
		if err != nil {
			return nil, fmt.Errorf("chart: %s: %w", f, err)
		}
		vals = chartutil.CoalesceTables(v.AsMap(), vals)
	}
	rv, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{Name: release, Namespace: namespace, Revision: 1, IsInstall: true, IsUpgrade: false}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, fmt.Errorf("chart: values: %w", err)
	}
	out, err := engine.Render(ch, rv)
	if err != nil {
		return nil, fmt.Errorf("chart: render: %w", err)
	}
	var ms []Manifest
	for name, body := range out {
		if strings.HasSuffix(name, "NOTES.txt") || strings.HasPrefix(filepath.Base(name), "_") || strings.TrimSpace(body) == "" {
			continue
		}
		ms = append(ms, Manifest{Name: name, Body: body})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	return ms, nil
}

// Join is the manifests as one multi-document YAML stream, with `helm template`'s "# Source"
// comments.
func Join(ms []Manifest) string {
	var b strings.Builder
	for _, m := range ms {
		for _, doc := range splitDocs(m.Body) {
			fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", m.Name, doc)
		}
	}
	return b.String()
}

// Docs splits the manifests into single YAML documents.
func Docs(ms []Manifest) []string {
	var out []string
	for _, m := range ms {
		out = append(out, splitDocs(m.Body)...)
	}
	return out
}

func splitDocs(body string) []string {
	var out []string
	for _, d := range strings.Split("\n"+body, "\n---") {
		d = strings.TrimSpace(d)
		if d == "" || isOnlyComments(d) {
			continue
		}
		out = append(out, d)
	}
	return out
}

func isOnlyComments(d string) bool {
	for _, l := range strings.Split(d, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

// Variants are the rendered manifests committed for users without Helm: file name, and the
// values files (in the chart folder) over the defaults.
var Variants = []struct {
	File   string
	Values []string
}{
	{"sluice.yaml", []string{"ci/manifests-values.yaml"}},
	{"sluice-redis.yaml", []string{"ci/manifests-values.yaml", "ci/redis-values.yaml"}},
}

// Manifests renders every variant as it is committed, release "sluice".
func Manifests() (map[string]string, error) {
	out := map[string]string{}
	for _, v := range Variants {
		var files []string
		for _, f := range v.Values {
			files = append(files, filepath.Join(Dir(), f))
		}
		ms, err := Render("sluice", "default", files...)
		if err != nil {
			return nil, err
		}
		out[v.File] = "# Rendered from deploy/helm/sluice by `make manifests`; do not edit.\n" + Join(ms)
	}
	return out, nil
}

// WriteManifests writes Manifests into ManifestsDir.
func WriteManifests() error {
	m, err := Manifests()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(ManifestsDir(), 0o755); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	for name, body := range m {
		if err := os.WriteFile(filepath.Join(ManifestsDir(), name), []byte(body), 0o644); err != nil {
			return fmt.Errorf("chart: %w", err)
		}
	}
	return nil
}
