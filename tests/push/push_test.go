package push

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/knative-eventmesh/function/announce"
	"github.com/knative-eventmesh/function/mesh"
	"github.com/knative-eventmesh/function/tests/functest"
)

// How long to wait for an announcement, and how long silence proves that
// none comes: several debounce windows (300 ms) and adapter round trips.
const (
	arrival = 15 * time.Second
	quiet   = 3 * time.Second
)

func keys(kind, ns string, names ...string) []mesh.Key {
	out := []mesh.Key{}
	for _, n := range names {
		out = append(out, mesh.Key{Kind: kind, Namespace: ns, Name: n})
	}
	return out
}

// checkDelta checks the delta of an announcement.
func checkDelta(t *testing.T, got announce.Announcement, added, removed, updated []mesh.Key) {
	t.Helper()
	for _, c := range []struct {
		what      string
		got, want []mesh.Key
	}{{"added", got.Added, added}, {"removed", got.Removed, removed}, {"updated", got.Updated, updated}} {
		if c.want == nil {
			c.want = []mesh.Key{}
		}
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
}

// TestAnnouncements follows one cluster through a create, an update, a
// burst, a change that leaves the mesh alone, and a delete, with Eventing's
// ApiServerSource adapter producing the notifications.
func TestAnnouncements(t *testing.T) {
	resetState(t)
	s := startSink(t)
	fn := startFunction(t, s.URL())
	startAdapter(t, fn.URL)

	// The adapter sends nothing for the objects it finds when it starts
	// (its initial list is a no-op); the PingSource resync of rbac/push.yaml
	// makes the first announcement, with the whole mesh.
	notify(t, fn)
	ev, a := s.next(arrival)
	if ev.Type() != announce.EventType || ev.Source() != "/apis/serving.knative.dev/v1/namespaces/knative-eventing/services/eventmesh" ||
		ev.Subject() != "test-cluster" {
		t.Errorf("attributes: type %q, source %q, subject %q", ev.Type(), ev.Source(), ev.Subject())
	}
	ext := ev.Extensions()
	if ext["dataref"] != "http://eventmesh.knative-eventing.svc.cluster.local/v1/getEventMesh" {
		t.Errorf("dataref %v", ext["dataref"])
	}
	if ext["meshdigest"] != a.Digest || a.PreviousDigest != "" {
		t.Errorf("meshdigest %v, data digest %q, previous %q", ext["meshdigest"], a.Digest, a.PreviousDigest)
	}
	if want := announce.Digest(meshBody(t, fn)); a.Digest != want {
		t.Errorf("announced digest %s, but the mesh served with the same token has %s", a.Digest, want)
	}
	waitForState(t, a.Digest)
	s.none(quiet)

	ns := newNamespace(t)
	t.Run("create", func(t *testing.T) {
		apply(t, ns, broker("b"))
		_, a := s.next(arrival)
		checkDelta(t, a, keys("Broker", ns, "b"), nil, nil)
		if a.Counts.Brokers < 1 {
			t.Errorf("counts %+v", a.Counts)
		}
		s.none(quiet)
	})
	t.Run("update", func(t *testing.T) {
		apply(t, ns, broker("b")+"  labels:\n    team: shop\n")
		_, a := s.next(arrival)
		checkDelta(t, a, nil, nil, keys("Broker", ns, "b"))
		s.none(quiet)
	})
	t.Run("burst", func(t *testing.T) {
		var yaml string
		var names []string
		for i := range 10 {
			name := "burst-" + string(rune('a'+i))
			yaml += broker(name)
			names = append(names, name)
		}
		apply(t, ns, yaml)
		// The first Broker may go out at once (the leading edge), the
		// rest of the burst in one more announcement: two at most.
		_, a := s.next(arrival)
		if len(a.Added) < len(names) {
			_, rest := s.next(arrival)
			a.Added = append(a.Added, rest.Added...)
			slices.SortFunc(a.Added, func(x, y mesh.Key) int { return strings.Compare(x.Name, y.Name) })
		}
		checkDelta(t, a, keys("Broker", ns, names...), nil, nil)
		s.none(quiet)
	})
	// The kinds beside Brokers, Triggers and channels are watched too: an
	// EventPolicy alone changes the mesh, and a JobSink is an entity.
	for _, c := range []struct {
		name, yaml     string
		added, updated []mesh.Key
	}{{
		name: "policy",
		yaml: `
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata:
  name: burst-senders
  namespace: {{ns}}
spec:
  to:
  - ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: burst-a}
  from:
  - sub: system:serviceaccount:{{ns}}:sender
`,
		added:   keys("EventPolicy", ns, "burst-senders"),
		updated: keys("Broker", ns, "burst-a"),
	}, {
		name: "sink",
		yaml: `
apiVersion: sinks.knative.dev/v1alpha1
kind: JobSink
metadata:
  name: jobs
  namespace: {{ns}}
spec:
  job:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - {name: job, image: example.com/job}
`,
		added: keys("JobSink", ns, "jobs"),
	}} {
		t.Run(c.name, func(t *testing.T) {
			apply(t, ns, c.yaml)
			_, a := s.next(arrival)
			checkDelta(t, a, c.added, nil, c.updated)
			s.none(quiet)
		})
	}
	t.Run("no change", func(t *testing.T) {
		// A Trigger with a URI subscriber is not part of the mesh.
		apply(t, ns, `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: to-a-webhook
  namespace: {{ns}}
spec:
  broker: b
  subscriber:
    uri: https://hooks.example.com/x
`)
		s.none(quiet)
	})
	t.Run("delete", func(t *testing.T) {
		client, err := dynamic.NewForConfig(testCluster.Config())
		if err != nil {
			t.Fatal(err)
		}
		gvr := schema.GroupVersionResource{Group: "eventing.knative.dev", Version: "v1", Resource: "brokers"}
		if err := client.Resource(gvr).Namespace(ns).Delete(context.Background(), "b", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		_, a := s.next(arrival)
		checkDelta(t, a, nil, keys("Broker", ns, "b"), nil)
		s.none(quiet)
	})
}

// TestRestartUnchanged checks that a new instance, with the same cluster
// and state, announces nothing when nothing changed, and the next change
// once.
func TestRestartUnchanged(t *testing.T) {
	resetState(t)
	s := startSink(t)
	ns := newNamespace(t)
	t.Run("first instance", func(t *testing.T) {
		fn := startFunction(t, s.URL())
		notify(t, fn)
		s.next(arrival)
	})
	fn := startFunction(t, s.URL())
	notify(t, fn)
	s.none(quiet)
	apply(t, ns, broker("after-restart"))
	notify(t, fn)
	_, a := s.next(arrival)
	checkDelta(t, a, keys("Broker", ns, "after-restart"), nil, nil)
}

// TestSinkDownThenUp checks that a change is announced once the sink is
// back, and not recorded as announced before.
func TestSinkDownThenUp(t *testing.T) {
	resetState(t)
	s := startSink(t)
	fn := startFunction(t, s.URL())
	notify(t, fn)
	_, first := s.next(arrival)

	s.down()
	ns := newNamespace(t)
	apply(t, ns, broker("while-down"))
	notify(t, fn)
	time.Sleep(2 * time.Second)
	if got := stateDigest(t); got != first.Digest {
		t.Fatalf("the state moved to %s while the sink was down", got)
	}
	s.up()
	_, a := s.next(arrival)
	checkDelta(t, a, keys("Broker", ns, "while-down"), nil, nil)
	waitForState(t, a.Digest)
	s.none(quiet)
}

// TestSinkFailing checks that a sink answering 5xx is retried with backoff
// until it accepts.
func TestSinkFailing(t *testing.T) {
	resetState(t)
	s := startSink(t)
	fn := startFunction(t, s.URL())
	notify(t, fn)
	s.next(arrival)

	s.setFail(true)
	ns := newNamespace(t)
	apply(t, ns, broker("while-failing"))
	before := s.attemptCount()
	notify(t, fn)
	deadline := time.Now().Add(arrival)
	for s.attemptCount() < before+3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d attempts, want at least 3 retries", s.attemptCount()-before)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.setFail(false)
	_, a := s.next(arrival)
	checkDelta(t, a, keys("Broker", ns, "while-failing"), nil, nil)
	s.none(quiet)
}

// TestTwoInstancesRacing notifies two instances of every change at once:
// each change must be announced exactly once.
func TestTwoInstancesRacing(t *testing.T) {
	resetState(t)
	s := startSink(t)
	fns := []*functest.Function{startFunction(t, s.URL()), startFunction(t, s.URL())}
	notify(t, fns[0])
	s.next(arrival)
	s.none(quiet)

	ns := newNamespace(t)
	for i := range 4 {
		name := "race-" + string(rune('a'+i))
		apply(t, ns, broker(name))
		var wg sync.WaitGroup
		for _, fn := range fns {
			for range 3 {
				wg.Add(1)
				go func() { defer wg.Done(); notify(t, fn) }()
			}
		}
		wg.Wait()
		_, a := s.next(arrival)
		checkDelta(t, a, keys("Broker", ns, name), nil, nil)
		s.none(quiet)
	}
}

// TestPushOff checks that without K_SINK a CloudEvent gets a clear 4xx.
func TestPushOff(t *testing.T) {
	fn := functest.Start(t, map[string]string{"KUBECONFIG": ownKubeconfig})
	r := fn.Do(t, http.MethodPost, "/", "", "Ce-Id", "1", "Ce-Type", "t", "Ce-Source", "/s", "Ce-Specversion", "1.0")
	if r.Status != http.StatusConflict {
		t.Errorf("status %d, want 409: %s", r.Status, r.Body)
	}
	if !containsAll(fn.Logs.String(), "push is off", "K_SINK") {
		t.Errorf("the function did not say at start that push is off:\n%s", fn.Logs)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
