package announce

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/protocol"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

// TestBackoffLargestJitter checks the bounds of the jitter: a retry waits
// the backoff plus at most half of it, and the largest jitter is reached.
func TestBackoffLargestJitter(t *testing.T) {
	h := newHarness(t, Config{MaxAttempts: 4, RetryMin: time.Second, RetryMax: 4 * time.Second})
	h.sink.status.Store(http.StatusServiceUnavailable)
	h.a.syncUntilDone(context.Background())
	want := []time.Duration{1500 * time.Millisecond, 3 * time.Second, 6 * time.Second}
	if got := h.slept(); !slices.Equal(got, want) {
		t.Errorf("slept %v, want %v: each backoff plus the largest jitter, half of it", got, want)
	}
}

func TestJitter(t *testing.T) {
	a := &Announcer{randN: func(n time.Duration) time.Duration { return n - 1 }}
	for _, tt := range []struct{ d, want time.Duration }{
		{-time.Second, 0}, {0, 0}, {1, 1}, {time.Second, time.Second},
	} {
		if got := a.jitter(tt.d); got != tt.want {
			t.Errorf("largest jitter(%v) = %v, want %v", tt.d, got, tt.want)
		}
	}
}

// TestRecordFailureRetried checks that an announcement the sink accepted
// but the state could not record is tried again until it is recorded:
// otherwise the next change would be announced against a stale state.
func TestRecordFailureRetried(t *testing.T) {
	h := newHarness(t, Config{MaxAttempts: 3})
	n := 0
	h.cs.PrependReactor("update", "configmaps", func(k8stesting.Action) (bool, kruntime.Object, error) {
		n++
		if n == 2 { // the record after the claim
			return true, nil, apierrors.NewInternalError(context.DeadlineExceeded)
		}
		return false, nil, nil
	})
	h.a.syncUntilDone(context.Background())
	got := h.state(t)
	if got.Data[keyDigest] == "" || got.Data[keyClaim] != "" {
		t.Errorf("state after a failed record: %v; want the digest recorded and no claim", got.Data)
	}
	evs := h.sink.received()
	if len(evs) != 2 || evs[0].ID() != evs[1].ID() {
		t.Errorf("%d announcements, want the same one sent again after the failed record", len(evs))
	}
}

// deadlineClient records the deadline of each send.
type deadlineClient struct {
	cloudevents.Client
	deadlines []time.Duration
}

func (c *deadlineClient) Send(ctx context.Context, _ cloudevents.Event) protocol.Result {
	d, ok := ctx.Deadline()
	if !ok {
		c.deadlines = append(c.deadlines, -1)
		return nil
	}
	c.deadlines = append(c.deadlines, time.Until(d))
	return nil
}

// TestSendEndsBeforeClaim checks that a send ends within half the claim's
// lifetime, so the claim still holds when the announcement is recorded.
func TestSendEndsBeforeClaim(t *testing.T) {
	// A sync may take longer than the claim: the send's own bound counts.
	h := newHarness(t, Config{ClaimTTL: time.Hour, SyncTimeout: 3 * time.Hour})
	c := &deadlineClient{}
	h.a.client = c
	h.a.syncUntilDone(context.Background())
	if len(c.deadlines) != 1 || c.deadlines[0] < 0 || c.deadlines[0] > 30*time.Minute {
		t.Errorf("sends with deadlines in %v, want one within half the claim's hour", c.deadlines)
	}
}
