// Package benchmesh seeds a cluster with the mesh of make bench: units of
// one team each (a namespace, a Broker, 20 EventTypes and 100 Triggers,
// each to its own labelled Knative Service). tests/bench measures builds
// of it; tests/asyncapi checks its AsyncAPI document.
package benchmesh

import (
	"context"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// The cluster grows in units of one team: a namespace with one Broker, the
// EventTypes it provides, and Triggers on it, each to its own Knative
// Service labelled with a Backstage id. N triggers are N/100 units, so the
// mesh holds N/100 brokers and N/5 EventTypes.
const (
	TriggersPerUnit   = 100
	EventTypesPerUnit = 20
)

var (
	namespacesGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	brokersGVR    = schema.GroupVersionResource{Group: "eventing.knative.dev", Version: "v1", Resource: "brokers"}
	eventTypesGVR = schema.GroupVersionResource{Group: "eventing.knative.dev", Version: "v1beta2", Resource: "eventtypes"}
	triggersGVR   = schema.GroupVersionResource{Group: "eventing.knative.dev", Version: "v1", Resource: "triggers"}
	ksvcGVR       = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}
)

// entities and actions make the 20 CloudEvent types of a unit:
// com.example.<team>.<entity>.<action>.
var (
	entities = []string{"order", "payment", "shipment", "invoice", "customer"}
	actions  = []string{"created", "updated", "cancelled", "completed"}
)

// object is an object to create.
type object struct {
	gvr schema.GroupVersionResource
	obj *unstructured.Unstructured
}

// Seeder creates units in a cluster, cumulatively.
type Seeder struct {
	Dyn dynamic.Interface
	// Workers is how many create requests are in flight at once.
	Workers int
	units   int // units created so far
}

// Grow creates units until the cluster holds n triggers, and returns how
// long that took.
func (s *Seeder) Grow(ctx context.Context, n int) (time.Duration, error) {
	start := time.Now()
	var nss, rest []object
	for u := s.units; u < n/TriggersPerUnit; u++ {
		objs := unitObjects(u)
		nss = append(nss, objs[0])
		rest = append(rest, objs[1:]...)
	}
	if err := s.create(ctx, nss); err != nil {
		return 0, err
	}
	if err := s.create(ctx, rest); err != nil {
		return 0, err
	}
	s.units = n / TriggersPerUnit
	return time.Since(start), nil
}

// create creates objs with s.workers requests in flight.
func (s *Seeder) create(ctx context.Context, objs []object) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	todo := make(chan object)
	var wg sync.WaitGroup
	for range s.Workers {
		wg.Go(func() {
			for o := range todo {
				r := s.Dyn.Resource(o.gvr).Namespace(o.obj.GetNamespace())
				if _, err := r.Create(ctx, o.obj, metav1.CreateOptions{}); err != nil {
					cancel(fmt.Errorf("creating %s %s/%s: %w", o.gvr.Resource, o.obj.GetNamespace(), o.obj.GetName(), err))
				}
			}
		})
	}
feed:
	for _, o := range objs {
		select {
		case todo <- o:
		case <-ctx.Done():
			break feed
		}
	}
	close(todo)
	wg.Wait()
	return context.Cause(ctx)
}

// unitNamespace is the namespace of unit u.
func unitNamespace(u int) string { return fmt.Sprintf("team-%03d", u) }

