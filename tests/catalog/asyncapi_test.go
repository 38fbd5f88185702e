package catalog

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/knative-eventmesh/function/tests/functest"
)

// teamOfAnalytics is the Component of the demo's analytics workload, a
// consumer of shop/order-created.
const teamOfAnalytics = `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: analytics-service
  namespace: shop
  annotations:
    backstage.io/kubernetes-id: analytics
spec:
  type: service
  lifecycle: production
  owner: shop
`

// TestAPITypeAsyncAPI runs our provider with apiType asyncapi against the
// function serving the demo mesh: in the catalog, the API of
// shop/order-created has spec.type asyncapi, its definition is the
// function's document of that EventType, and it is related to its
// consumer as an eventType API is.
func TestAPITypeAsyncAPI(t *testing.T) {
	fn := functest.Start(t, map[string]string{"KUBECONFIG": adminKubeconfig})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	b, err := Start(ctx, Options{
		Providers:   map[string]Provider{"prod": {BaseURL: fn.URL + "/namespaces/shop,finance", Token: readerToken, APIType: "asyncapi"}},
		Entities:    teamOfAnalytics,
		LocalEvents: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = b.Stop(10 * time.Second) })

	resp := fn.Get(t, "/v1/asyncapi?eventType=shop/order-created", readerToken)
	if resp.Status != http.StatusOK {
		t.Fatalf("GET /v1/asyncapi?eventType=shop/order-created: %d %s", resp.Status, resp.Body)
	}
	var want any
	if err := json.Unmarshal(resp.Body, &want); err != nil {
		t.Fatal(err)
	}

	var api struct {
		Spec struct {
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"spec"`
	}
	path := "/api/catalog/entities/by-name/api/shop/order-created"
	waitFor(t, "the API shop/order-created with its relation to analytics-service", time.Now(), func() (bool, error) {
		status, body, err := b.get(ctx, path)
		if err != nil || status != http.StatusOK {
			return false, err
		}
		var e Entity
		if err := json.Unmarshal(body, &e); err != nil {
			return false, err
		}
		if err := json.Unmarshal(body, &api); err != nil {
			return false, err
		}
		return e.HasRelation("apiConsumedBy", "component:shop/analytics-service"), nil
	})
	if api.Spec.Type != "asyncapi" {
		t.Errorf("spec.type is %q, want asyncapi", api.Spec.Type)
	}
	var got any
	if err := json.Unmarshal([]byte(api.Spec.Definition), &got); err != nil {
		t.Fatalf("spec.definition is not JSON: %v\n%.500s", err, api.Spec.Definition)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("spec.definition is not the function's document of shop/order-created (-want +got):\n%s", diff)
	}
}
