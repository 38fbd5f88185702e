// Package knative tests the function as deployed on make knative's real
// cluster: func deploy onto Knative Serving with Traefik, scale to zero and
// back, the cluster-local route, push through a real ApiServerSource pod
// and SinkBinding, and Backstage reading the function at its ksvc URL.
//
// Run with make test-knative, after make knative. Without that cluster (as
// under make test) every test skips.
package knative

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/knative-eventmesh/function/tests/cluster"
	"github.com/knative-eventmesh/function/tests/knativeinstall"
	"k8s.io/client-go/tools/clientcmd"
)

// StateEnv names make knative's state folder; make test-knative sets it.
const StateEnv = "EVENTMESH_KNATIVE"

var (
	state       string           // the state folder
	testCluster *cluster.Cluster // the cluster, as admin
	readerToken string           // the Backstage reader's token
	podprobe    string           // the podprobe image
)

func TestMain(m *testing.M) {
	state = os.Getenv(StateEnv)
	if state == "" {
		fmt.Printf("skipping: %s is not set (make test-knative sets it, after make knative)\n", StateEnv)
		os.Exit(0)
	}
	if _, err := os.Stat(filepath.Join(state, "ready")); err != nil {
		fmt.Printf("FAIL: no cluster of make knative is ready in %s: run make knative first\n", state)
		os.Exit(1)
	}
	if err := setup(); err != nil {
		fmt.Println("FAIL:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// setup connects to the cluster and reads the reader's token and the
// podprobe image.
func setup() error {
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(state, "kubeconfig"))
	if err != nil {
		return fmt.Errorf("reading make knative's kubeconfig: %w", err)
	}
	if testCluster, err = cluster.Connect(cfg); err != nil {
		return err
	}
	image, err := os.ReadFile(filepath.Join(state, "podprobe-image"))
	if err != nil {
		return err
	}
	podprobe = string(image)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	readerToken, err = testCluster.Token(ctx, knativeinstall.FunctionNamespace, "eventmesh-reader", 2*time.Hour)
	if err != nil {
		return fmt.Errorf("the reader's token: %w", err)
	}
	return nil
}
