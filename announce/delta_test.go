package announce

import (
	"context"
	"testing"

	"github.com/knative-eventmesh/function/mesh"
)

func TestDeltaEmpty(t *testing.T) {
	k := []mesh.Key{{Kind: "Broker", Namespace: "a", Name: "b"}}
	tests := []struct {
		name string
		d    Delta
		want bool
	}{
		{"nothing", Delta{}, true},
		{"added", Delta{Added: k}, false},
		{"added and removed", Delta{Added: k, Removed: k}, false},
		{"removed and updated", Delta{Removed: k, Updated: k}, false},
		{"updated", Delta{Updated: k}, false},
	}
	for _, tt := range tests {
		if got := tt.d.Empty(); got != tt.want {
			t.Errorf("%s: Empty() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestKeyOf(t *testing.T) {
	tests := []struct {
		key  string
		want mesh.Key
	}{
		{"eventing.knative.dev/Broker/a/b", mesh.Key{Kind: "Broker", Namespace: "a", Name: "b"}},
		{"g/Broker/a/b/c", mesh.Key{Kind: "Broker", Namespace: "a", Name: "b/c"}},
		{"g/Broker", mesh.Key{Kind: "Broker"}},
		{"", mesh.Key{}},
	}
	for _, tt := range tests {
		if got := keyOf(tt.key); got != tt.want {
			t.Errorf("keyOf(%q) = %+v, want %+v", tt.key, got, tt.want)
		}
	}
}

// TestIndexAtLimitKept checks that an index of exactly MaxIndexBytes is
// kept, and the announcement carries its delta.
func TestIndexAtLimitKept(t *testing.T) {
	_, b := testIndex(t)
	h := newHarness(t, Config{MaxIndexBytes: len(b)})
	h.a.syncUntilDone(context.Background())
	evs := h.sink.received()
	if len(evs) != 1 {
		t.Fatalf("%d announcements, want 1", len(evs))
	}
	if a, _ := announcementOf(t, evs[0]); a.DeltaOmitted || h.state(t).BinaryData[keyIndex] == nil {
		t.Errorf("an index of exactly the limit was not kept: %s", evs[0].Data())
	}
}
