package function

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/knative-eventmesh/function/mesh"
)

func TestAsyncAPIView(t *testing.T) {
	m := &mesh.Mesh{EventTypes: []mesh.EventType{{Meta: mesh.Meta{Namespace: "shop", Name: "created"}, Type: "com.example.created"}}}
	m.Normalize()
	tests := []struct {
		query    string
		wantErr  bool
		wantName string
		// wantNotFound: the view builds, and its encoding is a 404.
		wantNotFound bool
		wantIn       string
	}{
		{query: "", wantName: "asyncapi", wantIn: `"asyncapi":"3.0.0"`},
		{query: "eventType=shop/created", wantName: "asyncapi shop/created", wantIn: `"title":"com.example.created"`},
		{query: "eventType=shop/missing", wantName: "asyncapi shop/missing", wantNotFound: true},
		{query: "eventType=shop", wantErr: true},
		{query: "eventType=", wantErr: true},
		{query: "eventType=Shop/created", wantErr: true},
		{query: "eventType=shop/a/b", wantErr: true},
		{query: "eventType=shop/a&eventType=shop/b", wantErr: true},
		{query: "namespace=shop", wantErr: true},
		{query: "by=eventType", wantName: "asyncapi by eventType", wantIn: `{"shop/created":{"asyncapi":"3.0.0"`},
		{query: "by=channel", wantErr: true},
		{query: "by=eventType&eventType=shop/created", wantErr: true},
	}
	for _, tt := range tests {
		v, err := asyncAPIView(httptest.NewRequest("GET", "/v1/asyncapi?"+tt.query, nil))
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: error %v, want error %v", tt.query, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if v.name != tt.wantName || !v.receivers {
			t.Errorf("%q: view %q (receivers %v), want %q with receivers", tt.query, v.name, v.receivers, tt.wantName)
		}
		body, err := v.encode(m)
		var nf *notFound
		if errors.As(err, &nf) != tt.wantNotFound {
			t.Errorf("%q: encoding error %v, want not found %v", tt.query, err, tt.wantNotFound)
		}
		if !strings.Contains(string(body), tt.wantIn) {
			t.Errorf("%q: document %.200s lacks %s", tt.query, body, tt.wantIn)
		}
	}
}
