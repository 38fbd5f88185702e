package function

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// startFunction starts a Function on an empty fake cluster, with env added
// to its environment.
func startFunction(t *testing.T, env map[string]string) *Function {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(emptyCluster))
	t.Cleanup(srv.Close)
	all := map[string]string{"KUBECONFIG": writeKubeconfigFor(t, srv.URL)}
	for k, v := range env {
		all[k] = v
	}
	f := New(WithLogOutput(io.Discard))
	if err := f.Start(context.Background(), all); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestMeshMethods checks that the mesh is read with GET or HEAD, and
// nothing else.
func TestMeshMethods(t *testing.T) {
	f := startFunction(t, nil)
	for _, tt := range []struct {
		method string
		status int
	}{
		{http.MethodGet, http.StatusOK},
		{http.MethodHead, http.StatusOK},
		{http.MethodPost, http.StatusMethodNotAllowed},
		{http.MethodPut, http.StatusMethodNotAllowed},
		{http.MethodDelete, http.StatusMethodNotAllowed},
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(tt.method, meshPath, nil)
		r.Header.Set("Authorization", "Bearer reader")
		f.Handle(w, r)
		if w.Code != tt.status {
			t.Errorf("%s %s: %d, want %d", tt.method, meshPath, w.Code, tt.status)
		}
		if tt.status == http.StatusMethodNotAllowed && w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q, want GET, HEAD", tt.method, meshPath, w.Header().Get("Allow"))
		}
		if tt.method == http.MethodHead && w.Body.Len() != 0 {
			t.Errorf("HEAD %s sent a body of %d bytes", meshPath, w.Body.Len())
		}
	}
}

// TestStop checks that Stop ends push when it is on, and returns at once
// when it is off.
func TestStop(t *testing.T) {
	for _, env := range []map[string]string{nil, {"K_SINK": "http://127.0.0.1:1"}} {
		f := startFunction(t, env)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := f.Stop(ctx)
		cancel()
		if err != nil {
			t.Errorf("Stop with K_SINK=%q: %v", env["K_SINK"], err)
		}
		if f.pushDone != nil {
			select {
			case <-f.pushDone:
			default:
				t.Error("Stop returned while push still runs")
			}
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, tt := range []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "abc..."},
		{"", 0, ""},
	} {
		if got := truncate(tt.s, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
	// A namespace of 64 characters is one too long, and named whole.
	ns := strings.Repeat("a", 64)
	if _, err := parseNamespaces(ns, meshPath); err == nil || !strings.Contains(err.Error(), `"`+ns+`"`) {
		t.Errorf("error %v, want one naming %q whole", err, ns)
	}
}

// TestRoutes checks where each path leads, without a cluster: the mesh
// and its AsyncAPI document, their namespaced forms, and the intake.
func TestRoutes(t *testing.T) {
	off := startFunction(t, nil)
	on := startFunction(t, map[string]string{"K_SINK": "http://127.0.0.1:1"})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = on.Stop(ctx)
	})
	tests := []struct {
		name   string
		f      *Function
		method string
		path   string
		status int
		body   string // part of the body
	}{
		{"AsyncAPI", off, http.MethodGet, "/v1/asyncapi", http.StatusOK, `"asyncapi":"3.0.0"`},
		{"AsyncAPI, unknown query", off, http.MethodGet, "/v1/asyncapi?color=red", http.StatusBadRequest, "unknown query"},
		{"AsyncAPI of namespaces", off, http.MethodGet, "/namespaces/shop/v1/asyncapi", http.StatusOK, `"asyncapi":"3.0.0"`},
		{"AsyncAPI of a bad namespace", off, http.MethodGet, "/namespaces/Shop/v1/asyncapi", http.StatusBadRequest, "bad namespace"},
		{"mesh of a bad namespace", off, http.MethodGet, "/namespaces/Shop/v1/getEventMesh", http.StatusBadRequest, "bad namespace"},
		{"intake with push off", off, http.MethodPost, "/", http.StatusConflict, "push is off"},
		{"intake with push on", on, http.MethodPost, "/", http.StatusAccepted, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(tt.method, tt.path, nil)
			r.Header.Set("Authorization", "Bearer reader")
			if tt.method == http.MethodPost {
				for k, v := range map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "1", "Ce-Source": "/apiserversource", "Ce-Type": "dev.knative.apiserver.resource.update"} {
					r.Header.Set(k, v)
				}
			}
			tt.f.Handle(w, r)
			if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.body) {
				t.Errorf("%s %s: %d %.200s; want %d and a body with %q", tt.method, tt.path, w.Code, w.Body, tt.status, tt.body)
			}
		})
	}
}
