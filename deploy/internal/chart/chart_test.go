package chart

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/sluice-gw/sluice/deploy/internal/buildtest"
)

// valueSets are the values the chart is checked with: the defaults, the production example,
// and variants that reach the other branches of the templates.
var valueSets = map[string]string{
	"default":    "",
	"production": "ci/production-values.yaml",
	"redis":      "ci/redis-values.yaml",
	"manifests":  "ci/manifests-values.yaml",
	"secret-values-redis-url": `
secrets:
  values:
    OPENAI_API_KEY: sk-test
redis:
  url: redis://redis.shared:6379/2
serviceAccount:
  create: false
drain:
  preStopSleepSeconds: 0
  drainDelaySeconds: 10
topologySpread:
  enabled: false
podDisruptionBudget:
  enabled: false
networkPolicy:
  enabled: true
`,
	"redis-existing-secret": `
redis:
  existingSecret: redis-creds
cache:
  enabled: true
autoscaling:
  enabled: true
`,
}

// valueFiles returns the values files of a set, writing inline ones to a temporary file.
func valueFiles(t *testing.T, set string) []string {
	t.Helper()
	v := valueSets[set]
	switch {
	case v == "":
		return nil
	case strings.HasPrefix(v, "ci/"):
		return []string{filepath.Join(Dir(), v)}
	}
	p := filepath.Join(t.TempDir(), set+".yaml")
	if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{p}
}

func TestLint(t *testing.T) {
	for set := range valueSets {
		t.Run(set, func(t *testing.T) {
			vals := map[string]any{}
			for _, f := range valueFiles(t, set) {
				v, err := chartutil.ReadValuesFile(f)
				if err != nil {
					t.Fatal(err)
				}
				vals = v.AsMap()
			}
			l := lint.All(Dir(), vals, "sluice", false)
			for _, m := range l.Messages {
				t.Log(m.Error())
			}
			if l.HighestSeverity >= support.WarningSev {
				t.Fatalf("helm lint: highest severity %d", l.HighestSeverity)
			}
		})
	}
}

// rendered are the typed objects of one rendering.
type rendered struct {
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	pdbs        []*policyv1.PodDisruptionBudget
	netpols     []*networkingv1.NetworkPolicy
	monitors    []*serviceMonitor
	accounts    []*corev1.ServiceAccount
	kinds       []string
}

