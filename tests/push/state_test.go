package push

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// kubectlApplyRBAC runs `kubectl apply -k rbac/` as the README says.
func kubectlApplyRBAC(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("kubectl", "--kubeconfig", adminKubeconfig, "apply", "-k", filepath.Join("..", "..", "rbac"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply -k rbac/: %v\n%s", err, out)
	}
	return string(out)
}

// TestStateKeepsItsMetadata checks that announcing changes only the
// function's keys of the state ConfigMap: the labels `kubectl apply -k
// rbac/` set stay, and applying rbac/ again changes nothing push needs: a
// new instance announces nothing for the unchanged mesh.
func TestStateKeepsItsMetadata(t *testing.T) {
	kubectlApplyRBAC(t)
	resetState(t)
	s := startSink(t)
	ns := newNamespace(t)
	apply(t, ns, broker("kept"))
	t.Run("first instance", func(t *testing.T) {
		fn := startFunction(t, s.URL())
		notify(t, fn)
		_, a := s.next(arrival)
		waitForState(t, a.Digest)
	})
	cm := stateConfigMap(t)
	for k, v := range map[string]string{"app.kubernetes.io/name": "eventmesh", "app.kubernetes.io/component": "push-state"} {
		if cm.Labels[k] != v {
			t.Errorf("after an announcement, label %s = %q, want %q (labels %v)", k, cm.Labels[k], v, cm.Labels)
		}
	}
	if cm.Annotations["kubectl.kubernetes.io/last-applied-configuration"] == "" {
		t.Errorf("after an announcement, kubectl's last-applied annotation is gone: %v", cm.Annotations)
	}
	digest := cm.Data["digest"]

	kubectlApplyRBAC(t)
	if got := stateDigest(t); got != digest {
		t.Fatalf("kubectl apply -k rbac/ changed the state digest from %s to %q", digest, got)
	}
	fn := startFunction(t, s.URL())
	notify(t, fn)
	s.none(quiet)
	if got := stateDigest(t); got != digest {
		t.Errorf("state digest %q after a restart, want %s", got, digest)
	}
}

// TestIndexTooLarge checks that a mesh whose index would outgrow the state
// (here a limit of one byte) is announced once, without its delta, and
// that the state keeps only its digest.
func TestIndexTooLarge(t *testing.T) {
	resetState(t)
	s := startSink(t)
	fn := startFunction(t, s.URL(), "PUSH_INDEX_MAX_BYTES", "1")
	notify(t, fn)
	_, a := s.next(arrival)
	if !a.DeltaOmitted || a.Delta != nil || a.Counts.Brokers == 0 {
		t.Errorf("announcement %+v, want counts and digest only, with deltaOmitted", a)
	}
	waitForState(t, a.Digest)
	if cm := stateConfigMap(t); len(cm.BinaryData) != 0 {
		t.Errorf("the state kept an index of %d bytes over the limit", len(cm.BinaryData["index.json.gz"]))
	}
	s.none(quiet)

	ns := newNamespace(t)
	apply(t, ns, broker("unindexed"))
	notify(t, fn)
	_, a = s.next(arrival)
	if !a.DeltaOmitted || a.Delta != nil {
		t.Errorf("announcement %+v, want no delta", a)
	}
	waitForState(t, a.Digest)
	s.none(quiet)
}

// TestSinkRejects checks that a sink answering a 4xx that Knative Eventing
// does not retry gets the announcement once per notification, not again
// and again; the change is announced once the sink accepts.
func TestSinkRejects(t *testing.T) {
	resetState(t)
	s := startSink(t)
	fn := startFunction(t, s.URL())
	notify(t, fn)
	_, first := s.next(arrival)
	waitForState(t, first.Digest)

	s.answer(http.StatusBadRequest)
	ns := newNamespace(t)
	apply(t, ns, broker("rejected"))
	before := s.attemptCount()
	notify(t, fn)
	waitForAttempts(t, s, before+1)
	s.none(quiet)
	if n := s.attemptCount() - before; n != 1 {
		t.Errorf("%d attempts after a 400, want 1", n)
	}
	if got := stateDigest(t); got != first.Digest {
		t.Errorf("the state moved to %s though the sink rejected the event", got)
	}

	s.answer(0)
	notify(t, fn)
	_, a := s.next(arrival)
	checkDelta(t, a, keys("Broker", ns, "rejected"), nil, nil)
	waitForState(t, a.Digest)
}

// waitForAttempts waits until the sink received n events in all.
func waitForAttempts(t *testing.T, s *sink, n int) {
	t.Helper()
	deadline := time.Now().Add(arrival)
	for s.attemptCount() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d events reached the sink, want %d", s.attemptCount(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