// unitObjects returns the objects of unit u, its namespace first.
func unitObjects(u int) []object {
	ns := unitNamespace(u)
	objs := []object{
		{namespacesGVR, obj("v1", "Namespace", "", ns, nil, nil)},
		{brokersGVR, obj("eventing.knative.dev/v1", "Broker", ns, "default",
			map[string]any{"app.kubernetes.io/part-of": ns},
			map[string]any{}),
		},
	}
	for j := range EventTypesPerUnit {
		entity, action := entities[j/len(actions)], actions[j%len(actions)]
		spec := map[string]any{
			"type":        eventType(ns, j),
			"source":      "https://" + ns + ".example.com/" + entity,
			"description": "A " + entity + " was " + action + ".",
			"reference":   map[string]any{"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "default"},
		}
		if j%2 == 0 {
			spec["schema"] = "https://schemas.example.com/" + ns + "/" + entity + "-" + action + ".json"
		}
		objs = append(objs, object{eventTypesGVR, obj("eventing.knative.dev/v1beta2", "EventType", ns, entity+"-"+action,
			map[string]any{"app.kubernetes.io/part-of": ns}, spec)})
	}
	for k := range TriggersPerUnit {
		sub := fmt.Sprintf("sub-%03d", k)
		ksvc := map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{
			map[string]any{"image": "registry.example.com/" + ns + "/" + sub + ":latest"},
		}}}}
		objs = append(objs, object{ksvcGVR, obj("serving.knative.dev/v1", "Service", ns, sub,
			map[string]any{"backstage.io/kubernetes-id": ns + "-" + sub, "app.kubernetes.io/part-of": ns}, ksvc)})
		spec, _ := triggerSpec(ns, k)
		spec["broker"] = "default"
		spec["subscriber"] = map[string]any{"ref": map[string]any{"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": sub}}
		objs = append(objs, object{triggersGVR, obj("eventing.knative.dev/v1", "Trigger", ns, fmt.Sprintf("trigger-%03d", k), nil, spec)})
	}
	return objs
}

// eventType is the CloudEvent type of EventType j of namespace ns.
func eventType(ns string, j int) string {
	return "com.example." + ns + "." + entities[j/len(actions)] + "." + actions[j%len(actions)]
}

// triggerSpec returns the filter part of the spec of trigger k of namespace
// ns, and how many of the unit's EventTypes it lets through. Of every 100
// triggers, 80 filter on filter.attributes.type, 10 on an exact type, 6 on
// a type prefix, 3 with CESQL, and 1 has no filter.
func triggerSpec(ns string, k int) (map[string]any, int) {
	typ := eventType(ns, k%EventTypesPerUnit)
	prefix := "com.example." + ns + "."
	filters := func(f ...any) map[string]any { return map[string]any{"filters": f} }
	switch {
	case k < 80:
		return map[string]any{"filter": map[string]any{"attributes": map[string]any{"type": typ}}}, 1
	case k < 90:
		return filters(map[string]any{"exact": map[string]any{"type": typ}}), 1
	case k < 96:
		return filters(map[string]any{"prefix": map[string]any{"type": prefix + entities[k%len(entities)] + "."}}), len(actions)
	case k == 96:
		return filters(map[string]any{"cesql": fmt.Sprintf("type = '%s' AND source LIKE 'https://%%.example.com/%%'", typ)}), 1
	case k == 97:
		return filters(map[string]any{"cesql": fmt.Sprintf("type LIKE '%spayment.%%'", prefix)}), len(actions)
	case k == 98:
		return filters(map[string]any{"cesql": fmt.Sprintf("type IN ('%s', '%s')", eventType(ns, 1), eventType(ns, 2))}), 2
	default:
		return map[string]any{}, EventTypesPerUnit
	}
}

// ConsumersPerUnit is the number of consumedBy entries of one unit's
// EventTypes: each trigger's subscriber once per EventType it lets through.
func ConsumersPerUnit() int {
	n := 0
	for k := range TriggersPerUnit {
		_, m := triggerSpec(unitNamespace(0), k)
		n += m
	}
	return n
}

// obj returns an object; an empty spec is left out.
func obj(apiVersion, kind, ns, name string, labels, spec map[string]any) *unstructured.Unstructured {
	meta := map[string]any{"name": name}
	if ns != "" {
		meta["namespace"] = ns
	}
	if labels != nil {
		meta["labels"] = labels
	}
	o := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": meta}
	if len(spec) > 0 {
		o["spec"] = spec
	}
	return &unstructured.Unstructured{Object: o}
}
