package catalog

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/knative-eventmesh/function/tests/cluster"
	"github.com/knative-eventmesh/function/tests/demo"
)

var (
	testCluster     *cluster.Cluster
	adminKubeconfig string
	// ownToken is the function's own identity: rbac/'s eventmesh
	// ServiceAccount.
	ownToken string
	// readerToken is what Backstage's providers call the function with.
	readerToken string
	// installTook is how long npm ci of backstage/ took (zero: up to date).
	installTook time.Duration
)

func TestMain(m *testing.M) {
	cluster.Main(m, cluster.Options{}, func(c *cluster.Cluster) error {
		testCluster = c
		return setup(context.Background(), c)
	})
}

func setup(ctx context.Context, c *cluster.Cluster) error {
	installCtx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	var err error
	if installTook, err = Install(installCtx); err != nil {
		return err
	}
	if err := c.InstallRBAC(ctx, filepath.Join("..", "..", "rbac")); err != nil {
		return err
	}
	// The demo mesh (namespaces shop and finance), for the comparison of
	// the two providers.
	if err := c.Apply(ctx, demo.YAML); err != nil {
		return fmt.Errorf("applying the demo mesh: %w", err)
	}
	if adminKubeconfig, err = c.AdminKubeconfig(); err != nil {
		return err
	}
	if ownToken, err = c.Token(ctx, "knative-eventing", "eventmesh", 2*time.Hour); err != nil {
		return err
	}
	if readerToken, err = c.Token(ctx, "knative-eventing", "eventmesh-reader", 2*time.Hour); err != nil {
		return fmt.Errorf("the reader's token: %w", err)
	}
	return nil
}
