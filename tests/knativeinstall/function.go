package knativeinstall

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/knative-eventmesh/function/tests/cluster"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
)

// The function's Knative Service, as func.yaml deploys it.
const (
	FunctionNamespace = "knative-eventing"
	FunctionName      = "eventmesh"
)

// Deploy describes how the function is deployed.
type Deploy struct {
	// Func is the func CLI.
	Func string
	// Repo is the repository's root; Dir is a folder to copy it into,
	// where func deploy runs (and writes into func.yaml).
	Repo, Dir string
	// Kubeconfig is the admin kubeconfig func deploy uses.
	Kubeconfig string
	// Registry is the registry host func deploy pushes the image to.
	Registry string
	// Log receives func deploy's output.
	Log *os.File
}

// Resources of the objects the deployment waits for.
var (
	KsvcResource        = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}
	BrokerResource      = schema.GroupVersionResource{Group: "eventing.knative.dev", Version: "v1", Resource: "brokers"}
	SinkBindingResource = schema.GroupVersionResource{Group: "sources.knative.dev", Version: "v1", Resource: "sinkbindings"}
	APISourceResource   = schema.GroupVersionResource{Group: "sources.knative.dev", Version: "v1", Resource: "apiserversources"}
	PingSourceResource  = schema.GroupVersionResource{Group: "sources.knative.dev", Version: "v1", Resource: "pingsources"}
	EventPolicyResource = schema.GroupVersionResource{Group: "eventing.knative.dev", Version: "v1alpha1", Resource: "eventpolicies"}
)

// Function deploys the function as the README does: rbac/ applied (as
// kubectl apply -k rbac/ would), then func deploy of the repository as
// committed. It waits until the Knative Service, the SinkBinding and the
// push sources are Ready.
func Function(ctx context.Context, c *cluster.Cluster, d Deploy) error {
	if err := c.InstallRBAC(ctx, filepath.Join(d.Repo, "rbac")); err != nil {
		return fmt.Errorf("applying rbac/: %w", err)
	}
	if err := Checkout(d.Repo, d.Dir); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, d.Func, "deploy", "--builder", "host",
		"--registry", d.Registry+"/knative-eventmesh", "--registry-insecure")
	cmd.Dir = d.Dir
	cmd.Env = append(os.Environ(), "KUBECONFIG="+d.Kubeconfig, "GOFLAGS=-mod=mod")
	cmd.Stdout, cmd.Stderr = d.Log, d.Log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("func deploy (output in %s): %w", d.Log.Name(), err)
	}
	for _, o := range []struct {
		gvr  schema.GroupVersionResource
		name string
	}{
		{SinkBindingResource, "eventmesh-announcements"},
		{APISourceResource, "eventmesh-changes"},
		{PingSourceResource, "eventmesh-resync"},
		{KsvcResource, FunctionName},
	} {
		if err := WaitForReady(ctx, c.Dynamic(), o.gvr, FunctionNamespace, o.name, 5*time.Minute); err != nil {
			return err
		}
	}
	return nil
}

// Announcements makes the sink of rbac/push.yaml's SinkBinding real: the
// Broker default of knative-eventing and a Trigger from it to the sink
// Service of Sink. It waits until the Broker is Ready.
func Announcements(ctx context.Context, c *cluster.Cluster) error {
	if err := c.ApplySpec(ctx, []byte(announcementsYAML)); err != nil {
		return fmt.Errorf("applying the Broker default and its Trigger: %w", err)
	}
	return WaitForReady(ctx, c.Dynamic(), BrokerResource, FunctionNamespace, "default", 3*time.Minute)
}

// Policy applies rbac/announcements-policy.yaml, which lets only the
// function's OIDC identity send to the Broker default, once the
// SinkBinding it names has that identity. It waits until the policy is
// Ready.
func Policy(ctx context.Context, c *cluster.Cluster, repo string) error {
	policy, err := os.ReadFile(filepath.Join(repo, "rbac", "announcements-policy.yaml"))
	if err != nil {
		return err
	}
	if err := c.ApplySpec(ctx, policy); err != nil {
		return fmt.Errorf("applying rbac/announcements-policy.yaml: %w", err)
	}
	return WaitForReady(ctx, c.Dynamic(), EventPolicyResource, FunctionNamespace, "eventmesh-announcements", 3*time.Minute)
}

// announcementsYAML is the Broker default and a Trigger that delivers the
// announcements to the sink.
const announcementsYAML = `
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default, namespace: knative-eventing}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: eventmesh-to-sink, namespace: knative-eventing}
spec:
  broker: default
  filter:
    attributes: {type: dev.knative.eventmesh.changed}
  subscriber:
    uri: http://sink.eventmesh-sink.svc.cluster.local
---
`

// Checkout copies the files git tracks in repo into dir, emptied first:
// the repository as committed, without build output.
func Checkout(repo, dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmd := exec.Command("sh", "-c", fmt.Sprintf("git ls-files -z | tar --null -T - -cf - | tar -xf - -C %q", dir))
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("copying the repository: %w: %s", err, out)
	}
	return nil
}

// WaitForReady waits, up to timeout, until an object is Ready.
func WaitForReady(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, namespace, name string, timeout time.Duration) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		obj, err := dyn.Resource(gvr).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		ready, msg := ReadyCondition(obj)
		last = msg
		return ready, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s %s/%s to be Ready (last: %s): %w", gvr.Resource, namespace, name, last, err)
	}
	return nil
}

// ReadyCondition returns whether an object's Ready condition is True, and
// its status, reason and message.
func ReadyCondition(obj *unstructured.Unstructured) (bool, string) {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != "Ready" {
			continue
		}
		return m["status"] == "True", fmt.Sprintf("Ready=%v %v: %v", m["status"], m["reason"], m["message"])
	}
	return false, "no Ready condition"
}
