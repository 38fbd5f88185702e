package announce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/knative-eventmesh/function/mesh"
)

var configMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

const (
	stateNS   = "knative-eventing"
	stateName = "eventmesh-state"
)

// testSink is a CloudEvents receiver answering status, recording every
// event it receives.
type testSink struct {
	*httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	events []cloudevents.Event
}

func startTestSink(t *testing.T) *testSink {
	t.Helper()
	s := &testSink{}
	s.status.Store(http.StatusAccepted)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ev, err := cehttp.NewEventFromHTTPRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.events = append(s.events, *ev)
		s.mu.Unlock()
		w.WriteHeader(int(s.status.Load()))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *testSink) received() []cloudevents.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// stateConfigMap is the state ConfigMap as `kubectl apply -k rbac/` leaves
// it, before the first announcement.
func stateConfigMap() *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: stateName, Namespace: stateNS, ResourceVersion: "1",
		Labels:          map[string]string{"app.kubernetes.io/part-of": "eventmesh"},
		Annotations:     map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"kind":"ConfigMap"}`},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Namespace", Name: stateNS, UID: "uid-1"}},
	}, Data: map[string]string{"note": "not the function's"}}
}

// harness is an Announcer on a fake clientset and a test sink, with a fake
// clock and sleeps that record what they would wait and return at once.
type harness struct {
	a      *Announcer
	cs     *fake.Clientset
	sink   *testSink
	clock  *clocktesting.FakeClock
	mesh   atomic.Pointer[mesh.Mesh]
	builds atomic.Int32
	mu     sync.Mutex
	sleeps []time.Duration
}

func newHarness(t *testing.T, cfg Config, objects ...*corev1.ConfigMap) *harness {
	t.Helper()
	h := &harness{sink: startTestSink(t), clock: clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	if len(objects) == 0 {
		objects = []*corev1.ConfigMap{stateConfigMap()}
	}
	h.cs = fake.NewClientset()
	for _, o := range objects {
		if err := h.cs.Tracker().Add(o); err != nil {
			t.Fatal(err)
		}
	}
	h.mesh.Store(testMesh())
	cfg.Sink = h.sink.URL
	cfg.Source = "/eventmesh"
	cfg.Holder = cmpOr(cfg.Holder, "me")
	cfg.Debounce = cmpOr(cfg.Debounce, time.Second)
	cfg.ClaimTTL = cmpOr(cfg.ClaimTTL, 30*time.Second)
	cfg.RetryMin = cmpOr(cfg.RetryMin, time.Second)
	cfg.RetryMax = cmpOr(cfg.RetryMax, time.Minute)
	cfg.SyncTimeout = cmpOr(cfg.SyncTimeout, time.Minute)
	build := func(context.Context) (*mesh.Mesh, error) {
		h.builds.Add(1)
		return h.mesh.Load(), nil
	}
	store := &Store{ConfigMaps: h.cs.CoreV1().ConfigMaps(stateNS), Name: stateName}
	a, err := New(cfg, build, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a.clock = h.clock
	a.randN = func(n time.Duration) time.Duration { return n - 1 } // the largest jitter
	a.sleep = func(ctx context.Context, d time.Duration) bool {
		h.mu.Lock()
		h.sleeps = append(h.sleeps, d)
		h.mu.Unlock()
		h.clock.Step(d)
		return true
	}
	h.a = a
	return h
}

func cmpOr[T comparable](v, or T) T {
	var zero T
	if v == zero {
		return or
	}
	return v
}

func (h *harness) slept() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.sleeps)
}

func (h *harness) state(t *testing.T) *corev1.ConfigMap {
	t.Helper()
	cm, err := h.cs.CoreV1().ConfigMaps(stateNS).Get(context.Background(), stateName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cm
}

// updates counts the updates of the state ConfigMap the function made.
func (h *harness) updates() int {
	n := 0
	for _, a := range h.cs.Actions() {
		if a.Matches("update", "configmaps") {
			n++
		}
	}
	return n
}

func announcementOf(t *testing.T, ev cloudevents.Event) (Announcement, map[string]json.RawMessage) {
	t.Helper()
	var a Announcement
	if err := json.Unmarshal(ev.Data(), &a); err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(ev.Data(), &raw); err != nil {
		t.Fatal(err)
	}
	return a, raw
}

// TestStateKeepsMetadata checks that announcing changes only the keys the
// function owns in the state ConfigMap: the labels, annotations, owner
// references and other keys that `kubectl apply -k rbac/` set stay.
func TestStateKeepsMetadata(t *testing.T) {
	h := newHarness(t, Config{})
	h.a.syncUntilDone(context.Background())
	if n := len(h.sink.received()); n != 1 {
		t.Fatalf("%d announcements, want 1", n)
	}
	got, want := h.state(t), stateConfigMap()
	if got.Data[keyDigest] == "" {
		t.Fatalf("the state records no digest: %v", got.Data)
	}
	if !equalMaps(got.Labels, want.Labels) || !equalMaps(got.Annotations, want.Annotations) ||
		!slices.Equal(got.OwnerReferences, want.OwnerReferences) || got.Data["note"] != want.Data["note"] {
		t.Errorf("the state ConfigMap lost what it held:\nlabels %v\nannotations %v\nowners %v\ndata %v",
			got.Labels, got.Annotations, got.OwnerReferences, got.Data)
	}
	if _, ok := got.Data[keyClaim]; ok {
		t.Errorf("the claim stayed after the announcement: %s", got.Data[keyClaim])
	}

	// `kubectl apply -k rbac/` again: a change of metadata only. The next
	// sync, of the same mesh, announces nothing.
	got.Labels["app.kubernetes.io/version"] = "2"
	if _, err := h.cs.CoreV1().ConfigMaps(stateNS).Update(context.Background(), got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.a.syncUntilDone(context.Background())
	if n := len(h.sink.received()); n != 1 {
		t.Errorf("%d announcements after the ConfigMap's labels changed, want still 1", n)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestClaimOfAnotherInstance checks that an active claim of another
// instance is waited out (until it expires, plus jitter), then taken over.
func TestClaimOfAnotherInstance(t *testing.T) {
	cm := stateConfigMap()
	expires := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC) // 10s after the fake clock's start
	b, _ := json.Marshal(Claim{Holder: "other", Digest: "sha256:x", ID: "other-id", Expires: expires})
	cm.Data[keyClaim] = string(b)
	h := newHarness(t, Config{})
	if err := h.cs.Tracker().Update(configMaps, cm, stateNS); err != nil {
		t.Fatal(err)
	}

	h.a.syncUntilDone(context.Background())
	sleeps := h.slept()
	if len(sleeps) != 1 || sleeps[0] < 10*time.Second || sleeps[0] > 10*time.Second+h.a.cfg.RetryMin {
		t.Errorf("slept %v, want once, until the claim expires (10s) plus at most RetryMin", sleeps)
	}
	if n := len(h.sink.received()); n != 1 {
		t.Fatalf("%d announcements after the claim expired, want 1", n)
	}
	if got := h.state(t); got.Data[keyClaim] != "" || got.Data[keySequence] != "1" {
		t.Errorf("state after taking over: %v", got.Data)
	}
}

// TestClaimFarInTheFuture checks that a claim expiring far in the future
// (another instance's clock is off) is waited at most one ClaimTTL.
func TestClaimFarInTheFuture(t *testing.T) {
	h := newHarness(t, Config{MaxAttempts: 2})
	cm := stateConfigMap()
	b, _ := json.Marshal(Claim{Holder: "other", Expires: h.clock.Now().Add(24 * time.Hour)})
	cm.Data[keyClaim] = string(b)
	if err := h.cs.Tracker().Update(configMaps, cm, stateNS); err != nil {
		t.Fatal(err)
	}
	h.a.syncUntilDone(context.Background())
	for _, d := range h.slept() {
		if d > h.a.cfg.ClaimTTL+h.a.cfg.RetryMin {
			t.Errorf("slept %s for another instance's claim, more than ClaimTTL %s", d, h.a.cfg.ClaimTTL)
		}
	}
	if n := len(h.sink.received()); n != 0 {
		t.Errorf("%d announcements while another instance held an active claim", n)
	}
}

// conflictOn makes the nth update of the state ConfigMap fail with a
// conflict, after calling change (another writer) when it is not nil.
func conflictOn(h *harness, nth int, change func()) {
	n := 0
	h.cs.PrependReactor("update", "configmaps", func(k8stesting.Action) (bool, kruntime.Object, error) {
		n++
		if n != nth {
			return false, nil, nil
		}
		if change != nil {
			change()
		}
		return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, stateName, errors.New("the object has been modified"))
	})
}

// TestConflictOnClaim checks that a conflict while claiming reads the state
// again after a short random delay, without building the mesh again.
func TestConflictOnClaim(t *testing.T) {
	h := newHarness(t, Config{})
	conflictOn(h, 1, nil)
	h.a.syncUntilDone(context.Background())
	sleeps := h.slept()
	if len(sleeps) != 1 || sleeps[0] < DefaultConflictDelay/2 || sleeps[0] > DefaultConflictDelay {
		t.Errorf("slept %v before the retry, want one delay of %s to %s", sleeps, DefaultConflictDelay/2, DefaultConflictDelay)
	}
	if b := h.builds.Load(); b != 1 {
		t.Errorf("%d builds, want 1: a conflict needs no new mesh", b)
	}
	if n := len(h.sink.received()); n != 1 {
		t.Errorf("%d announcements, want 1", n)
	}
}

// TestConflictOnRecord checks that when the state ConfigMap changed between
// the claim and the record (kubectl apply set a label), the announcement is
// recorded on top of the change, not sent again.
func TestConflictOnRecord(t *testing.T) {
	h := newHarness(t, Config{})
	conflictOn(h, 2, func() {
		// Within a reactor: through the tracker, not the locked clientset.
		obj, err := h.cs.Tracker().Get(configMaps, stateNS, stateName)
		if err != nil {
			t.Error(err)
			return
		}
		cm := obj.(*corev1.ConfigMap).DeepCopy()
		cm.Labels["changed"] = "meanwhile"
		cm.ResourceVersion = "99"
		if err := h.cs.Tracker().Update(configMaps, cm, stateNS); err != nil {
			t.Error(err)
		}
	})
	h.a.syncUntilDone(context.Background())
	if n := len(h.sink.received()); n != 1 {
		t.Errorf("%d announcements, want 1", n)
	}
	got := h.state(t)
	if got.Data[keyDigest] == "" || got.Data[keyClaim] != "" || got.Labels["changed"] != "meanwhile" {
		t.Errorf("state after a conflicting record: labels %v, data %v", got.Labels, got.Data)
	}
}

// TestConflictsBounded checks that a state that always conflicts ends the
// attempts: maxConflicts tries per attempt, MaxAttempts attempts.
func TestConflictsBounded(t *testing.T) {
	h := newHarness(t, Config{MaxAttempts: 3})
	h.cs.PrependReactor("update", "configmaps", func(k8stesting.Action) (bool, kruntime.Object, error) {
		return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, stateName, errors.New("the object has been modified"))
	})
	h.a.syncUntilDone(context.Background())
	if got, want := h.updates(), 3*maxConflicts; got != want {
		t.Errorf("%d updates, want %d", got, want)
	}
	if n := len(h.sink.received()); n != 0 {
		t.Errorf("%d announcements without a claim", n)
	}
}

// TestSinkFailingBackoff checks that a failing sink is retried with
// jittered exponential backoff, MaxAttempts times, with the same id.
func TestSinkFailingBackoff(t *testing.T) {
	h := newHarness(t, Config{MaxAttempts: 5, RetryMin: time.Second, RetryMax: 4 * time.Second})
	h.sink.status.Store(http.StatusServiceUnavailable)
	jitters := []time.Duration{0, 100 * time.Millisecond, 0, time.Second}
	var i int
	h.a.randN = func(n time.Duration) time.Duration {
		j := min(jitters[i%len(jitters)], n-1)
		i++
		return j
	}
	h.a.syncUntilDone(context.Background())
	want := []time.Duration{time.Second, 2*time.Second + 100*time.Millisecond, 4 * time.Second, 4*time.Second + time.Second}
	if got := h.slept(); !slices.Equal(got, want) {
		t.Errorf("slept %v, want %v", got, want)
	}
	evs := h.sink.received()
	if len(evs) != 5 {
		t.Fatalf("%d attempts, want MaxAttempts (5)", len(evs))
	}
	for _, ev := range evs {
		if ev.ID() != evs[0].ID() {
			t.Errorf("attempts of one change with ids %s and %s", evs[0].ID(), ev.ID())
		}
	}
	if got := h.state(t).Data[keyDigest]; got != "" {
		t.Errorf("the state advanced to %s though the sink never accepted", got)
	}

	// The next notification tries again, and the sink accepts.
	h.sink.status.Store(http.StatusOK)
	h.a.syncUntilDone(context.Background())
	if got := h.state(t).Data[keyDigest]; got == "" {
		t.Error("the state did not advance once the sink accepted")
	}
}

// TestSinkStatuses checks which answers of the sink are retried: those
// Knative Eventing retries (5xx, 404, 408, 409, 429, and no answer), and
// 401 and 403, not the other 4xx.
func TestSinkStatuses(t *testing.T) {
	for _, tt := range []struct {
		status   int
		attempts int
	}{
		{http.StatusBadRequest, 1},
		// Retried: the token rotates, and the sink's configuration may be fixed.
		{http.StatusUnauthorized, 3},
		{http.StatusForbidden, 3},
		{http.StatusRequestEntityTooLarge, 1},
		{http.StatusUnprocessableEntity, 1},
		{http.StatusNotFound, 3},
		{http.StatusRequestTimeout, 3},
		{http.StatusConflict, 3},
		{http.StatusTooManyRequests, 3},
		{http.StatusInternalServerError, 3},
		{http.StatusBadGateway, 3},
	} {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			h := newHarness(t, Config{MaxAttempts: 3})
			h.sink.status.Store(int32(tt.status))
			h.a.syncUntilDone(context.Background())
			if n := len(h.sink.received()); n != tt.attempts {
				t.Errorf("status %d: %d attempts, want %d", tt.status, n, tt.attempts)
			}
			if got := h.state(t).Data[keyDigest]; got != "" {
				t.Errorf("the state advanced to %s though the sink answered %d", got, tt.status)
			}
			if got := h.state(t).Data[keyClaim]; got != "" {
				t.Errorf("the instance kept its claim after it gave up: %s", got)
			}
		})
	}
	t.Run("no answer", func(t *testing.T) {
		h := newHarness(t, Config{MaxAttempts: 3})
		h.sink.Close()
		h.a.syncUntilDone(context.Background())
		if n := len(h.slept()); n != 2 {
			t.Errorf("%d retries of an unreachable sink, want 2", n)
		}
	})
}

// TestIndexTooLarge checks that a mesh whose index outgrows the state is
// announced once, without the delta, and that the state keeps its digest
// only; the delta comes back once an index is kept again.
func TestIndexTooLarge(t *testing.T) {
	h := newHarness(t, Config{MaxIndexBytes: -1})
	h.a.syncUntilDone(context.Background())
	h.a.syncUntilDone(context.Background()) // the same mesh: nothing to announce
	evs := h.sink.received()
	if len(evs) != 1 {
		t.Fatalf("%d announcements of one mesh, want 1", len(evs))
	}
	a, raw := announcementOf(t, evs[0])
	if !a.DeltaOmitted || a.Delta != nil || raw["added"] != nil || a.Counts.EventTypes != 2 || a.Digest == "" {
		t.Errorf("announcement of a mesh too large to index: %s", evs[0].Data())
	}
	cm := h.state(t)
	if cm.Data[keyDigest] != a.Digest || cm.BinaryData[keyIndex] != nil {
		t.Errorf("state: digest %q, index of %d bytes; want the digest only", cm.Data[keyDigest], len(cm.BinaryData[keyIndex]))
	}

	// The index fits again: the last one is unknown, so no delta yet.
	h.a.cfg.MaxIndexBytes = DefaultMaxIndexBytes
	m := testMesh()
	m.Brokers = append(m.Brokers, mesh.Broker{Meta: mesh.Meta{Namespace: "a", Name: "b2"}})
	m.Normalize()
	h.mesh.Store(m)
	h.a.syncUntilDone(context.Background())
	m = testMesh()
	h.mesh.Store(m)
	h.a.syncUntilDone(context.Background())
	evs = h.sink.received()
	if len(evs) != 3 {
		t.Fatalf("%d announcements, want 3", len(evs))
	}
	if a, _ := announcementOf(t, evs[1]); !a.DeltaOmitted || a.Delta != nil {
		t.Errorf("a delta from an index that was not kept: %s", evs[1].Data())
	}
	if a, _ := announcementOf(t, evs[2]); a.DeltaOmitted || a.Delta == nil || len(a.Removed) != 1 {
		t.Errorf("no delta once the index is kept: %s", evs[2].Data())
	}
}

// TestFloodOfNotifications notifies the Announcer all the time, while a
// fake clock advances an eighth of a debounce window at a time: it
// rebuilds the mesh, but at most once per debounce window (and one more
// for the leading edge).
func TestFloodOfNotifications(t *testing.T) {
	h := newHarness(t, Config{Debounce: time.Second})
	stop := h.run()
	start := h.clock.Now()
	for range 200 {
		h.a.Notify()
		waitFor(t, func() bool { return len(h.a.notify) == 0 || h.clock.HasWaiters() })
		h.clock.Step(h.a.cfg.Debounce / 8)
	}
	stop()
	windows := int(h.clock.Since(start) / h.a.cfg.Debounce)
	builds := int(h.builds.Load())
	t.Logf("%d rebuilds in %d debounce windows", builds, windows)
	if builds == 0 {
		t.Fatalf("no rebuild in %d debounce windows of notifications", windows)
	}
	if builds > windows+1 {
		t.Errorf("%d rebuilds in %d debounce windows", builds, windows)
	}
	if n := len(h.sink.received()); n != 1 {
		t.Errorf("%d announcements of one mesh, want 1", n)
	}
}

// waitFor waits until cond holds: the Announcer's goroutine got to where
// the test expects it. It fails the test only when that never happens.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("the announcer never waited on its clock")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// TestLeadingEdge checks that the first change after a quiet period is
// announced at once, before the clock moves, that a change within Debounce
// of a sync goes out when Debounce has passed, and that a burst of 50
// changes in one second makes at most a few announcements.
func TestLeadingEdge(t *testing.T) {
	h := newHarness(t, Config{Debounce: time.Second})
	defer h.run()()
	change := func(i int) {
		m := testMesh()
		m.Brokers = append(m.Brokers, mesh.Broker{Meta: mesh.Meta{Namespace: "a", Name: fmt.Sprintf("burst-%d", i)}})
		m.Normalize()
		h.mesh.Store(m)
		h.a.Notify()
	}
	announced := func(n int) func() bool { return func() bool { return len(h.sink.received()) == n } }
	start := h.clock.Now()
	change(0)
	waitFor(t, announced(1))
	if d := h.clock.Since(start); d != 0 {
		t.Errorf("the first change was announced after %s, want at once", d)
	}
	// A change 300 ms after it goes out 700 ms later, when Debounce has passed.
	h.clock.Step(300 * time.Millisecond)
	change(1)
	waitFor(t, h.clock.HasWaiters)
	h.clock.Step(699 * time.Millisecond)
	time.Sleep(10 * time.Millisecond)
	if n := len(h.sink.received()); n != 1 {
		t.Fatalf("%d announcements within Debounce of the first, want 1", n)
	}
	h.clock.Step(time.Millisecond)
	waitFor(t, announced(2))

	// After a quiet period, a burst: 50 changes, 20 ms apart.
	h.clock.Step(5 * time.Second)
	before := len(h.sink.received())
	for i := 2; i < 52; i++ {
		change(i)
		// The Announcer took the notification before the clock moves.
		waitFor(t, func() bool { return len(h.a.notify) == 0 || h.clock.HasWaiters() })
		h.clock.Step(20 * time.Millisecond)
	}
	// Then quiet: the rest goes out. The clock moves until it has (the
	// goroutine may lag the clock), for at most 20 s.
	synced := func() bool { return h.state(t).Data[keyDigest] == Digest(mustEncode(t, h)) }
	for i := 0; !synced(); i++ {
		if i == 200 {
			t.Fatalf("the burst's last change was not announced within 20 s of quiet")
		}
		h.clock.Step(100 * time.Millisecond)
		time.Sleep(time.Millisecond)
	}
	n := len(h.sink.received()) - before
	t.Logf("50 changes in 1 s: %d announcements", n)
	if n < 1 || n > 3 {
		t.Errorf("50 changes in 1 s made %d announcements, want 1 to 3 (the first at once, the rest coalesced)", n)
	}
}

// run runs the Announcer on the harness's clock, sleeps included, until
// the function it returns is called.
func (h *harness) run() (stop func()) {
	h.a.sleep = h.a.clockSleep
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.a.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}
