package respond

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/knative-eventmesh/function/objects"
)

func TestStatus(t *testing.T) {
	wrap := func(reason objects.Reason, err error) error {
		return fmt.Errorf("building: %w", &objects.Error{Doing: "list triggers.eventing.knative.dev at the cluster scope", Reason: reason, Err: err})
	}
	tests := []struct {
		name   string
		err    error
		status int
		says   string
	}{
		{"unauthorized", wrap(objects.Unauthorized, errors.New("Unauthorized")), 401, "rejected the token"},
		{"forbidden", wrap(objects.Forbidden, errors.New("no")), 403, "may not list triggers.eventing.knative.dev at the cluster scope"},
		{"deadline", wrap(objects.Unreachable, context.DeadlineExceeded), 504, "did not answer in time (request deadline 20s)"},
		{"timeout", wrap(objects.Timeout, errors.New("slow")), 504, "in time"},
		{"too many requests", wrap(objects.Overloaded, errors.New("busy")), 503, "overloaded"},
		{"internal error", wrap(objects.ServerError, errors.New("boom")), 503, "failed to list"},
		{"not served", wrap(objects.NotServed, errors.New("not found")), 502, "install Knative Eventing"},
		{"bad request", wrap(objects.Refused, errors.New("odd")), 502, "refused to list"},
		{"malformed", wrap(objects.Malformed, errors.New(`parse "%zz": invalid URL escape`)), 502, "could not be read"},
		{"connection refused", wrap(objects.Unreachable, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}), 503, "unreachable"},
		{"unwrapped", errors.New("dial tcp: no route"), 503, "while trying to read the mesh"},
	}
	for _, tt := range tests {
		status, msg := Status(tt.err, 20*time.Second)
		if status != tt.status || !strings.Contains(msg, tt.says) {
			t.Errorf("%s: Status = %d %q, want %d and a message saying %q", tt.name, status, msg, tt.status, tt.says)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	err := fmt.Errorf("building: %w", &objects.Error{Doing: "list", Reason: objects.Overloaded, RetryAfter: 3 * time.Second, Err: errors.New("busy")})
	if got := RetryAfter(err); got != 3*time.Second {
		t.Errorf("RetryAfter = %s, want 3s", got)
	}
	if got := RetryAfter(errors.New("other")); got != 0 {
		t.Errorf("RetryAfter of an untyped error = %s, want 0", got)
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
		JSON(w, r, body, nil, etag, []string{`CRDs "left" out`})
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

func TestJSONBoundsWarnings(t *testing.T) {
	for _, n := range []int{MaxWarnings, MaxWarnings + 1, 100} {
		var warnings []string
		for i := range n {
			warnings = append(warnings, fmt.Sprintf("object %d left out", i))
		}
		w := httptest.NewRecorder()
		JSON(w, httptest.NewRequest(http.MethodGet, "/v1/getEventMesh", nil), []byte(`{}`), nil, `W/"x"`, warnings)
		got := w.Header().Values("Warning")
		if len(got) != min(n, MaxWarnings) {
			t.Fatalf("%d warnings: %d Warning headers, want %d", n, len(got), min(n, MaxWarnings))
		}
		last := got[len(got)-1]
		if more := n - MaxWarnings + 1; n > MaxWarnings && !strings.Contains(last, fmt.Sprintf("and %d more", more)) {
			t.Errorf("%d warnings: last header %q, want it to say %d more", n, last, more)
		}
		if n == MaxWarnings && !strings.Contains(last, fmt.Sprintf("object %d left out", n-1)) {
			t.Errorf("%d warnings: last header %q, want the last warning", n, last)
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		accept string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP", true},
		{"br, gzip;q=0.5", true},
		{"gzip; q=0", false},
		{"gzip;q=0.0", false},
		{"gzip;q=x", false},
		{"deflate, br", false},
		{"*", false},
		{"xgzip", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/v1/getEventMesh", nil)
		r.Header.Set("Accept-Encoding", tt.accept)
		if got := AcceptsGzip(r); got != tt.want {
			t.Errorf("AcceptsGzip(%q) = %v, want %v", tt.accept, got, tt.want)
		}
	}
}

// TestJSONGzipped checks that the gzipped body goes to a GET that accepts
// gzip, and the plain body to the others.
func TestJSONGzipped(t *testing.T) {
	body := []byte(`{"eventTypes":[]}`)
	gzipped, err := Gzip(body)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		method, accept string
		gzip           bool
	}{
		{http.MethodGet, "gzip", true},
		{http.MethodGet, "", false},
		{http.MethodHead, "gzip", false},
	} {
		r := httptest.NewRequest(tt.method, "/v1/getEventMesh", nil)
		r.Header.Set("Accept-Encoding", tt.accept)
		w := httptest.NewRecorder()
		JSON(w, r, body, gzipped, ETag(body), nil)
		gotGzip := w.Header().Get("Content-Encoding") == "gzip"
		if gotGzip != tt.gzip {
			t.Errorf("%s with Accept-Encoding %q: Content-Encoding %q", tt.method, tt.accept, w.Header().Get("Content-Encoding"))
		}
		want := body
		if tt.gzip {
			zr, err := gzip.NewReader(w.Body)
			if err != nil {
				t.Fatal(err)
			}
			if want, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(want, body) {
				t.Errorf("gunzipped %q, want %q", want, body)
			}
		} else if tt.method == http.MethodGet && !bytes.Equal(w.Body.Bytes(), want) {
			t.Errorf("%s with Accept-Encoding %q: body %q, want %q", tt.method, tt.accept, w.Body.Bytes(), body)
		}
	}
}
