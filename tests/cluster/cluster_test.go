package cluster_test

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/knative-eventmesh/function/tests/cluster"
	authenticationv1 "k8s.io/api/authentication/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// testCluster is the cluster shared by the package's tests.
var testCluster *cluster.Cluster

func TestMain(m *testing.M) {
	cluster.Main(m, cluster.Options{}, func(c *cluster.Cluster) error {
		testCluster = c
		return nil
	})
}

var eventTypes = schema.GroupResource{Group: "eventing.knative.dev", Resource: "eventtypes"}

func TestCRDsEstablished(t *testing.T) {
	t.Parallel()
	client := apiextensionsclient.NewForConfigOrDie(testCluster.Config())
	for name, versions := range map[string][]string{
		"brokers.eventing.knative.dev":           {"v1"},
		"triggers.eventing.knative.dev":          {"v1"},
		"eventtypes.eventing.knative.dev":        {"v1beta2", "v1beta3"},
		"subscriptions.messaging.knative.dev":    {"v1"},
		"channels.messaging.knative.dev":         {"v1"},
		"inmemorychannels.messaging.knative.dev": {"v1"},
		"pingsources.sources.knative.dev":        {"v1"},
		"apiserversources.sources.knative.dev":   {"v1"},
		"services.serving.knative.dev":           {"v1"},
	} {
		crd, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			t.Error(err)
			continue
		}
		if !established(crd) {
			t.Errorf("CRD %s is not established: %+v", name, crd.Status.Conditions)
		}
		for _, v := range versions {
			if !served(crd, v) {
				t.Errorf("CRD %s does not serve %s", name, v)
			}
		}
		if conv := crd.Spec.Conversion; conv != nil && conv.Strategy != apiextensionsv1.NoneConverter {
			t.Errorf("CRD %s has conversion strategy %s, want None", name, conv.Strategy)
		}
	}
}

func TestTokenRequest(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const ns, sa = "token-test", "reader"
	token, err := testCluster.Token(ctx, ns, sa, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := testCluster.Token(ctx, ns, sa, 0); err != nil {
		t.Fatalf("second token for the same service account: %v", err)
	}

	// Use the token through a kubeconfig file, as the function would.
	cfg := rest.AnonymousClientConfig(testCluster.Config())
	cfg.BearerToken = token
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := testCluster.WriteKubeconfig(path, cfg); err != nil {
		t.Fatal(err)
	}
	cfg, err = clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}

	review, err := kubernetes.NewForConfigOrDie(cfg).AuthenticationV1().SelfSubjectReviews().
		Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := review.Status.UserInfo.Username, "system:serviceaccount:"+ns+":"+sa; got != want {
		t.Errorf("token authenticates as %q, want %q", got, want)
	}

	brokers := schema.GroupVersionResource{Group: "eventing.knative.dev", Version: "v1", Resource: "brokers"}
	_, err = dynamic.NewForConfigOrDie(cfg).Resource(brokers).Namespace(ns).List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `cannot list resource "brokers"`) {
		t.Errorf("listing brokers without RBAC: got %v, want RBAC's forbidden", err)
	}
}

