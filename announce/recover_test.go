package announce

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/knative-eventmesh/function/mesh"
)

// gzipped returns data gzipped.
func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDamagedState checks that push recovers by itself from a state
// ConfigMap it cannot read: it announces the whole mesh once, without a
// delta, and writes a state that reads again.
func TestDamagedState(t *testing.T) {
	huge := append(append([]byte(`{"x":"`), bytes.Repeat([]byte("a"), maxIndexJSON)...), `"}`...)
	tests := []struct {
		name   string
		damage func(cm *corev1.ConfigMap)
	}{
		{"sequence", func(cm *corev1.ConfigMap) { cm.Data[keySequence] = "three" }},
		{"claim", func(cm *corev1.ConfigMap) { cm.Data[keyClaim] = `{"holder":` }},
		{"index no gzip", func(cm *corev1.ConfigMap) { cm.BinaryData[keyIndex] = []byte("not gzip") }},
		{"index no JSON", func(cm *corev1.ConfigMap) { cm.BinaryData[keyIndex] = gzipped(t, []byte("[1,")) }},
		{"index over the limit", func(cm *corev1.ConfigMap) { cm.BinaryData[keyIndex] = gzipped(t, huge) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cm := stateConfigMap()
			cm.Data[keyDigest] = "sha256:old"
			cm.Data[keySequence] = "3"
			cm.BinaryData = map[string][]byte{keyIndex: gzipped(t, []byte(`{}`))}
			tt.damage(cm)
			h := newHarness(t, Config{MaxAttempts: 2}, cm)
			var logs bytes.Buffer
			h.a.log = slog.New(slog.NewTextHandler(&logs, nil))
			h.a.syncUntilDone(context.Background())
			if !strings.Contains(logs.String(), "level=WARN msg=\"the state ConfigMap does not read") {
				t.Errorf("no Warning in the log about the damaged state:\n%s", logs.String())
			}
			h.a.syncUntilDone(context.Background()) // the same mesh: nothing more
			evs := h.sink.received()
			if len(evs) != 1 {
				t.Fatalf("%d announcements, want 1", len(evs))
			}
			if a, _ := announcementOf(t, evs[0]); !a.DeltaOmitted || a.Delta != nil || a.PreviousDigest != "" {
				t.Errorf("announcement after a damaged state: %s; want the whole mesh, no delta, no previous digest", evs[0].Data())
			}
			st, err := h.a.store.Load(context.Background())
			if err != nil || st.Damaged != nil || st.Digest != Digest(mustEncode(t, h)) || st.Sequence != 1 || st.Claim != nil || st.Index == nil {
				t.Errorf("state after recovering: %+v, error %v; want a good state of the mesh", st, err)
			}
		})
	}
}

// TestIndexLimit checks that an index of exactly the limit reads, and one
// byte more does not.
func TestIndexLimit(t *testing.T) {
	body := []byte(`{"x":"aaaa"}`)
	if idx, err := decodeIndex(gzipped(t, body), len(body)); err != nil || len(idx) != 1 {
		t.Errorf("an index of the limit: %d entries, error %v", len(idx), err)
	}
	if _, err := decodeIndex(gzipped(t, body), len(body)-1); err == nil || !strings.Contains(err.Error(), "over") {
		t.Errorf("an index over the limit: error %v", err)
	}
}

func mustEncode(t *testing.T, h *harness) []byte {
	t.Helper()
	b, err := mesh.Encode(h.mesh.Load())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// optimistic makes the fake clientset's updates of the state ConfigMap
// check and advance the resourceVersion, as the API server does: an
// update of a ConfigMap read before the last update conflicts.
func optimistic(h *harness) {
	h.cs.PrependReactor("update", "configmaps", func(action k8stesting.Action) (bool, kruntime.Object, error) {
		cm := action.(k8stesting.UpdateAction).GetObject().(*corev1.ConfigMap).DeepCopy()
		obj, err := h.cs.Tracker().Get(configMaps, stateNS, stateName)
		if err != nil {
			return true, nil, err
		}
		stored := obj.(*corev1.ConfigMap)
		if cm.ResourceVersion != stored.ResourceVersion {
			return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, stateName, errors.New("the object has been modified"))
		}
		n, _ := strconv.Atoi(stored.ResourceVersion)
		cm.ResourceVersion = strconv.Itoa(n + 1)
		if err := h.cs.Tracker().Update(configMaps, cm, stateNS); err != nil {
			return true, nil, err
		}
		return true, cm, nil
	})
}

// TestRaceToRecord runs two announcers on one state: the first claims and
// sends, but its claim expires before it records; the second takes the
// claim over meanwhile. The first must not record over the second's
// claim: only the holder of the claim records the announcement.
func TestRaceToRecord(t *testing.T) {
	h := newHarness(t, Config{Holder: "first"})
	optimistic(h)
	second := newHarness(t, Config{Holder: "second"})
	second.a.store = h.a.store // the same state ConfigMap
	second.a.clock = h.clock

	ctx := context.Background()
	m := h.mesh.Load()
	body := mustEncode(t, h)
	digest := Digest(body)
	idx, err := IndexOf(m)
	if err != nil {
		t.Fatal(err)
	}
	st, ev, err := h.a.claim(ctx, m, digest, idx)
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Step(h.a.cfg.ClaimTTL + time.Second) // the first's claim expires
	st2, ev2, err := second.a.claim(ctx, m, digest, idx)
	if err != nil {
		t.Fatalf("the second announcer could not take over an expired claim: %v", err)
	}

	err = h.a.record(ctx, st, ev, digest, idx)
	if err == nil || !strings.Contains(err.Error(), "another instance took over the claim") {
		t.Errorf("the first announcer recorded over the second's claim: error %v", err)
	}
	got, err := h.a.store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Claim == nil || got.Claim.Holder != "second" || got.Sequence != 0 || got.Digest != "" {
		t.Errorf("state after the first's record: claim %+v, sequence %d, digest %q; want the second's claim, nothing recorded", got.Claim, got.Sequence, got.Digest)
	}

	if err := second.a.record(ctx, st2, ev2, digest, idx); err != nil {
		t.Fatalf("the holder of the claim could not record: %v", err)
	}
	got, err = h.a.store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Claim != nil || got.Sequence != 1 || got.Digest != digest {
		t.Errorf("state after the second's record: claim %+v, sequence %d, digest %q; want one announcement recorded", got.Claim, got.Sequence, got.Digest)
	}
}
