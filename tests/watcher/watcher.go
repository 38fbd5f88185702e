// Package watcher runs Eventing's real ApiServerSource receive adapter
// locally, configured as the ApiServerSource of rbac/push.yaml, so that
// tests and `make run` get real change notifications.
package watcher

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/knative-eventmesh/function/tests/child"
	"github.com/knative-eventmesh/function/tests/cluster"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// AdapterEnv names the adapter binary; the Makefile builds it and sets
// this.
const AdapterEnv = "EVENTMESH_ADAPTER"

// Watcher is a running adapter.
type Watcher struct {
	proc *child.Process
	dir  string
}

// Start runs the adapter with the identity of rbac/push.yaml's watcher
// ServiceAccount, sending to sink. pushYAML is the path of rbac/push.yaml;
// out receives the adapter's logs. The adapter sends nothing for the
// objects it finds at start, only for changes after.
func Start(ctx context.Context, c *cluster.Cluster, pushYAML, sink string, out io.Writer) (*Watcher, error) {
	path := os.Getenv(AdapterEnv)
	if path == "" {
		return nil, fmt.Errorf("%s is not set: run make, which builds Eventing's apiserver_receive_adapter", AdapterEnv)
	}
	config, err := Config(c.Config(), pushYAML)
	if err != nil {
		return nil, err
	}
	tok, err := c.Token(ctx, "knative-eventing", "eventmesh-watcher", 24*time.Hour)
	if err != nil {
		return nil, err
	}
	cfg := rest.AnonymousClientConfig(c.Config())
	cfg.BearerToken = tok
	dir, err := os.MkdirTemp("", "eventmesh-watcher-")
	if err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(dir, "watcher.kubeconfig")
	if err := c.WriteKubeconfig(kubeconfig, cfg); err != nil {
		return nil, err
	}
	cmd := exec.Command(path, "--kubeconfig="+kubeconfig)
	cmd.Env = append(os.Environ(),
		"NAME=eventmesh-changes", "NAMESPACE=knative-eventing", "K_SINK="+sink,
		"K_SOURCE_CONFIG="+config, "K_LOGGING_CONFIG={}", "K_OBSERVABILITY_CONFIG={}",
		// Its profiling server on a port of its own, not 8008 for every one.
		"PROFILING_PORT=0")
	cmd.Stdout, cmd.Stderr = out, out
	p, err := child.Start(cmd)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("starting the adapter: %w", err)
	}
	return &Watcher{proc: p, dir: dir}, nil
}

// Stop stops the adapter: SIGTERM, then SIGKILL after five seconds.
func (w *Watcher) Stop() error {
	defer os.RemoveAll(w.dir)
	_, err := w.proc.Stop(5 * time.Second)
	return err
}

// Config returns K_SOURCE_CONFIG for the ApiServerSource of pushYAML: its
// resources, mode and namespaces, as Eventing's controller passes them to
// the adapter.
func Config(admin *rest.Config, pushYAML string) (string, error) {
	src, err := apiServerSource(pushYAML)
	if err != nil {
		return "", err
	}
	client, err := discovery.NewDiscoveryClientForConfig(admin)
	if err != nil {
		return "", err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(client))
	resources, _, _ := unstructured.NestedSlice(src.Object, "spec", "resources")
	type watch struct {
		GVR schema.GroupVersionResource `json:"gvr"`
	}
	var watches []watch
	for _, r := range resources {
		m, _ := r.(map[string]any)
		apiVersion, _ := m["apiVersion"].(string)
		kind, _ := m["kind"].(string)
		gv, err := schema.ParseGroupVersion(apiVersion)
		if err != nil {
			return "", err
		}
		mapping, err := mapper.RESTMapping(gv.WithKind(kind).GroupKind(), gv.Version)
		if err != nil {
			return "", fmt.Errorf("mapping %s %s: %w", apiVersion, kind, err)
		}
		watches = append(watches, watch{GVR: mapping.Resource})
	}
	mode, _, _ := unstructured.NestedString(src.Object, "spec", "mode")
	_, allNamespaces, _ := unstructured.NestedMap(src.Object, "spec", "namespaceSelector")
	b, err := json.Marshal(map[string]any{
		"namespaces": []string{}, "allNamespaces": allNamespaces, "resources": watches, "mode": mode,
	})
	return string(b), err
}

// apiServerSource returns the ApiServerSource of a YAML file.
func apiServerSource(path string) (*unstructured.Unstructured, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("no ApiServerSource in %s", path)
			}
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		if obj["kind"] == "ApiServerSource" {
			return &unstructured.Unstructured{Object: obj}, nil
		}
	}
}
