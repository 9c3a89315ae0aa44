package main

import (
	"encoding/base64"
	"io"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// gatewayEnv returns every environment variable the gateway reads.
func gatewayEnv(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{}
	_, err := parseFlags(nil, func(k string) string { known[k] = true; return "" }, io.Discard)
	require.NoError(t, err)
	require.NotEmpty(t, known)
	return known
}

// port returns the port of a listen address, failing the test when its host
// is a loopback address (unreachable from outside a container).
func port(t *testing.T, what, addr string) int {
	t.Helper()
	host, p, err := net.SplitHostPort(addr)
	require.NoError(t, err, "%s %q", what, addr)
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		t.Fatalf("%s %q listens on loopback only: unreachable from outside the container", what, addr)
	}
	n, err := strconv.Atoi(p)
	require.NoError(t, err, "%s %q", what, addr)
	return n
}

// The parts of Kubernetes objects docs/deploy/kubernetes.yaml uses.
type (
	k8sObject struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
		Data       map[string]string `json:"data"`
		StringData map[string]string `json:"stringData"`
		Spec       struct {
			// Deployment
			Replicas int `json:"replicas"`
			Template struct {
				Metadata struct {
					Labels map[string]string `json:"labels"`
				} `json:"metadata"`
				Spec podSpec `json:"spec"`
			} `json:"template"`
			// Deployment (matchLabels), Service (the labels themselves)
			Selector map[string]any `json:"selector"`
			// Service
			Ports []struct {
				Port       int `json:"port"`
				TargetPort any `json:"targetPort"`
			} `json:"ports"`
		} `json:"spec"`
	}
	podSpec struct {
		TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds"`
		SecurityContext               struct {
			RunAsNonRoot *bool `json:"runAsNonRoot"`
			RunAsUser    *int  `json:"runAsUser"`
		} `json:"securityContext"`
		Containers []k8sContainer `json:"containers"`
	}
	k8sContainer struct {
		Name    string   `json:"name"`
		Image   string   `json:"image"`
		Command []string `json:"command"`
		Args    []string `json:"args"`
		Ports   []struct {
			Name          string `json:"name"`
			ContainerPort int    `json:"containerPort"`
		} `json:"ports"`
		Env []struct {
			Name      string `json:"name"`
			Value     string `json:"value"`
			ValueFrom *struct {
				SecretKeyRef *struct {
					Name string `json:"name"`
					Key  string `json:"key"`
				} `json:"secretKeyRef"`
			} `json:"valueFrom"`
		} `json:"env"`
		EnvFrom        []any     `json:"envFrom"`
		LivenessProbe  *k8sProbe `json:"livenessProbe"`
		ReadinessProbe *k8sProbe `json:"readinessProbe"`
		Resources      struct {
			Requests map[string]string `json:"requests"`
			Limits   map[string]string `json:"limits"`
		} `json:"resources"`
		SecurityContext struct {
			AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation"`
			ReadOnlyRootFilesystem   *bool `json:"readOnlyRootFilesystem"`
			Capabilities             struct {
				Drop []string `json:"drop"`
			} `json:"capabilities"`
		} `json:"securityContext"`
	}
	k8sProbe struct {
		HTTPGet *struct {
			Path string `json:"path"`
			Port any    `json:"port"`
		} `json:"httpGet"`
		PeriodSeconds    int `json:"periodSeconds"`
		TimeoutSeconds   int `json:"timeoutSeconds"`
		FailureThreshold int `json:"failureThreshold"`
	}
)

// containerPort resolves a probe's or Service's port (a name or a number) to
// the container's port number.
func (c *k8sContainer) containerPort(t *testing.T, p any) int {
	t.Helper()
	for _, cp := range c.Ports {
		switch v := p.(type) {
		case string:
			if cp.Name == v {
				return cp.ContainerPort
			}
		case float64:
			if cp.ContainerPort == int(v) {
				return cp.ContainerPort
			}
		}
	}
	t.Fatalf("port %v is not a port of container %s", p, c.Name)
	return 0
}

