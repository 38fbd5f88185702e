package announce

import (
	"context"
	"testing"
)

// TestEventSubject checks that the announcement's subject is the cluster's
// name when one is configured, and absent otherwise.
func TestEventSubject(t *testing.T) {
	for _, subject := range []string{"", "prod-eu"} {
		h := newHarness(t, Config{Subject: subject})
		h.a.syncUntilDone(context.Background())
		evs := h.sink.received()
		if len(evs) != 1 {
			t.Fatalf("%d announcements, want 1", len(evs))
		}
		if got := evs[0].Subject(); got != subject {
			t.Errorf("configured subject %q: announced %q", subject, got)
		}
	}
}
