package push

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/knative-eventmesh/function/tests/functest"
	"github.com/knative-eventmesh/function/tests/watcher"
)

// startAdapter runs Eventing's real ApiServerSource receive adapter, as
// rbac/push.yaml configures it, sending to sink, until the test ends.
func startAdapter(t *testing.T, sink string) {
	t.Helper()
	out := &functest.Logs{}
	w, err := watcher.Start(context.Background(), testCluster, filepath.Join("..", "..", "rbac", "push.yaml"), sink, out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("adapter output:\n%s", out.String())
		}
	})
}
