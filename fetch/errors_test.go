package fetch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/knative-eventmesh/function/objects"
)

func TestWrap(t *testing.T) {
	triggers := schema.GroupResource{Group: "eventing.knative.dev", Resource: "triggers"}
	tests := []struct {
		name       string
		err        error
		reason     objects.Reason
		retryAfter time.Duration
	}{
		{"unauthorized", apierrors.NewUnauthorized("Unauthorized"), objects.Unauthorized, 0},
		{"forbidden", apierrors.NewForbidden(triggers, "", errors.New("no")), objects.Forbidden, 0},
		{"deadline", fmt.Errorf("get: %w", context.DeadlineExceeded), objects.Timeout, 0},
		{"server timeout", apierrors.NewServerTimeout(triggers, "list", 1), objects.Timeout, 0},
		{"timeout", apierrors.NewTimeoutError("slow", 1), objects.Timeout, 0},
		{"too many requests", apierrors.NewTooManyRequests("busy", 7), objects.Overloaded, 7 * time.Second},
		{"internal error", apierrors.NewInternalError(errors.New("boom")), objects.ServerError, 0},
		{"not found", apierrors.NewNotFound(triggers, ""), objects.NotServed, 0},
		{"bad request", apierrors.NewBadRequest("odd"), objects.Refused, 0},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, objects.Unreachable, 0},
	}
	for _, tt := range tests {
		err := wrap("list triggers", tt.err)
		var oe *objects.Error
		if !errors.As(err, &oe) {
			t.Fatalf("%s: %T is no *objects.Error", tt.name, err)
		}
		if oe.Reason != tt.reason || oe.RetryAfter != tt.retryAfter || oe.Doing != "list triggers" || !errors.Is(err, tt.err) {
			t.Errorf("%s: reason %d, retry after %s, doing %q; want %d, %s, and the cause kept", tt.name, oe.Reason, oe.RetryAfter, oe.Doing, tt.reason, tt.retryAfter)
		}
	}
}
