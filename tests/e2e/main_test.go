// Package e2e tests the function end to end: the real function, behind
// func-go's HTTP service, against a real kube-apiserver with the Knative
// CRDs, with tokens issued by that API server and checked by its RBAC.
package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/knative-eventmesh/function/tests/cluster"
	"github.com/knative-eventmesh/function/tests/demo"
)

// Set up by TestMain.
var (
	testCluster *cluster.Cluster
	// adminKubeconfig authenticates with the admin's client certificate.
	adminKubeconfig string
	// readerToken is a token of rbac/'s Backstage reader ServiceAccount.
	readerToken string
)

func TestMain(m *testing.M) {
	cluster.Main(m, cluster.Options{ExtraCRDs: extraCRDs()}, func(c *cluster.Cluster) error {
		testCluster = c
		return setup(context.Background(), c)
	})
}

// setup applies rbac/ and the demo mesh, and gets the reader's token.
func setup(ctx context.Context, c *cluster.Cluster) error {
	var err error
	if adminKubeconfig, err = c.AdminKubeconfig(); err != nil {
		return err
	}
	if err := c.InstallRBAC(ctx, filepath.Join("..", "..", "rbac")); err != nil {
		return fmt.Errorf("applying rbac/: %w", err)
	}
	if err := c.Apply(ctx, []byte(extraRoles)); err != nil {
		return fmt.Errorf("applying roles of the extra kinds: %w", err)
	}
	if err := c.Apply(ctx, demo.YAML); err != nil {
		return fmt.Errorf("applying the demo mesh: %w", err)
	}
	if readerToken, err = c.Token(ctx, "knative-eventing", "eventmesh-reader", time.Hour); err != nil {
		return err
	}
	return waitForReader(ctx, c)
}

// extraRoles give the Backstage reader access to the extra kinds the way a
// cluster would: a source kind ships a read-only ClusterRole labelled
// duck.knative.dev/source (as Knative's own do), and for a channel kind the
// platform team adds one labelled eventmesh.knative.dev/aggregate-to-reader
// (the README says how).
const extraRoles = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: example-sources-observer
  labels:
    duck.knative.dev/source: "true"
rules:
- apiGroups: [example.com]
  resources: [widgetsources, gadgetsources, decoysources]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: eventmesh-reader-tubechannels
  labels:
    eventmesh.knative.dev/aggregate-to-reader: "true"
rules:
- apiGroups: [example.com]
  resources: [tubechannels]
  verbs: [get, list]
`
