package knative

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/knative-eventmesh/function/tests/knativeinstall"
)

const (
	// functionAudience is the function's OIDC audience, which
	// rbac/push.yaml's sources send tokens for.
	functionAudience = "serving.knative.dev/service/knative-eventing/eventmesh"
	// intruder is a ServiceAccount no policy names.
	intruder = "eventmesh-test-intruder"
)

// TestBrokerEnforcesWhatTheMeshSays compares what the function's mesh
// says may send to the Broker default (rbac/announcements-policy.yaml
// applied) with what the Broker's ingress enforces: the mesh names exactly
// the SinkBinding's OIDC identity, the function's; a pod of each subject
// it names gets 202, a pod of another ServiceAccount 403, a post without a
// token 401.
func TestBrokerEnforcesWhatTheMeshSays(t *testing.T) {
	subjects := brokerSubjects(t, meshFromHost(t), ns, "default")
	identity := "system:serviceaccount:" + ns + ":" + oidcIdentity(t, knativeinstall.SinkBindingResource, "eventmesh-announcements")
	if !slices.Equal(subjects, []string{identity}) {
		t.Errorf("the mesh says %q may send to Broker default, want exactly the function's identity %q", subjects, identity)
	}
	for _, subject := range subjects {
		sa := strings.TrimPrefix(subject, "system:serviceaccount:"+ns+":")
		got := runProbe(t, probe{args: []string{"post", brokerURL}, serviceAccount: sa, audience: brokerAudience})
		if got.Status != http.StatusAccepted {
			t.Errorf("a pod of %s, which the mesh allows: %d %s, want 202", subject, got.Status, got.Body)
		}
	}
	createServiceAccount(t, intruder)
	if got := runProbe(t, probe{args: []string{"post", brokerURL}, serviceAccount: intruder, audience: brokerAudience}); got.Status != http.StatusForbidden {
		t.Errorf("a pod of %s, which the mesh does not name: %d %s, want 403", intruder, got.Status, got.Body)
	}
	if got := runProbe(t, probe{args: []string{"post", brokerURL}}); got.Status != http.StatusUnauthorized {
		t.Errorf("a post without a token: %d %s, want 401", got.Status, got.Body)
	}
}

// TestIntakeOnCluster checks the function's intake on the real cluster:
// the push sources have OIDC identities (Eventing's OIDC is on), so a
// notification without a token gets 401 and one of another
// ServiceAccount 403. TestPushFromZero shows the ApiServerSource's own
// notifications get through.
func TestIntakeOnCluster(t *testing.T) {
	for _, src := range []struct{ kind, name string }{{"apiserversources", "eventmesh-changes"}, {"pingsources", "eventmesh-resync"}} {
		gvr := knativeinstall.APISourceResource
		gvr.Resource = src.kind
		if oidcIdentity(t, gvr, src.name) == "" {
			t.Fatalf("%s %s has no OIDC identity: is Eventing's authentication-oidc on?", src.kind, src.name)
		}
	}
	ping := map[string]string{"CE_TYPE": "dev.knative.sources.ping"}
	if got := runProbe(t, probe{args: []string{"post", ksvcURL}, env: ping}); got.Status != http.StatusUnauthorized {
		t.Errorf("a notification without a token: %d %s, want 401", got.Status, got.Body)
	}
	createServiceAccount(t, intruder)
	got := runProbe(t, probe{args: []string{"post", ksvcURL}, env: ping, serviceAccount: intruder, audience: functionAudience})
	if got.Status != http.StatusForbidden {
		t.Errorf("a notification of %s: %d %s, want 403", intruder, got.Status, got.Body)
	}
}

// oidcIdentity returns the OIDC ServiceAccount that Eventing reports in
// an object's status.auth, "" when none.
func oidcIdentity(t *testing.T, gvr schema.GroupVersionResource, name string) string {
	t.Helper()
	obj, err := testCluster.Dynamic().Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sa, _, _ := unstructured.NestedString(obj.Object, "status", "auth", "serviceAccountName")
	return sa
}

// createServiceAccount creates a ServiceAccount in the function's
// namespace, if missing.
func createServiceAccount(t *testing.T, name string) {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	_, err := testCluster.Client().CoreV1().ServiceAccounts(ns).Create(context.Background(), sa, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// meshFromHost returns the mesh the function serves the Backstage reader,
// through Traefik's cluster-local entry point.
func meshFromHost(t *testing.T) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, privateRoute(t)+meshPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+readerToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the mesh: %d %v %.300s", resp.StatusCode, err, body)
	}
	return body
}

// brokerSubjects returns the allowedSubjects the mesh gives a Broker.
func brokerSubjects(t *testing.T, mesh []byte, namespace, name string) []string {
	t.Helper()
	var m struct {
		Brokers []struct {
			Namespace       string   `json:"namespace"`
			Name            string   `json:"name"`
			AllowedSubjects []string `json:"allowedSubjects"`
		} `json:"brokers"`
	}
	if err := json.Unmarshal(mesh, &m); err != nil {
		t.Fatalf("decoding the mesh: %v", err)
	}
	for _, b := range m.Brokers {
		if b.Namespace == namespace && b.Name == name {
			return b.AllowedSubjects
		}
	}
	t.Fatalf("the mesh has no Broker %s/%s", namespace, name)
	return nil
}