// serviceMonitor is the part of the Prometheus Operator's type the chart uses; decoding is
// strict, so a field outside it fails the test.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port     string `json:"port"`
			Path     string `json:"path"`
			Interval string `json:"interval"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// decode renders a values set and decodes every object strictly: unknown or misplaced fields
// are errors, as a server-side apply with field validation would make them.
func decode(t *testing.T, set string) *rendered {
	t.Helper()
	ms, err := Render("rel", "sluice", valueFiles(t, set)...)
	if err != nil {
		t.Fatal(err)
	}
	r := &rendered{deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{}, configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	for _, doc := range Docs(ms) {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("not YAML: %v\n%s", err, doc)
		}
		var obj any
		switch tm.APIVersion + "/" + tm.Kind {
		case "apps/v1/Deployment":
			d := &appsv1.Deployment{}
			obj = d
			defer func() { r.deployments[d.Name] = d }()
		case "v1/Service":
			s := &corev1.Service{}
			obj = s
			defer func() { r.services[s.Name] = s }()
		case "v1/ConfigMap":
			c := &corev1.ConfigMap{}
			obj = c
			defer func() { r.configMaps[c.Name] = c }()
		case "v1/Secret":
			s := &corev1.Secret{}
			obj = s
			defer func() { r.secrets[s.Name] = s }()
		case "v1/ServiceAccount":
			a := &corev1.ServiceAccount{}
			obj = a
			r.accounts = append(r.accounts, a)
		case "autoscaling/v2/HorizontalPodAutoscaler":
			h := &autoscalingv2.HorizontalPodAutoscaler{}
			obj = h
			r.hpas = append(r.hpas, h)
		case "policy/v1/PodDisruptionBudget":
			p := &policyv1.PodDisruptionBudget{}
			obj = p
			r.pdbs = append(r.pdbs, p)
		case "networking.k8s.io/v1/NetworkPolicy":
			n := &networkingv1.NetworkPolicy{}
			obj = n
			r.netpols = append(r.netpols, n)
		case "monitoring.coreos.com/v1/ServiceMonitor":
			m := &serviceMonitor{}
			obj = m
			r.monitors = append(r.monitors, m)
		default:
			t.Fatalf("unexpected object %s %s", tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("%s: strict decode: %v\n%s", tm.Kind, err, doc)
		}
		r.kinds = append(r.kinds, tm.Kind)
	}
	return r
}

func TestStrictDecoderRefusesUnknownFields(t *testing.T) {
	doc := "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  selectr: {}\n"
	if err := yaml.UnmarshalStrict([]byte(doc), &corev1.Service{}); err == nil {
		t.Fatal("a misspelled field decoded")
	}
}

func TestTemplate(t *testing.T) {
	for set := range valueSets {
		t.Run(set, func(t *testing.T) {
			r := decode(t, set)
			d := r.deployments["rel-sluice"]
			if d == nil {
				t.Fatalf("no gateway Deployment among %v", r.kinds)
			}
			checkGateway(t, set, d)
			svc := r.services["rel-sluice"]
			if svc == nil || len(svc.Spec.Ports) != 2 {
				t.Fatalf("service %+v", svc)
			}
			if !selects(svc.Spec.Selector, d.Spec.Template.Labels) {
				t.Errorf("the Service does not select the gateway's pods")
			}
			if cm := r.configMaps["rel-sluice"]; cm == nil || cm.Data["sluice.toml"] == "" {
				t.Error("no sluice.toml ConfigMap")
			}
			for _, p := range r.pdbs {
				if !selects(p.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
					t.Error("PDB does not select the gateway")
				}
			}
			for _, h := range r.hpas {
				if h.Spec.ScaleTargetRef.Name != d.Name || h.Spec.ScaleTargetRef.Kind != "Deployment" || h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 2 {
					t.Errorf("HPA %+v", h.Spec)
				}
				if d.Spec.Replicas != nil {
					t.Error("replicas set on a Deployment the HPA scales")
				}
			}
			if rd := r.deployments["rel-sluice-redis"]; rd != nil {
				if selects(d.Spec.Selector.MatchLabels, rd.Spec.Template.Labels) || selects(svc.Spec.Selector, rd.Spec.Template.Labels) {
					t.Error("the gateway's selectors match the Redis pods")
				}
				if r.services["rel-sluice-redis"] == nil {
					t.Error("Redis Deployment without a Service")
				}
				if c := rd.Spec.Template.Spec.Containers[0]; c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
					t.Error("Redis root file system writable")
				}
			}
			switch set {
			case "production":
				if len(r.hpas) != 1 || len(r.monitors) != 1 || len(r.netpols) != 2 || r.deployments["rel-sluice-redis"] == nil {
					t.Errorf("production objects: %v", r.kinds)
				}
				if m := r.monitors[0]; m.Spec.Endpoints[0].Port != "metrics" || m.Spec.Endpoints[0].Path != "/metrics" {
					t.Errorf("ServiceMonitor %+v", m.Spec)
				}
			case "default":
				if len(r.hpas)+len(r.monitors)+len(r.netpols)+len(r.secrets) != 0 || len(r.pdbs) != 1 {
					t.Errorf("default objects: %v", r.kinds)
				}
			case "secret-values-redis-url":
				if s := r.secrets["rel-sluice-keys"]; s == nil || s.StringData["OPENAI_API_KEY"] != "sk-test" {
					t.Errorf("chart Secret %+v", s)
				}
				if len(r.accounts) != 0 || len(r.pdbs) != 0 {
					t.Errorf("objects: %v", r.kinds)
				}
			}
		})
	}
}

func checkGateway(t *testing.T, set string, d *appsv1.Deployment) {
	t.Helper()
	ps := d.Spec.Template.Spec
	if len(ps.Containers) != 1 {
		t.Fatalf("%d containers", len(ps.Containers))
	}
	c := ps.Containers[0]
	psc := ps.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v", psc)
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("container securityContext %+v", sc)
	}
	if p := c.LivenessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/health" {
		t.Errorf("liveness %+v", p)
	}
	if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/ready" {
		t.Errorf("readiness %+v", p)
	}
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
		t.Error("no memory limit (GOMEMLIMIT is derived from it)")
	}
	// The config folder is mounted whole, so the kubelet's ..data swap reaches the watcher.
	mounted := false
	for _, m := range c.VolumeMounts {
		if m.MountPath == "/etc/sluice" {
			mounted = m.SubPath == "" && m.ReadOnly
		}
		if m.SubPath != "" {
			t.Errorf("subPath mount %s never sees updates", m.MountPath)
		}
	}
	if !mounted || strings.Join(c.Args, " ") != "serve -c /etc/sluice/sluice.toml" {
		t.Errorf("config mount/args: %v %v", c.VolumeMounts, c.Args)
	}
	// The kubelet must not kill a pod that is still within its drain.
	drain := cfgSeconds(t, set)
	if ps.TerminationGracePeriodSeconds == nil || *ps.TerminationGracePeriodSeconds <= drain {
		t.Errorf("terminationGracePeriodSeconds %v <= preStop + drain_delay + shutdown_timeout = %d", ps.TerminationGracePeriodSeconds, drain)
	}
	if pre := preStop(t, set); pre > 0 {
		if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Sleep.Seconds != pre {
			t.Errorf("preStop %+v, want a %ds sleep", c.Lifecycle, pre)
		}
	} else if c.Lifecycle != nil {
		t.Errorf("preStop set although disabled: %+v", c.Lifecycle)
	}
	if set != "secret-values-redis-url" && ps.TopologySpreadConstraints == nil {
		t.Error("no topologySpreadConstraints")
	}
}

// values returns the merged values of a set.
func values(t *testing.T, set string) chartutil.Values {
	t.Helper()
	base, err := chartutil.ReadValuesFile(filepath.Join(Dir(), "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	vals := base.AsMap()
	for _, f := range valueFiles(t, set) {
		v, err := chartutil.ReadValuesFile(f)
		if err != nil {
			t.Fatal(err)
		}
		vals = chartutil.CoalesceTables(v.AsMap(), vals)
	}
	return vals
}

func drainValue(t *testing.T, set, key string) int64 {
	t.Helper()
	v, err := values(t, set).PathValue("drain." + key)
	if err != nil {
		t.Fatal(err)
	}
	switch n := v.(type) {
	case float64:
		return int64(n)
	case int64:
		return n
	case int:
		return int64(n)
	}
	t.Fatalf("drain.%s is %T", key, v)
	return 0
}

func preStop(t *testing.T, set string) int64 { return drainValue(t, set, "preStopSleepSeconds") }

func cfgSeconds(t *testing.T, set string) int64 {
	return drainValue(t, set, "preStopSleepSeconds") + drainValue(t, set, "drainDelaySeconds") + drainValue(t, set, "shutdownTimeoutSeconds")
}

func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestConfigPassesCheck runs the real `sluice check` over the sluice.toml each values set
// renders, with the environment the pods get.
func TestConfigPassesCheck(t *testing.T) {
	bin, err := buildtest.Static()
	if err != nil {
		t.Fatal(err)
	}
	for set := range valueSets {
		t.Run(set, func(t *testing.T) {
			r := decode(t, set)
			path := filepath.Join(t.TempDir(), "sluice.toml")
			if err := os.WriteFile(path, []byte(r.configMaps["rel-sluice"].Data["sluice.toml"]), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "check", "-c", path)
			cmd.Env = append(os.Environ(), "REDIS_URL=redis://127.0.0.1:6379/0")
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "is valid") {
				t.Fatalf("sluice check: %v\n%s", err, out)
			}
			d := r.deployments["rel-sluice"]
			hasRedis := false
			for _, e := range d.Spec.Template.Spec.Containers[0].Env {
				hasRedis = hasRedis || e.Name == "REDIS_URL"
			}
			if want := strings.Contains(string(out), "redis") || strings.Contains(r.configMaps["rel-sluice"].Data["sluice.toml"], "[redis]"); want != hasRedis {
				t.Errorf("REDIS_URL in the pod env %v, [redis] in the config %v", hasRedis, want)
			}
		})
	}
}

// TestManifestsUpToDate: the plain manifests under deploy/manifests are what the chart
// renders now (`make manifests` rewrites them).
func TestManifestsUpToDate(t *testing.T) {
	want, err := Manifests()
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range want {
		got, err := os.ReadFile(filepath.Join(ManifestsDir(), name))
		if err != nil {
			t.Fatalf("%v (run make manifests)", err)
		}
		if string(got) != body {
			t.Errorf("deploy/manifests/%s is stale: run make manifests", name)
		}
	}
	entries, _ := os.ReadDir(ManifestsDir())
	if len(entries) != len(want) {
		t.Errorf("deploy/manifests holds %d files, the chart renders %d", len(entries), len(want))
	}
	for _, body := range want {
		if strings.Contains(body, "RELEASE-NAME") || strings.Contains(body, "<no value>") {
			t.Error("unrendered placeholder in the manifests")
		}
	}
}
