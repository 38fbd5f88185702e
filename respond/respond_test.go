package respond

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/knative-eventmesh/function/fetch"
)

func TestStatus(t *testing.T) {
	triggers := schema.GroupResource{Group: "eventing.knative.dev", Resource: "triggers"}
	wrap := func(err error) error {
		return fmt.Errorf("building: %w", &fetch.Error{Doing: "list triggers.eventing.knative.dev at the cluster scope", Err: err})
	}
	tests := []struct {
		name   string
		err    error
		status int
		says   string
	}{
		{"unauthorized", wrap(apierrors.NewUnauthorized("Unauthorized")), 401, "rejected the token"},
		{"forbidden", wrap(apierrors.NewForbidden(triggers, "", errors.New("no"))), 403, "may not list triggers.eventing.knative.dev at the cluster scope"},
		{"deadline", wrap(context.DeadlineExceeded), 504, "did not answer in time (request deadline 20s)"},
		{"server timeout", wrap(apierrors.NewServerTimeout(triggers, "list", 1)), 504, "in time"},
		{"timeout", wrap(apierrors.NewTimeoutError("slow", 1)), 504, "in time"},
		{"too many requests", wrap(apierrors.NewTooManyRequests("busy", 1)), 503, "overloaded"},
		{"internal error", wrap(apierrors.NewInternalError(errors.New("boom"))), 503, "failed to list"},
		{"not found", wrap(apierrors.NewNotFound(triggers, "")), 502, "install Knative Eventing"},
		{"bad request", wrap(apierrors.NewBadRequest("odd")), 502, "refused to list"},
		{"connection refused", wrap(&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}), 503, "unreachable"},
		{"unwrapped", errors.New("dial tcp: no route"), 503, "while trying to read the mesh"},
	}
	for _, tt := range tests {
		status, msg := Status(tt.err, 20*time.Second)
		if status != tt.status || !strings.Contains(msg, tt.says) {
			t.Errorf("%s: Status = %d %q, want %d and a message saying %q", tt.name, status, msg, tt.status, tt.says)
		}
	}
}

func TestError(t *testing.T) {
	w := httptest.NewRecorder()
	Error(w, http.StatusNotFound, `no "such" path`)
	var body struct{ Error string }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error != `no "such" path` {
		t.Errorf("body %q: %v", w.Body, err)
	}
	if w.Code != 404 || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("status %d, content type %q", w.Code, w.Header().Get("Content-Type"))
	}
}

func TestJSONConditional(t *testing.T) {
	body := []byte(`{"eventTypes":[]}`)
	etag := ETag(body)
	tests := []struct {
		ifNoneMatch string
		status      int
	}{
		{"", 200},
		{etag, 304},
		{strings.TrimPrefix(etag, "W/"), 304},
		{`"a", ` + etag, 304},
		{"*", 304},
		{`"other"`, 200},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/v1/getEventMesh", nil)
		if tt.ifNoneMatch != "" {
			r.Header.Set("If-None-Match", tt.ifNoneMatch)
		}
		w := httptest.NewRecorder()
		JSON(w, r, body, etag, []string{`CRDs "left" out`})
		if w.Code != tt.status {
			t.Errorf("If-None-Match %q: status %d, want %d", tt.ifNoneMatch, w.Code, tt.status)
		}
		if w.Header().Get("ETag") != etag {
			t.Errorf("ETag %q, want %q", w.Header().Get("ETag"), etag)
		}
		if got := w.Header().Get("Warning"); got != `299 - "CRDs \"left\" out"` {
			t.Errorf("Warning %q", got)
		}
		if tt.status == 200 && w.Body.String() != string(body) {
			t.Errorf("body %q", w.Body)
		}
	}
}
