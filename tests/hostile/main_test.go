// Package hostile sends hostile requests to the real function (behind
// func-go's HTTP service, against a real API server) and checks that each
// gets its documented answer, that the function keeps serving, and that no
// token, nor any part of one, reaches the function's logs.
package hostile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/knative-eventmesh/function/tests/cluster"
	"github.com/knative-eventmesh/function/tests/demo"
)

// Set up by TestMain.
var (
	testCluster *cluster.Cluster
	// readerToken is a token of rbac/'s Backstage reader, which may read
	// the whole mesh.
	readerToken string
	// ownToken and ownKubeconfig are the function's own identity, rbac/'s
	// eventmesh ServiceAccount, as push uses it.
	ownToken, ownKubeconfig string
	// foreignToken is a reader token issued by another cluster.
	foreignToken string
	// expiredToken is the reader's token re-signed with this cluster's
	// key and an exp in the past; freshToken is the same with an exp in
	// the future, the control that shows the expiry is what is refused.
	expiredToken, freshToken string
)

const (
	eventing = "knative-eventing"
	reader   = "eventmesh-reader"
)

func TestMain(m *testing.M) {
	cluster.Main(m, cluster.Options{}, func(c *cluster.Cluster) error {
		testCluster = c
		return setup(context.Background(), c)
	})
}

// setup applies rbac/ and the demo mesh and gets the tokens, while another
// cluster starts to issue a token the first one must refuse.
func setup(ctx context.Context, c *cluster.Cluster) error {
	foreign := make(chan error, 1)
	go func() { foreign <- foreignReaderToken(ctx) }()

	err := func() error {
		if err := c.Apply(ctx, []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+eventing+"\n")); err != nil {
			return err
		}
		if err := c.ApplyKustomization(ctx, filepath.Join("..", "..", "rbac")); err != nil {
			return fmt.Errorf("applying rbac/: %w", err)
		}
		if err := c.Apply(ctx, demo.YAML); err != nil {
			return fmt.Errorf("applying the demo mesh: %w", err)
		}
		for _, sa := range []string{reader, "eventmesh"} {
			if err := c.WaitForAccess(ctx, "system:serviceaccount:"+eventing+":"+sa,
				authorizationv1.ResourceAttributes{Verb: "list", Group: "sources.knative.dev", Resource: "pingsources"}); err != nil {
				return err
			}
		}
		var err error
		if readerToken, err = c.Token(ctx, eventing, reader, time.Hour); err != nil {
			return err
		}
		if ownToken, err = c.Token(ctx, eventing, "eventmesh", 2*time.Hour); err != nil {
			return err
		}
		if ownKubeconfig, err = writeOwnKubeconfig(c, ownToken); err != nil {
			return err
		}
		key := c.ServiceAccountSigningKeyPath()
		if expiredToken, err = resign(readerToken, key, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)); err != nil {
			return fmt.Errorf("minting an expired token: %w", err)
		}
		if freshToken, err = resign(readerToken, key, time.Now(), time.Now().Add(time.Hour)); err != nil {
			return fmt.Errorf("minting a fresh token: %w", err)
		}
		return nil
	}()
	return errors.Join(err, <-foreign)
}

// foreignReaderToken starts a second cluster, gets a reader token there,
// and stops it: the token stays well-formed and unexpired, but no key of
// the first cluster signed it.
func foreignReaderToken(ctx context.Context) error {
	other, err := cluster.Start(ctx, cluster.Options{})
	if err != nil {
		return fmt.Errorf("starting a second cluster: %w", err)
	}
	foreignToken, err = other.Token(ctx, eventing, reader, time.Hour)
	return errors.Join(err, other.Stop())
}

// writeOwnKubeconfig writes a kubeconfig that authenticates with token
// alone, in namespace knative-eventing, as the function has in its Pod.
func writeOwnKubeconfig(c *cluster.Cluster, token string) (string, error) {
	cfg := rest.AnonymousClientConfig(c.Config())
	cfg.BearerToken = token
	dir, err := os.MkdirTemp("", "eventmesh-hostile-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "eventmesh.kubeconfig")
	if err := c.WriteKubeconfig(path, cfg); err != nil {
		return "", err
	}
	kc, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return "", err
	}
	for _, ctx := range kc.Contexts {
		ctx.Namespace = eventing
	}
	return path, clientcmd.WriteToFile(*kc, path)
}
