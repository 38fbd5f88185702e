// Package push tests mesh-changed announcements end to end: Eventing's
// real ApiServerSource adapter watches a real API server and notifies the
// function, which announces to a real CloudEvents receiver.
package push

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/knative-eventmesh/function/tests/cluster"
	"github.com/knative-eventmesh/function/tests/functest"
)

var (
	testCluster *cluster.Cluster
	// ownKubeconfig is the function's own identity: rbac/'s eventmesh
	// ServiceAccount, in namespace knative-eventing.
	ownKubeconfig string
	ownToken      string
	// adminKubeconfig is the cluster's admin, for kubectl.
	adminKubeconfig string
	admin           kubernetes.Interface
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
	if err := c.InstallRBAC(ctx, filepath.Join("..", "..", "rbac")); err != nil {
		return err
	}
	if ownToken, err = c.Token(ctx, "knative-eventing", "eventmesh", 2*time.Hour); err != nil {
		return err
	}
	cfg := rest.AnonymousClientConfig(c.Config())
	cfg.BearerToken = ownToken
	dir, err := os.MkdirTemp("", "eventmesh-push-")
	if err != nil {
		return err
	}
	adminKubeconfig = filepath.Join(dir, "admin.kubeconfig")
	if err := c.WriteKubeconfig(adminKubeconfig, nil); err != nil {
		return err
	}
	ownKubeconfig = filepath.Join(dir, "eventmesh.kubeconfig")
	if err := c.WriteKubeconfig(ownKubeconfig, cfg); err != nil {
		return err
	}
	// As in a Pod, the function's namespace is knative-eventing.
	kc, err := clientcmd.LoadFromFile(ownKubeconfig)
	if err != nil {
		return err
	}
	for _, ctx := range kc.Contexts {
		ctx.Namespace = "knative-eventing"
	}
	return clientcmd.WriteToFile(*kc, ownKubeconfig)
}

// startFunction starts a function with push on, announcing to sink.
func startFunction(t *testing.T, sink string, env ...string) *functest.Function {
	t.Helper()
	m := map[string]string{
		"KUBECONFIG":     ownKubeconfig,
		"K_SINK":         sink,
		"K_SERVICE":      "eventmesh",
		"CLUSTER_NAME":   "test-cluster",
		"PUSH_DEBOUNCE":  "300ms",
		"PUSH_CLAIM_TTL": "3s",
		"LOG_LEVEL":      "debug",
	}
	for i := 0; i+1 < len(env); i += 2 {
		m[env[i]] = env[i+1]
	}
	return functest.Start(t, m)
}

// resetState empties the data of the state ConfigMap, as before the first
// announcement, and keeps its metadata.
func resetState(t *testing.T) {
	t.Helper()
	cm := stateConfigMap(t)
	cm.Data, cm.BinaryData = nil, nil
	if _, err := admin.CoreV1().ConfigMaps("knative-eventing").Update(context.Background(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// stateConfigMap returns the state ConfigMap.
func stateConfigMap(t *testing.T) *corev1.ConfigMap {
	t.Helper()
	cm, err := admin.CoreV1().ConfigMaps("knative-eventing").Get(context.Background(), "eventmesh-state", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

// stateDigest returns the digest the state ConfigMap records.
func stateDigest(t *testing.T) string {
	t.Helper()
	return stateConfigMap(t).Data["digest"]
}

// waitForState waits until the state records digest: the function
// records an announcement just after the sink accepted it.
func waitForState(t *testing.T, digest string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for got := stateDigest(t); got != digest; got = stateDigest(t) {
		if time.Now().After(deadline) {
			t.Fatalf("state digest %q, want %q after delivery", got, digest)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// notify POSTs a change notification to a function, as a PingSource
// would.
func notify(t *testing.T, fn *functest.Function) {
	t.Helper()
	notifyURL(t, fn.URL)
}

// notifyURL POSTs a change notification to the function at url.
func notifyURL(t *testing.T, url string) {
	t.Helper()
	if err := functest.Notify(url); err != nil {
		t.Fatal(err)
	}
}

// apply applies YAML with {{ns}} replaced.
func apply(t *testing.T, ns, yaml string) {
	t.Helper()
	if err := testCluster.Apply(context.Background(), []byte(strings.ReplaceAll(yaml, "{{ns}}", ns))); err != nil {
		t.Fatal(err)
	}
}

// newNamespace creates a namespace for one test.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := "push-" + randomID()[:8]
	apply(t, ns, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ns}}\n")
	return ns
}

func broker(name string) string {
	return fmt.Sprintf("---\napiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata:\n  name: %s\n  namespace: {{ns}}\n", name)
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// meshBody returns GET /v1/getEventMesh with the function's own token: the
// mesh push announces.
func meshBody(t *testing.T, fn *functest.Function) []byte {
	t.Helper()
	r := fn.Get(t, "/v1/getEventMesh", ownToken)
	if r.Status != http.StatusOK {
		t.Fatalf("mesh with the function's own token: %d %s", r.Status, r.Body)
	}
	return r.Body
}
