// Package eventtypes tests EventTypes of a cluster that stores them as
// v1beta3 and no longer serves v1beta2; tests/e2e covers Eventing's own
// CRD, which stores v1beta2.
package eventtypes

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/knative-eventmesh/function/mesh"
	"github.com/knative-eventmesh/function/tests/cluster"
	"github.com/knative-eventmesh/function/tests/functest"
)

var (
	testCluster     *cluster.Cluster
	adminKubeconfig string
	readerToken     string
	// scopedToken may read the mesh of namespace "shop" only: it cannot
	// read the EventType CRD to learn the storage version.
	scopedToken string
)

// v1beta3Only makes the EventType CRD store v1beta3 and stop serving
// v1beta2 and v1beta1.
func v1beta3Only(crd *apiextensionsv1.CustomResourceDefinition) bool {
	if crd.Name != "eventtypes.eventing.knative.dev" {
		return true
	}
	for i := range crd.Spec.Versions {
		v := &crd.Spec.Versions[i]
		v.Storage = v.Name == "v1beta3"
		v.Served = v.Name == "v1beta3"
	}
	return true
}

func TestMain(m *testing.M) {
	cluster.Main(m, cluster.Options{CRDFilter: v1beta3Only}, func(c *cluster.Cluster) error {
		testCluster = c
		ctx := context.Background()
		var err error
		if adminKubeconfig, err = c.AdminKubeconfig(); err != nil {
			return err
		}
		if err := c.InstallRBAC(ctx, filepath.Join("..", "..", "rbac")); err != nil {
			return err
		}
		if err := c.Apply(ctx, []byte(objects)); err != nil {
			return err
		}
		if readerToken, err = c.Token(ctx, "knative-eventing", "eventmesh-reader", time.Hour); err != nil {
			return err
		}
		scopedToken, err = c.NamespaceReaderToken(ctx, "shop", "team")
		return err
	})
}

const objects = `
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: orders
  namespace: shop
---
apiVersion: eventing.knative.dev/v1beta3
kind: EventType
metadata:
  name: order-created
  namespace: shop
spec:
  description: An order was placed.
  reference:
    apiVersion: eventing.knative.dev/v1
    kind: Broker
    name: orders
  attributes:
  - {name: type, value: com.example.order.created, required: true}
  - {name: source, value: https://shop.example.com/orders, required: true}
  - {name: schemadata, value: https://schemas.example.com/order-created.json}
  - {name: id, required: true}
  - {name: specversion, value: "1.0", required: true}
---
apiVersion: eventing.knative.dev/v1beta3
kind: EventType
metadata:
  name: order-shipped
  namespace: shop
spec:
  reference:
    apiVersion: eventing.knative.dev/v1
    kind: Broker
    name: orders
  attributes:
  - {name: type, value: com.example.order.shipped, required: true}
  - {name: dataschema, value: https://schemas.example.com/order-shipped.json}
  - {name: source, value: "/shops/{shop}", required: true}
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: auditor
  namespace: shop
  labels:
    backstage.io/kubernetes-id: auditor
spec:
  template:
    spec:
      containers:
      - image: example.com/auditor
---
# Consumes what comes from the shop's orders source: the first EventType
# pins that source, the second leaves it open (a template), so both could.
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: auditor
  namespace: shop
spec:
  broker: orders
  filters:
  - exact:
      source: https://shop.example.com/orders
  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: auditor
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: other
  namespace: shop
  labels:
    backstage.io/kubernetes-id: other
spec:
  template:
    spec:
      containers:
      - image: example.com/other
---
# Pins another source: the first EventType cannot match it.
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: other
  namespace: shop
spec:
  broker: orders
  filters:
  - exact:
      source: https://elsewhere.example.com
  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: other
`

func want() *mesh.Mesh {
	orders := &mesh.Reference{Group: "eventing.knative.dev", Kind: "Broker", Namespace: "shop", Name: "orders"}
	m := &mesh.Mesh{
		EventTypes: []mesh.EventType{
			{Meta: mesh.Meta{Namespace: "shop", Name: "order-created"}, Type: "com.example.order.created",
				Description: "An order was placed.", SchemaURL: "https://schemas.example.com/order-created.json",
				Reference: orders, ConsumedBy: []string{"auditor"}},
			{Meta: mesh.Meta{Namespace: "shop", Name: "order-shipped"}, Type: "com.example.order.shipped",
				SchemaURL: "https://schemas.example.com/order-shipped.json",
				Reference: orders, ConsumedBy: []string{"auditor", "other"}},
		},
		Brokers: []mesh.Broker{{Meta: mesh.Meta{Namespace: "shop", Name: "orders"},
			ProvidedEventTypes: []string{"shop/order-created", "shop/order-shipped"}}},
	}
	m.Normalize()
	return m
}

func TestV1beta3(t *testing.T) {
	fn := functest.Start(t, map[string]string{"KUBECONFIG": adminKubeconfig, "LOG_LEVEL": "debug"})
	for _, tt := range []struct {
		name, path, token string
		// mode is the default authorization mode: Eventing's default, as
		// this cluster has no config-features, or unknown to a token
		// that may not read it.
		mode string
	}{
		// The reader may read the CRD: it lists at the storage version.
		{"storage version from the CRD", "/namespaces/shop/v1/getEventMesh", readerToken, "allow-same-namespace"},
		// This token may not read the CRD: v1beta2 answers 404, then
		// v1beta3 is read.
		{"fallback without the CRD", "/namespaces/shop/v1/getEventMesh", scopedToken, mesh.UnknownAuthorizationMode},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := fn.Get(t, tt.path, tt.token)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			// The list begun at v1beta2, before discovery named v1beta3,
			// is dropped without a trace.
			for _, w := range r.Header.Values("Warning") {
				if strings.Contains(strings.ToLower(w), "eventtype") {
					t.Errorf("Warning %q, want none about EventTypes", w)
				}
			}
			got := decode(t, r.Body)
			w := want()
			w.DefaultAuthorizationMode = tt.mode
			if diff := cmp.Diff(w, got); diff != "" {
				t.Errorf("mesh differs (-want +got):\n%s", diff)
			}
		})
	}
}

func decode(t *testing.T, body []byte) *mesh.Mesh {
	t.Helper()
	var m mesh.Mesh
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	for i := range m.EventTypes {
		m.EventTypes[i].UID = ""
	}
	for i := range m.Brokers {
		m.Brokers[i].UID = ""
	}
	return &m
}
