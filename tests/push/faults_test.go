package push

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/knative-eventmesh/function/announce"
	"github.com/knative-eventmesh/function/tests/functest"
)

// TestSinkSlow checks that a sink slower than the send timeout is retried
// with backoff, and that every attempt of one change carries its id.
func TestSinkSlow(t *testing.T) {
	resetState(t)
	s := startSink(t)
	// A claim of 2s: each attempt waits 1s for the sink.
	fn := startFunction(t, s.URL(), "PUSH_CLAIM_TTL", "2s")
	notify(t, fn)
	s.next(arrival)

	s.setDelay(1500 * time.Millisecond)
	ns := newNamespace(t)
	apply(t, ns, broker("while-slow"))
	before := len(s.triedIDs())
	notify(t, fn)
	deadline := time.Now().Add(arrival)
	for len(s.triedIDs()) < before+2 {
		if time.Now().After(deadline) {
			t.Fatal("the slow sink was not tried twice")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.setDelay(0)
	ev, a := s.next(arrival)
	checkDelta(t, a, keys("Broker", ns, "while-slow"), nil, nil)
	for _, id := range s.triedIDs()[before:] {
		if id != ev.ID() {
			t.Errorf("an attempt of the same change had id %s, the accepted one %s", id, ev.ID())
		}
	}
	s.none(quiet)
}

// TestKilledWhileAnnouncing kills an instance (SIGKILL) while the sink
// holds its announcement; another instance announces the change after the
// claim of the dead one expires, once, with the same id.
func TestKilledWhileAnnouncing(t *testing.T) {
	resetState(t)
	s := startSink(t)
	env := map[string]string{
		"KUBECONFIG": ownKubeconfig, "K_SINK": s.URL(), "K_SERVICE": "eventmesh",
		"PUSH_DEBOUNCE": "300ms", "PUSH_CLAIM_TTL": "3s",
	}
	dying := functest.StartProcess(t, env)
	notifyURL(t, dying.URL)
	s.next(arrival)

	s.setDelay(time.Minute)
	ns := newNamespace(t)
	apply(t, ns, broker("while-dying"))
	before := len(s.triedIDs())
	notifyURL(t, dying.URL)
	deadline := time.Now().Add(arrival)
	for len(s.triedIDs()) == before {
		if time.Now().After(deadline) {
			t.Fatal("the first instance never sent its announcement")
		}
		time.Sleep(20 * time.Millisecond)
	}
	dying.Kill()
	if c := stateClaim(t); c == nil || c.ID != s.triedIDs()[before] {
		t.Fatalf("the state holds claim %+v, want the dead instance's for %s", c, s.triedIDs()[before])
	}

	s.setDelay(0)
	fn := startFunction(t, s.URL(), "PUSH_CLAIM_TTL", "3s")
	notify(t, fn)
	ev, a := s.next(arrival)
	checkDelta(t, a, keys("Broker", ns, "while-dying"), nil, nil)
	if ev.ID() != s.triedIDs()[before] {
		t.Errorf("announced with id %s; the dead instance had tried %s for the same change", ev.ID(), s.triedIDs()[before])
	}
	waitForState(t, a.Digest)
	s.none(quiet)
	if accepted := countAccepted(s, ev.ID()); accepted != 1 {
		t.Errorf("the change was accepted %d times, want 1", accepted)
	}
}

func countAccepted(s *sink, id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(slices.DeleteFunc(slices.Clone(s.accepted), func(e cloudevents.Event) bool { return e.ID() != id }))
}

// stateClaim returns the claim the state ConfigMap holds, or nil.
func stateClaim(t *testing.T) *announce.Claim {
	t.Helper()
	cm := stateConfigMap(t)
	if cm.Data["claim"] == "" {
		return nil
	}
	var c announce.Claim
	if err := json.Unmarshal([]byte(cm.Data["claim"]), &c); err != nil {
		t.Fatal(err)
	}
	return &c
}
