package push

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// AdapterEnv names the ApiServerSource receive adapter binary; the
// Makefile builds it and sets this.
const AdapterEnv = "EVENTMESH_ADAPTER"

// startAdapter runs Eventing's real ApiServerSource receive adapter, as
// the ApiServerSource of rbac/push.yaml configures it, with the identity of
// rbac/push.yaml's watcher ServiceAccount, sending to sink. It stops when
// the test ends.
func startAdapter(t *testing.T, sink string) {
	t.Helper()
	path := os.Getenv(AdapterEnv)
	if path == "" {
		t.Fatalf("%s is not set: run make test, which builds Eventing's apiserver_receive_adapter", AdapterEnv)
	}
	config, err := adapterConfig()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := testCluster.Token(context.Background(), "knative-eventing", "eventmesh-watcher", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.AnonymousClientConfig(testCluster.Config())
	cfg.BearerToken = tok
	kubeconfig := filepath.Join(t.TempDir(), "watcher.kubeconfig")
	if err := testCluster.WriteKubeconfig(kubeconfig, cfg); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(path, "--kubeconfig="+kubeconfig)
	cmd.Env = append(os.Environ(),
		"NAME=eventmesh-changes", "NAMESPACE=knative-eventing", "K_SINK="+sink,
		"K_SOURCE_CONFIG="+config, "K_LOGGING_CONFIG={}", "K_OBSERVABILITY_CONFIG={}")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the adapter: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("adapter output:\n%s", out.String())
		}
	})
}

// adapterConfig returns K_SOURCE_CONFIG for the ApiServerSource of
// rbac/push.yaml: its resources, mode and namespaces, as Eventing's
// controller would pass them to the adapter.
func adapterConfig() (string, error) {
	data, err := os.ReadFile(filepath.Join("..", "..", "rbac", "push.yaml"))
	if err != nil {
		return "", err
	}
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var src *unstructured.Unstructured
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			break
		}
		if obj["kind"] == "ApiServerSource" {
			src = &unstructured.Unstructured{Object: obj}
		}
	}
	if src == nil {
		return "", fmt.Errorf("no ApiServerSource in rbac/push.yaml")
	}
	client, err := discovery.NewDiscoveryClientForConfig(testCluster.Config())
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