func TestEventTypeVersions(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	err := testCluster.Apply(ctx, []byte(`
apiVersion: v1
kind: Namespace
metadata:
  name: eventtypes
---
apiVersion: eventing.knative.dev/v1beta2
kind: EventType
metadata:
  name: old
  namespace: eventtypes
spec:
  type: dev.example.old
  source: https://example.dev/old
---
# A comment-only document is skipped.
---
apiVersion: eventing.knative.dev/v1beta3
kind: EventType
metadata:
  name: new
  namespace: eventtypes
spec:
  attributes:
  - name: type
    value: dev.example.new
    required: true
`))
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(testCluster.Config())
	v2, err := dyn.Resource(eventTypes.WithVersion("v1beta2")).Namespace("eventtypes").Get(ctx, "old", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := unstructured.NestedString(v2.Object, "spec", "type"); got != "dev.example.old" {
		t.Errorf("v1beta2 EventType spec.type = %q, want dev.example.old", got)
	}
	// Storage is v1beta2 and, without Eventing's conversion webhook,
	// conversion only changes apiVersion: v1beta3's spec.attributes, which
	// v1beta2 lacks, is pruned when stored. TestOwnCluster stores v1beta3.
	v3, err := dyn.Resource(eventTypes.WithVersion("v1beta3")).Namespace("eventtypes").Get(ctx, "new", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if attrs, found, _ := unstructured.NestedSlice(v3.Object, "spec", "attributes"); found {
		t.Errorf("v1beta3 EventType stored as v1beta2 kept spec.attributes %v; has the CRD's storage version changed?", attrs)
	}
}

// TestOwnCluster starts a second cluster with a CRD variant, and checks that
// Stop leaves no process behind.
func TestOwnCluster(t *testing.T) {
	t.Parallel()
	before := children(t)
	start := time.Now()
	c, err := cluster.Start(t.Context(), cluster.Options{CRDFilter: eventTypeV1beta3Only})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("started in %v", time.Since(start))
	t.Cleanup(func() { c.Stop() }) // in case the test fails before Stop

	pids := slices.DeleteFunc(children(t), func(pid int) bool { return slices.Contains(before, pid) })
	if len(pids) != 2 {
		t.Errorf("new kube-apiserver and etcd processes: %v, want 2", pids)
	}

	t.Run("CRDFilter", func(t *testing.T) {
		client := apiextensionsclient.NewForConfigOrDie(c.Config())
		crds, err := client.ApiextensionsV1().CustomResourceDefinitions().List(t.Context(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(crds.Items) != 1 {
			t.Fatalf("got %d CRDs, want only eventtypes", len(crds.Items))
		}
		dyn := dynamic.NewForConfigOrDie(c.Config())
		_, err = dyn.Resource(eventTypes.WithVersion("v1beta2")).List(t.Context(), metav1.ListOptions{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("listing v1beta2 EventTypes: got %v, want not found", err)
		}
		// JSON works too.
		err = c.Apply(t.Context(), []byte(`{"apiVersion": "eventing.knative.dev/v1beta3", "kind": "EventType",
			"metadata": {"name": "e"}, "spec": {"attributes": [{"name": "type", "value": "dev.example.e"}]}}`))
		if err != nil {
			t.Fatal(err)
		}
		et, err := dyn.Resource(eventTypes.WithVersion("v1beta3")).Namespace("default").Get(t.Context(), "e", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := []any{map[string]any{"name": "type", "value": "dev.example.e"}}
		if got, _, _ := unstructured.NestedSlice(et.Object, "spec", "attributes"); !reflect.DeepEqual(got, want) {
			t.Errorf("v1beta3 EventType spec.attributes = %v, want %v", got, want)
		}
		crd, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(t.Context(), "eventtypes.eventing.knative.dev", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := crd.Status.StoredVersions; !slices.Equal(got, []string{"v1beta3"}) {
			t.Errorf("stored versions %v, want [v1beta3]", got)
		}
	})

	logs := c.LogPath()
	start = time.Now()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped in %v", time.Since(start))
	for _, pid := range pids {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			t.Errorf("process %d is still running after Stop", pid)
		}
	}
	if _, err := os.Stat(logs); !os.IsNotExist(err) {
		t.Errorf("log directory %s not removed: %v", logs, err)
	}
}

func TestMissingBinaries(t *testing.T) {
	t.Parallel()
	_, err := cluster.Start(t.Context(), cluster.Options{AssetsDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "make test") {
		t.Errorf("Start without binaries: got %v, want an error saying to run make test", err)
	}
}

// eventTypeV1beta3Only is a CRDFilter that keeps only the EventType CRD,
// storing v1beta3 and not serving v1beta2.
func eventTypeV1beta3Only(crd *apiextensionsv1.CustomResourceDefinition) bool {
	if crd.Name != "eventtypes.eventing.knative.dev" {
		return false
	}
	for i := range crd.Spec.Versions {
		v := &crd.Spec.Versions[i]
		v.Storage = v.Name == "v1beta3"
		if v.Name == "v1beta2" {
			v.Served = false
		}
	}
	return true
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established {
			return c.Status == apiextensionsv1.ConditionTrue
		}
	}
	return false
}

func served(crd *apiextensionsv1.CustomResourceDefinition, version string) bool {
	for _, v := range crd.Spec.Versions {
		if v.Name == version {
			return v.Served
		}
	}
	return false
}

// children returns the PIDs of this process's kube-apiserver and etcd children.
func children(t *testing.T) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	self := strconv.Itoa(os.Getpid())
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// stat is "pid (comm) state ppid ...".
		open, close := strings.IndexByte(string(stat), '('), strings.LastIndexByte(string(stat), ')')
		if open < 0 || close < open {
			continue
		}
		comm := string(stat[open+1 : close])
		fields := strings.Fields(string(stat[close+1:]))
		if len(fields) > 1 && fields[1] == self && (comm == "kube-apiserver" || comm == "etcd") {
			pids = append(pids, pid)
		}
	}
	return pids
}
