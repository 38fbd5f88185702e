package catalog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/knative-eventmesh/function/tests/functest"
	"github.com/knative-eventmesh/function/tests/watcher"
)

// How long a change may take to reach the catalog before the test gives
// up: the function's debounce (1 s), a provider run, the catalog's
// processing and stitching, on a loaded 2-core machine.
const reach = 60 * time.Second

// kubectl runs kubectl with the admin kubeconfig, stdin as its input.
func kubectl(t *testing.T, stdin string, args ...string) {
	t.Helper()
	cmd := exec.Command("kubectl", append([]string{"--kubeconfig", adminKubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// waitFor polls cond until it holds, for at most reach, and returns the
// time since start.
func waitFor(t *testing.T, what string, start time.Time, cond func() (bool, error)) time.Duration {
	t.Helper()
	deadline := start.Add(reach)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return time.Since(start)
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s (last error: %v)", what, reach, lastErr)
	return 0
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestEventDrivenRefresh runs the whole loop: kubectl changes the mesh,
// Eventing's ApiServerSource adapter notifies the function, the function
// announces to Backstage's events HTTP ingress, and backstage/'s provider,
// subscribed to the topic, re-reads the mesh through the function. The
// providers' schedule is 60 minutes: only an announcement explains a
// refresh.
//
// Two functions stand for two clusters (CLUSTER_NAME east and west) over
// the one local API server: the adapter notifies east only, and west is
// notified by hand, as its PingSource would. Each has its provider, scoped
// to its own namespace.
func TestEventDrivenRefresh(t *testing.T) {
	ctx := context.Background()
	if installTook > 0 {
		t.Logf("npm ci of backstage/ took %s", installTook.Round(time.Second))
	}
	east, west := "east-"+randomSuffix(), "west-"+randomSuffix()
	for _, ns := range []string{east, west} {
		if err := testCluster.CreateNamespace(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	// A subscriber Backstage knows, and its component in the catalog.
	if err := testCluster.Apply(ctx, []byte(fmt.Sprintf(`
apiVersion: v1
kind: Service
metadata: {name: orders, namespace: %s, labels: {backstage.io/kubernetes-id: orders}}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: eventmesh-state-west, namespace: knative-eventing}
`, east))); err != nil {
		t.Fatal(err)
	}
	component := fmt.Sprintf(`apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: orders, namespace: %s, annotations: {backstage.io/kubernetes-id: orders}}
spec: {type: service, lifecycle: test, owner: knative}
`, east)

	ownKubeconfig := filepath.Join(t.TempDir(), "eventmesh.kubeconfig")
	cfg := rest.AnonymousClientConfig(testCluster.Config())
	cfg.BearerToken = ownToken
	if err := testCluster.WriteKubeconfig(ownKubeconfig, cfg); err != nil {
		t.Fatal(err)
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	// The default PUSH_DEBOUNCE (1 s).
	// The ingress is closed by default: both functions send the secret.
	secret := randomSuffix() + randomSuffix()
	fnEast := functest.Start(t, map[string]string{
		"KUBECONFIG": ownKubeconfig, "K_SINK": IngressURL(port), "K_SERVICE": "eventmesh",
		"CLUSTER_NAME": "east", "PUSH_STATE_NAMESPACE": "knative-eventing", "PUSH_SECRET": secret,
	})
	// West keeps its own state ConfigMap, which rbac/ does not let the
	// eventmesh ServiceAccount update: it runs as admin.
	fnWest := functest.Start(t, map[string]string{
		"KUBECONFIG": adminKubeconfig, "K_SINK": IngressURL(port), "K_SERVICE": "eventmesh",
		"CLUSTER_NAME": "west", "PUSH_STATE_NAMESPACE": "knative-eventing", "PUSH_STATE_CONFIGMAP": "eventmesh-state-west",
		"PUSH_SECRET": secret,
	})
	pe, pw := startTimedProxy(t, fnEast.URL), startTimedProxy(t, fnWest.URL)

	logs := &functest.Logs{}
	backend, err := Start(ctx, Options{
		Providers: map[string]Provider{
			"east": {BaseURL: pe.URL + "/namespaces/" + east, Token: readerToken},
			"west": {BaseURL: pw.URL + "/namespaces/" + west, Token: readerToken},
		},
		Clusters: map[string][]string{"east": {"east"}, "west": {"west"}},
		Secret:   secret,
		Port:     port,
		Entities: component,
		Logs:     logs,
		// So that the backend stops within 5 s of SIGTERM: no events bus
		// long-poll, which Backstage's default holds 55 s (see
		// backstage/README.md).
		NotifyTimeout: 2 * time.Second,
		LocalEvents:   true,
	})
	if err != nil {
		t.Fatalf("%v\nbackend logs:\n%s", err, logs)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_, _ = backend.Stop(5 * time.Second)
		}
		if t.Failed() {
			t.Logf("backend logs:\n%s", logs)
		}
		if strings.Contains(logs.String(), readerToken) {
			t.Error("the backend's logs contain the reader's token")
		}
	})
	adapterLogs := &functest.Logs{}
	w, err := watcher.Start(ctx, testCluster, filepath.Join("..", "..", "rbac", "push.yaml"), fnEast.URL, adapterLogs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Stop(); err != nil {
			t.Error(err)
		}
	})
	waitFor(t, "the providers' first read of the mesh", time.Now(), func() (bool, error) {
		return pe.count() >= 1 && pw.count() >= 1, nil
	})

	entity := func(kind, ns, name string) (*Entity, error) { return backend.Entity(ctx, kind, ns, name) }
	exists := func(kind, ns, name string) func() (bool, error) {
		return func() (bool, error) { e, err := entity(kind, ns, name); return e != nil, err }
	}
	gone := func(kind, ns, name string) func() (bool, error) {
		return func() (bool, error) { e, err := entity(kind, ns, name); return e == nil && err == nil, err }
	}

	t.Run("changes reach the catalog", func(t *testing.T) {
		eventType := fmt.Sprintf(`{"apiVersion":"eventing.knative.dev/v1beta2","kind":"EventType","metadata":{"name":"order-created","namespace":%q},"spec":{"type":"com.example.order.created","reference":{"apiVersion":"eventing.knative.dev/v1","kind":"Broker","name":"default"}}}`, east)
		trigger := fmt.Sprintf(`{"apiVersion":"eventing.knative.dev/v1","kind":"Trigger","metadata":{"name":"orders","namespace":%q},"spec":{"broker":"default","filter":{"attributes":{"type":"com.example.order.created"}},"subscriber":{"ref":{"apiVersion":"v1","kind":"Service","name":"orders"}}}}`, east)
		api := "api:" + east + "/order-created"
		changes := []struct {
			what  string
			stdin string
			args  []string
			cond  func() (bool, error)
		}{
			{"create Broker default", "", []string{"create", "-n", east, "-f", "-"}, exists("component", east, "default")},
			{"create EventType order-created", eventType, []string{"create", "-f", "-"}, func() (bool, error) {
				b, err := entity("component", east, "default")
				if b == nil || err != nil {
					return false, err
				}
				a, err := entity("api", east, "order-created")
				return a != nil && b.HasRelation("providesApi", api) && a.HasRelation("apiProvidedBy", "component:"+east+"/default"), err
			}},
			{"create Trigger orders", trigger, []string{"create", "-f", "-"}, func() (bool, error) {
				a, err := entity("api", east, "order-created")
				if a == nil || err != nil {
					return false, err
				}
				// The processor relates the API to the component whose
				// backstage.io/kubernetes-id is in consumedBy, under
				// Backstage's default auth policy (1.21.0's query got 401).
				c, err := entity("component", east, "orders")
				return c != nil && slices.Contains(a.Metadata.ConsumedBy, "orders") &&
					a.HasRelation("apiConsumedBy", "component:"+east+"/orders") &&
					c.HasRelation("consumesApi", api), err
			}},
			{"create Broker second", "", []string{"create", "-n", east, "-f", "-"}, exists("component", east, "second")},
			{"delete Broker second", "", []string{"delete", "broker", "second", "-n", east}, gone("component", east, "second")},
			{"delete Trigger orders", "", []string{"delete", "trigger", "orders", "-n", east}, func() (bool, error) {
				a, err := entity("api", east, "order-created")
				return a != nil && len(a.Metadata.ConsumedBy) == 0 && !a.HasRelation("apiConsumedBy", "component:"+east+"/orders"), err
			}},
			{"delete EventType order-created", "", []string{"delete", "eventtype", "order-created", "-n", east}, gone("api", east, "order-created")},
		}
		changes[0].stdin = `{"apiVersion":"eventing.knative.dev/v1","kind":"Broker","metadata":{"name":"default"}}`
		changes[3].stdin = `{"apiVersion":"eventing.knative.dev/v1","kind":"Broker","metadata":{"name":"second"}}`

		var took []time.Duration
		for _, c := range changes {
			before := pe.count()
			start := time.Now()
			kubectl(t, c.stdin, c.args...)
			d := waitFor(t, c.what+" in the catalog", start, c.cond)
			took = append(took, d)
			t.Logf("%-32s in the catalog %6.2f s after kubectl (provider reads: %d)", c.what, d.Seconds(), pe.count()-before)
		}
		slices.Sort(took)
		t.Logf("kubectl to catalog over %d changes: p50 %.2f s, max %.2f s (default PUSH_DEBOUNCE and minInterval)",
			len(took), took[len(took)/2].Seconds(), took[len(took)-1].Seconds())
	})

	t.Run("each cluster refreshes its own provider", func(t *testing.T) {
		eastBefore, westBefore := pe.count(), pw.count()
		kubectl(t, `{"apiVersion":"eventing.knative.dev/v1","kind":"Broker","metadata":{"name":"default"}}`, "create", "-n", west, "-f", "-")
		// East watches the whole cluster: it announces (subject east), and
		// only east's provider reads again.
		waitFor(t, "east's provider reading the mesh after east's announcement", time.Now(), func() (bool, error) {
			return pe.count() > eastBefore, nil
		})
		if n := pw.count(); n != westBefore {
			t.Errorf("west's provider read the mesh %d times on east's announcement, want 0", n-westBefore)
		}
		if e, err := entity("component", west, "default"); e != nil || err != nil {
			t.Errorf("west's broker is in the catalog before west announced it (%v)", err)
		}
		eastMid := pe.count()
		if err := functest.Notify(fnWest.URL); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "west's broker in the catalog after west's announcement", time.Now(), exists("component", west, "default"))
		// An announced read triggers one scheduled read after it (newest
		// mesh wins across replicas): 2 reads at most.
		if n := pw.count() - westBefore; n < 1 || n > 2 {
			t.Errorf("west's provider read the mesh %d times for one announcement, want 1 and the scheduled read it triggers", n)
		}
		// East's own announced read may still trigger its scheduled read.
		if n := pe.count() - eastMid; n > 1 {
			t.Errorf("east's provider read the mesh %d times on west's announcement, want at most the scheduled read its own announcement triggered", n)
		}
		// The backend logs JSON: quotes are escaped.
		if regexp.MustCompile(`cluster \\"west\\" \(id \\"[0-9a-f]*\\"\): refreshing provider east`).MatchString(logs.String()) {
			t.Error("west's announcement refreshed east's provider")
		}
		// The backend logs JSON (NODE_ENV=production).
		for _, want := range []string{`Mesh change announced for cluster \"east\"`, `Mesh change announced for cluster \"west\"`} {
			if !strings.Contains(logs.String(), want) {
				t.Errorf("the backend did not log %s", want)
			}
		}
	})

	t.Run("the ingress: structured mode, a burst, and what is ignored", func(t *testing.T) {
		post := func(contentType, body string, header ...string) {
			t.Helper()
			req, err := http.NewRequest(http.MethodPost, IngressURL(port), strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", contentType)
			req.Header.Set(secretHeader, secret)
			for i := 0; i+1 < len(header); i += 2 {
				req.Header.Set(header[i], header[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("POST %s (%s): %d, want 202", IngressURL(port), contentType, resp.StatusCode)
			}
		}
		structured := func(typ, subject string) string {
			return fmt.Sprintf(`{"specversion":"1.0","type":%q,"source":"/forged","id":%q,"subject":%q,"data":{}}`, typ, randomSuffix(), subject)
		}
		count := func(substr string) int { return strings.Count(logs.String(), substr) }
		announced, ignored := count("Mesh change announced"), count(`"message":"Ignored`)

		// The ingress hands the event to the module before it answers 202:
		// once these POSTs are answered, the module has seen them.
		post("application/cloudevents+json", structured("dev.knative.sources.ping", "west"))
		post("application/cloudevents+json", structured("dev.knative.eventmesh.changed", "north"))
		post("application/json", `{"hello":"world"}`)
		// Each of the two providers says so once. The backend's log
		// reaches us through a pipe, a little after the 202.
		waitFor(t, "the log lines of the ignored events", time.Now(), func() (bool, error) {
			return count(`"message":"Ignored`)-ignored >= 3*2, nil
		})
		if got := count(`"message":"Ignored`) - ignored; got != 3*2 {
			t.Errorf("%d log lines of ignored events, want 6 (3 events, 2 providers)", got)
		}
		if got := count("Mesh change announced") - announced; got != 0 {
			t.Errorf("%d ignored events were taken for announcements", got)
		}

		// A burst of 20 forged announcements, in structured and binary
		// mode: at most one read now and one pending.
		westBefore := pw.count()
		for i := range 20 {
			if i%2 == 0 {
				post("application/cloudevents+json", structured("dev.knative.eventmesh.changed", "west"))
			} else {
				post("application/json", `{}`, "Ce-Specversion", "1.0", "Ce-Type", "dev.knative.eventmesh.changed",
					"Ce-Source", "/forged", "Ce-Id", randomSuffix(), "Ce-Subject", "west")
			}
		}
		waitFor(t, "west's provider reading the mesh after the burst", time.Now(), func() (bool, error) {
			return pw.count() > westBefore, nil
		})
		// The pending read, if any, and the scheduled reads they trigger
		// (the scheduler looks for due tasks every few seconds) are done.
		time.Sleep(6 * time.Second)
		reads := pw.count() - westBefore
		t.Logf("20 forged announcements made west's provider read the mesh %d times", reads)
		if reads > 4 {
			t.Errorf("20 announcements in a burst made %d reads, want at most 4 (one now, one pending, and the scheduled read each triggers)", reads)
		}
	})

	t.Run("the backend stops within 5 s of SIGTERM", func(t *testing.T) {
		stopped = true
		took, err := backend.Stop(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("the backend exited %.2f s after SIGTERM", took.Seconds())
	})
}