// TestKubernetesManifest reads docs/deploy/kubernetes.yaml as kubectl would
// and checks it against the gateway: every setting is one the gateway
// accepts (parsed with its own flag parser), the probes ask the paths and
// port it serves them on, the Services reach its listeners, and it runs as
// docs/deploy.md says (two replicas or more on PostgreSQL and Redis, non-root,
// read-only root file system, resources set).
func TestKubernetesManifest(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../docs/deploy/kubernetes.yaml")
	require.NoError(t, err)
	var objs []k8sObject
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(raw), -1) {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")) == "" {
			continue
		}
		var o k8sObject
		require.NoError(t, yaml.Unmarshal([]byte(doc), &o), "document:\n%s", doc)
		require.NotEmpty(t, o.Kind, "document:\n%s", doc)
		objs = append(objs, o)
	}
	byKind := map[string][]k8sObject{}
	for _, o := range objs {
		byKind[o.Kind] = append(byKind[o.Kind], o)
	}
	require.Len(t, byKind["Deployment"], 1)
	require.NotEmpty(t, byKind["Secret"])
	require.NotEmpty(t, byKind["Service"])
	secrets := map[string]map[string]string{}
	for _, s := range byKind["Secret"] {
		vals := map[string]string{}
		for k, v := range s.Data {
			b, err := base64.StdEncoding.DecodeString(v)
			require.NoError(t, err, "Secret %s data %s", s.Metadata.Name, k)
			vals[k] = string(b)
		}
		for k, v := range s.StringData {
			vals[k] = v
		}
		secrets[s.Metadata.Name] = vals
	}

	dep := byKind["Deployment"][0]
	require.GreaterOrEqual(t, dep.Spec.Replicas, 2, "replicas")
	labels := dep.Spec.Template.Metadata.Labels
	match, _ := dep.Spec.Selector["matchLabels"].(map[string]any)
	require.NotEmpty(t, match, "the Deployment's selector")
	for k, v := range match {
		require.Equal(t, v, labels[k], "the Deployment's selector matches its pods")
	}
	pod := dep.Spec.Template.Spec
	require.Len(t, pod.Containers, 1)
	c := &pod.Containers[0]
	require.NotEmpty(t, c.Image)
	require.Empty(t, c.EnvFrom, "envFrom hides which variables are set: name each one")
	require.True(t, len(c.Command) == 0 || slices.Equal(c.Command, []string{"/gateway"}), "command %q: the image's entry point is /gateway", c.Command)

	// Every variable is one the gateway reads, with a value from the file.
	known := gatewayEnv(t)
	env := map[string]string{}
	for _, e := range c.Env {
		require.True(t, known[e.Name], "env %s is not a variable the gateway reads", e.Name)
		_, dup := env[e.Name]
		require.False(t, dup, "env %s set twice", e.Name)
		v := e.Value
		if e.ValueFrom != nil {
			ref := e.ValueFrom.SecretKeyRef
			require.NotNil(t, ref, "env %s: only values and secretKeyRef are checked", e.Name)
			vals, ok := secrets[ref.Name]
			require.True(t, ok, "env %s: no Secret %s in the file", e.Name, ref.Name)
			v, ok = vals[ref.Key]
			require.True(t, ok, "env %s: Secret %s has no key %s", e.Name, ref.Name, ref.Key)
		}
		env[e.Name] = v
	}
	o, err := parseFlags(c.Args, envFunc(env), io.Discard)
	require.NoError(t, err, "the gateway refuses the container's settings")
	require.True(t, strings.HasPrefix(o.store, "postgres://"), "store %q: replicas share PostgreSQL", redact(o.store))
	require.True(t, strings.HasPrefix(o.limiter, "redis://") || strings.HasPrefix(o.limiter, "rediss://"), "limiter %q: replicas share Redis", redact(o.limiter))
	for _, name := range []string{"GATEHOUSE_ADMIN_KEY", "GATEHOUSE_SECRET_KEYS", "GATEHOUSE_STORE", "GATEHOUSE_LIMITER"} {
		for _, e := range c.Env {
			if e.Name == name {
				require.NotNil(t, e.ValueFrom, "%s carries a secret: from a Secret, not a value", name)
			}
		}
	}
	dataPort, adminPort := port(t, "-listen", o.listen), port(t, "-admin-listen", o.adminListen)
	require.Equal(t, dataPort, c.containerPort(t, "http"))
	require.Equal(t, adminPort, c.containerPort(t, "admin"))

	// The probes: the paths and port the gateway serves them on.
	for _, p := range []struct {
		name  string
		probe *k8sProbe
		path  string
	}{{"livenessProbe", c.LivenessProbe, healthzPath}, {"readinessProbe", c.ReadinessProbe, readyzPath}} {
		require.NotNil(t, p.probe, p.name)
		require.NotNil(t, p.probe.HTTPGet, "%s: httpGet", p.name)
		require.Equal(t, p.path, p.probe.HTTPGet.Path, p.name)
		require.Equal(t, adminPort, c.containerPort(t, p.probe.HTTPGet.Port), "%s: on the admin listener", p.name)
		require.Positive(t, p.probe.PeriodSeconds, p.name)
		require.Positive(t, p.probe.TimeoutSeconds, p.name)
		require.Less(t, p.probe.TimeoutSeconds, p.probe.PeriodSeconds, "%s: a probe ends before the next", p.name)
		require.Positive(t, p.probe.FailureThreshold, p.name)
	}
	live, ready := c.LivenessProbe, c.ReadinessProbe
	require.GreaterOrEqual(t, live.PeriodSeconds*live.FailureThreshold, ready.PeriodSeconds*ready.FailureThreshold,
		"a pod that stops answering leaves the Service before it is restarted")

	require.NotNil(t, pod.TerminationGracePeriodSeconds)
	require.Greater(t, time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second, o.shutdownTimeout,
		"the grace period leaves the gateway its -shutdown-timeout")
	require.NotEmpty(t, c.Resources.Requests["cpu"])
	require.NotEmpty(t, c.Resources.Requests["memory"])
	require.NotEmpty(t, c.Resources.Limits["memory"])
	require.True(t, pod.SecurityContext.RunAsNonRoot != nil && *pod.SecurityContext.RunAsNonRoot, "runAsNonRoot")
	require.True(t, pod.SecurityContext.RunAsUser != nil && *pod.SecurityContext.RunAsUser != 0, "runAsUser")
	sc := c.SecurityContext
	require.True(t, sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem, "readOnlyRootFilesystem")
	require.True(t, sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation, "allowPrivilegeEscalation")
	require.Contains(t, sc.Capabilities.Drop, "ALL")

	// The Services reach the pods' listeners; the one named as the
	// Deployment carries the data plane.
	for _, svc := range byKind["Service"] {
		require.NotEmpty(t, svc.Spec.Selector, "Service %s", svc.Metadata.Name)
		for k, v := range svc.Spec.Selector {
			require.Equal(t, v, labels[k], "Service %s selects the gateway's pods", svc.Metadata.Name)
		}
		require.NotEmpty(t, svc.Spec.Ports)
		for _, p := range svc.Spec.Ports {
			target := c.containerPort(t, p.TargetPort)
			require.Contains(t, []int{dataPort, adminPort}, target)
			if svc.Metadata.Name == dep.Metadata.Name {
				require.Equal(t, dataPort, target, "Service %s: the data plane", svc.Metadata.Name)
			}
		}
	}
}
