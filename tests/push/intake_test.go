package push

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/knative-eventmesh/function/tests/functest"
)

const (
	// functionAudience is the audience rbac/push.yaml's sources send
	// tokens for, and the function's default.
	functionAudience = "serving.knative.dev/service/knative-eventing/eventmesh"
	// pingIdentity is the OIDC ServiceAccount Eventing gives the
	// PingSource eventmesh-resync (GetOIDCServiceAccountNameForResource).
	pingIdentity = "eventmesh-resync-oidc-sources.knative.dev-pingsource"
)

var pingSources = schema.GroupVersionResource{Group: "sources.knative.dev", Version: "v1", Resource: "pingsources"}

// withOIDCIdentity gives the PingSource eventmesh-resync of rbac/push.yaml
// the OIDC identity Eventing's controller gives it when
// authentication-oidc is on, until the test ends.
func withOIDCIdentity(tb testing.TB) {
	tb.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: pingIdentity, Namespace: "knative-eventing"}}
	if _, err := admin.CoreV1().ServiceAccounts("knative-eventing").Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		tb.Fatal(err)
	}
	setPingAuth(tb, fmt.Sprintf(`{"serviceAccountName":%q}`, pingIdentity))
	tb.Cleanup(func() { setPingAuth(tb, "null") })
}

// setPingAuth sets the status.auth of the PingSource eventmesh-resync.
func setPingAuth(tb testing.TB, auth string) {
	tb.Helper()
	patch := []byte(`{"status":{"auth":` + auth + `}}`)
	_, err := testCluster.Dynamic().Resource(pingSources).Namespace("knative-eventing").
		Patch(context.Background(), "eventmesh-resync", types.MergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		tb.Fatalf("setting the PingSource's status.auth: %v", err)
	}
}

// audienceToken returns a token of a ServiceAccount for audience, as
// Eventing requests them for a source's OIDC identity.
func audienceToken(tb testing.TB, namespace, name, audience string) string {
	tb.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	if _, err := admin.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		tb.Fatal(err)
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: []string{audience}}}
	tr, err := admin.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, req, metav1.CreateOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return tr.Status.Token
}

// notifyWith POSTs a PingSource's change notification to the function
// with token (none when ""), and returns the status and body.
func notifyWith(tb testing.TB, url, token string) (int, string) {
	tb.Helper()
	ev := cloudevents.NewEvent()
	ev.SetID(randomID())
	ev.SetType("dev.knative.sources.ping")
	ev.SetSource("/apis/v1/namespaces/knative-eventing/pingsources/eventmesh-resync")
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if err := cehttp.WriteRequest(context.Background(), binding.ToMessage(&ev), req); err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// TestIntakeWithOIDC checks the intake once a push source has an OIDC
// identity: only a token the API server verifies for the function's
// audience, of that identity, starts a rebuild; no token gets 401, a token
// of another subject 403, and neither announces the change.
func TestIntakeWithOIDC(t *testing.T) {
	withOIDCIdentity(t)
	resetState(t)
	s := startSink(t)
	fn := startFunction(t, s.URL())
	source := audienceToken(t, "knative-eventing", pingIdentity, functionAudience)

	if status, body := notifyWith(t, fn.URL, source); status != http.StatusAccepted {
		t.Fatalf("the PingSource's identity: %d %s, want 202", status, body)
	}
	_, a := s.next(arrival)
	waitForState(t, a.Digest)

	ns := newNamespace(t)
	apply(t, ns, broker("b"))
	for _, tt := range []struct {
		name   string
		token  string
		status int
		reason string
	}{
		{"no token", "", http.StatusUnauthorized, "no token"},
		{"not a token", "not-a-token", http.StatusUnauthorized, "does not verify for the audience"},
		{"another audience", audienceToken(t, "knative-eventing", pingIdentity, "eventing.knative.dev/broker/knative-eventing/default"),
			http.StatusUnauthorized, "does not verify for the audience"},
		{"another ServiceAccount", audienceToken(t, ns, "intruder", functionAudience), http.StatusForbidden,
			"system:serviceaccount:" + ns + ":intruder may not notify the function"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := notifyWith(t, fn.URL, tt.token)
			if status != tt.status || !strings.Contains(body, tt.reason) {
				t.Errorf("%d %s, want %d saying %q", status, body, tt.status, tt.reason)
			}
		})
	}
	// None of them started a rebuild: the new Broker is not announced.
	s.none(quiet)
	if strings.Contains(fn.Logs.String(), "not-a-token") {
		t.Errorf("a log line holds a token:\n%s", fn.Logs)
	}

	if status, body := notifyWith(t, fn.URL, source); status != http.StatusAccepted {
		t.Fatalf("the PingSource's identity: %d %s, want 202", status, body)
	}
	_, a = s.next(arrival)
	checkDelta(t, a, keys("Broker", ns, "b"), nil, nil)
}

// TestIntakeSubjects checks that INTAKE_SUBJECTS lets a further identity
// notify, and turns the check on without any source's OIDC identity.
func TestIntakeSubjects(t *testing.T) {
	resetState(t)
	s := startSink(t)
	ns := newNamespace(t)
	user := "system:serviceaccount:" + ns + ":notifier"
	fn := startFunction(t, s.URL(), "INTAKE_SUBJECTS", user)

	if status, body := notifyWith(t, fn.URL, ""); status != http.StatusUnauthorized {
		t.Errorf("no token: %d %s, want 401", status, body)
	}
	if status, body := notifyWith(t, fn.URL, audienceToken(t, ns, "other", functionAudience)); status != http.StatusForbidden {
		t.Errorf("another ServiceAccount: %d %s, want 403", status, body)
	}
	if status, body := notifyWith(t, fn.URL, audienceToken(t, ns, "notifier", functionAudience)); status != http.StatusAccepted {
		t.Fatalf("the subject of INTAKE_SUBJECTS: %d %s, want 202", status, body)
	}
	s.next(arrival)
}

// TestIntakeWithoutOIDC checks that with no OIDC identity on the push
// sources, as with Eventing's OIDC off, a notification needs no token.
func TestIntakeWithoutOIDC(t *testing.T) {
	resetState(t)
	s := startSink(t)
	fn := startFunction(t, s.URL())
	if status, body := notifyWith(t, fn.URL, ""); status != http.StatusAccepted {
		t.Fatalf("without OIDC: %d %s, want 202", status, body)
	}
	s.next(arrival)
}

// BenchmarkIntakeCheck measures a notification's round trip to the
// function, with the intake's check on (a TokenReview each) and off: the
// difference is what verifying a token costs.
func BenchmarkIntakeCheck(b *testing.B) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()
	env := func() map[string]string {
		return map[string]string{"KUBECONFIG": ownKubeconfig, "K_SINK": sink.URL, "K_SERVICE": "eventmesh", "PUSH_DEBOUNCE": "10m"}
	}
	b.Run("open", func(b *testing.B) {
		fn := functest.Start(b, env())
		for b.Loop() {
			if status, body := notifyWith(b, fn.URL, ""); status != http.StatusAccepted {
				b.Fatalf("%d %s", status, body)
			}
		}
	})
	b.Run("oidc", func(b *testing.B) {
		withOIDCIdentity(b)
		source := audienceToken(b, "knative-eventing", pingIdentity, functionAudience)
		fn := functest.Start(b, env())
		for b.Loop() {
			if status, body := notifyWith(b, fn.URL, source); status != http.StatusAccepted {
				b.Fatalf("%d %s", status, body)
			}
		}
	})
}
