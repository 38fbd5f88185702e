// Package asyncapi checks the function's AsyncAPI documents with
// AsyncAPI's own tools, installed from npm (package-lock.json here):
// @asyncapi/parser parses every document the tests make, and
// @asyncapi/react-component, the component Backstage's API docs use,
// renders the demo's in headless Chromium (Debian's package).
//
// The documents: the demo mesh (tests/demo, the shop of the end-to-end
// tests) and each of its EventTypes' own, the mesh of make bench at 10 000
// Triggers, and the mesh with every kind and the fuzz corpus of the
// asyncapi package (written by its TestCorpusDocuments).
package asyncapi

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"

	"github.com/knative-eventmesh/function/tests/benchmesh"
	"github.com/knative-eventmesh/function/tests/cluster"
)

// benchTriggers is the size of make bench's mesh the parser reads.
const benchTriggers = 10000

// Set up by TestMain.
var (
	testCluster     *cluster.Cluster
	adminKubeconfig string
	readerToken     string
	// seeded is how long seeding the bench mesh took.
	seeded time.Duration
)

func TestMain(m *testing.M) {
	cluster.Main(m, cluster.Options{}, func(c *cluster.Cluster) error {
		testCluster = c
		return setup(context.Background(), c)
	})
}

// setup applies rbac/, the demo mesh and make bench's mesh of
// benchTriggers Triggers, in namespaces of its own.
func setup(ctx context.Context, c *cluster.Cluster) error {
	var err error
	if adminKubeconfig, err = c.AdminKubeconfig(); err != nil {
		return err
	}
	if readerToken, err = c.InstallDemo(ctx, filepath.Join("..", "..", "rbac")); err != nil {
		return err
	}
	seeder := &benchmesh.Seeder{Dyn: c.Dynamic(), Workers: 16}
	if seeded, err = seeder.Grow(ctx, benchTriggers); err != nil {
		return fmt.Errorf("seeding the bench mesh: %w", err)
	}
	return c.WaitForAccess(ctx, "system:serviceaccount:knative-eventing:eventmesh-reader",
		authorizationv1.ResourceAttributes{Verb: "list", Group: "sources.knative.dev", Resource: "pingsources"})
}
