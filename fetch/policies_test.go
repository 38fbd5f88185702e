package fetch

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/knative-eventmesh/function/kubeclient"
	"github.com/knative-eventmesh/function/objects"
)

func TestAuthorizationMode(t *testing.T) {
	const path = "/api/v1/namespaces/" + FeaturesNamespace + "/configmaps/" + FeaturesConfigMap
	status := func(code int, reason string) string {
		return `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"` + reason + `","code":` + strconv.Itoa(code) + `}`
	}
	tests := []struct {
		name    string
		code    int
		body    string
		want    string
		warning string
		fails   bool
	}{
		{name: "set", code: 200, body: `{"data":{"default-authorization-mode":" deny-all\n"}}`, want: objects.DenyAll},
		{name: "key missing", code: 200, body: `{"data":{"authentication-oidc":"enabled"}}`, want: objects.AllowSameNamespace},
		{name: "no data", code: 200, body: `{}`, want: objects.AllowSameNamespace},
		{name: "ConfigMap missing", code: 404, body: status(404, "NotFound"), want: objects.AllowSameNamespace},
		{name: "forbidden", code: 403, body: status(403, "Forbidden"), warning: "the default authorization mode left out"},
		{name: "server error", code: 500, body: status(500, "InternalError"), fails: true},
		{name: "not JSON", code: 200, body: `<html>`, fails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != path {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.code)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			rc, err := rest.UnversionedRESTClientFor(&rest.Config{Host: srv.URL, ContentConfig: rest.ContentConfig{NegotiatedSerializer: scheme.Codecs.WithoutConversion()}})
			if err != nil {
				t.Fatal(err)
			}
			r := &reader{c: &kubeclient.Clients{REST: rc}, objs: &objects.Set{}, inFlight: make(chan struct{}, 1)}
			err = r.authorizationMode(context.Background())
			if (err != nil) != tt.fails {
				t.Fatalf("error %v, want an error: %v", err, tt.fails)
			}
			if r.objs.DefaultAuthorizationMode != tt.want {
				t.Errorf("mode %q, want %q", r.objs.DefaultAuthorizationMode, tt.want)
			}
			if w := strings.Join(r.objs.Warnings, "\n"); !strings.Contains(w, tt.warning) || (tt.warning == "") != (w == "") {
				t.Errorf("warnings %q, want one saying %q", w, tt.warning)
			}
		})
	}
}
