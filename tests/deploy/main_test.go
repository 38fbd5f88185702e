// Package deploy tests what a platform engineer deploys: rbac/ against real
// RBAC, the function built by the real func CLI, and make run.
package deploy

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/knative-eventmesh/function/tests/cluster"
	"github.com/knative-eventmesh/function/tests/demo"
)

var (
	testCluster *cluster.Cluster
	admin       kubernetes.Interface
	// adminKubeconfig is the cluster's admin kubeconfig file.
	adminKubeconfig string
	// readerToken is read from the token Secret, as the README says.
	readerToken string
	// repoRoot is the repository's root directory.
	repoRoot = filepath.Join("..", "..")
)

func TestMain(m *testing.M) {
	cluster.Main(m, cluster.Options{}, func(c *cluster.Cluster) error {
		testCluster = c
		return setup(context.Background(), c)
	})
}

func setup(ctx context.Context, c *cluster.Cluster) error {
	var err error
	if admin, err = kubernetes.NewForConfig(c.Config()); err != nil {
		return err
	}
	if adminKubeconfig, err = c.AdminKubeconfig(); err != nil {
		return err
	}
	if err := c.InstallRBAC(ctx, filepath.Join(repoRoot, "rbac")); err != nil {
		return err
	}
	if err := c.Apply(ctx, demo.YAML); err != nil {
		return err
	}
	readerToken, err = secretToken(ctx, "eventmesh-reader-token")
	return err
}

// secretToken waits for the token controller to fill a token Secret of
// knative-eventing and returns the token.
func secretToken(ctx context.Context, name string) (string, error) {
	var tok string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		s, err := admin.CoreV1().Secrets("knative-eventing").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		tok = string(s.Data["token"])
		return tok != "", nil
	})
	if err != nil {
		return "", fmt.Errorf("waiting for the token of Secret %s: %w", name, err)
	}
	return tok, nil
}
