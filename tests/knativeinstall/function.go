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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
)

// The function's Knative Service, as func.yaml deploys it.
const (
	FunctionNamespace = "knative-eventing"
	FunctionName      = "eventmesh"
)

// KsvcResource is the resource of Knative Services.
var KsvcResource = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}

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

// Function deploys the function as the README does: rbac/ applied (as
// kubectl apply -k rbac/ would), the SinkBinding pointed at the sink of
// Sink, then func deploy of the repository as committed. It waits until
// the Knative Service is Ready.
func Function(ctx context.Context, c *cluster.Cluster, d Deploy) error {
	if err := c.InstallRBAC(ctx, filepath.Join(d.Repo, "rbac")); err != nil {
		return fmt.Errorf("applying rbac/: %w", err)
	}
	if err := pointSinkBinding(ctx, c.Dynamic()); err != nil {
		return err
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
	return WaitForKsvc(ctx, c.Dynamic(), FunctionNamespace, FunctionName, 5*time.Minute)
}

// pointSinkBinding sends the function's announcements to the sink
// Service, as the README's kubectl patch does for another sink.
func pointSinkBinding(ctx context.Context, dyn dynamic.Interface) error {
	gvr := schema.GroupVersionResource{Group: "sources.knative.dev", Version: "v1", Resource: "sinkbindings"}
	patch := []byte(`{"spec":{"sink":{"ref":{"apiVersion":"v1","kind":"Service","name":"sink","namespace":"eventmesh-sink"}}}}`)
	_, err := dyn.Resource(gvr).Namespace(FunctionNamespace).Patch(ctx, "eventmesh-announcements", types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("pointing the SinkBinding at the sink: %w", err)
	}
	return nil
}

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

// WaitForKsvc waits, up to timeout, until a Knative Service is Ready.
func WaitForKsvc(ctx context.Context, dyn dynamic.Interface, namespace, name string, timeout time.Duration) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		ksvc, err := dyn.Resource(KsvcResource).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		ready, msg := ReadyCondition(ksvc)
		last = msg
		return ready, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for ksvc %s/%s to be Ready (last: %s): %w", namespace, name, last, err)
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
