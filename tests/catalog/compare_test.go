package catalog

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/knative-eventmesh/function/tests/functest"
)

// mutation is what a provider applies to the catalog.
type mutation struct {
	Type     string `json:"type"`
	Entities []struct {
		Entity      map[string]any `json:"entity"`
		LocationKey string         `json:"locationKey"`
	} `json:"entities"`
}

// byRef indexes a mutation's entities by kind:namespace/name, with their
// location key.
func byRef(t *testing.T, who string, m mutation) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, e := range m.Entities {
		meta, _ := e.Entity["metadata"].(map[string]any)
		ref := e.Entity["kind"].(string) + ":" + meta["namespace"].(string) + "/" + meta["name"].(string)
		if _, dup := out[ref]; dup {
			t.Errorf("%s: %s twice", who, ref)
		}
		out[ref] = map[string]any{"entity": e.Entity, "locationKey": e.LocationKey}
	}
	return out
}

// ourPrefix is the prefix of the annotations our provider may add to the
// entities 1.21.0 also makes: who may send to an addressable.
const ourPrefix = "knative.dev/"

// ourKinds are the spec.type of the entities our provider adds: sinks,
// transforms, request-replies and flows.
var ourKinds = map[string]bool{
	"sinks.knative.dev:JobSink":           true,
	"sinks.knative.dev:IntegrationSink":   true,
	"eventing.knative.dev:EventTransform": true,
	"eventing.knative.dev:RequestReply":   true,
	"flows.knative.dev:Sequence":          true,
	"flows.knative.dev:Parallel":          true,
}

// withoutOurs returns entry (entity and location key) with the entity's
// annotations under ourPrefix left out, and their keys.
func withoutOurs(entry map[string]any) (map[string]any, []string) {
	entity := maps.Clone(entry["entity"].(map[string]any))
	meta := maps.Clone(entity["metadata"].(map[string]any))
	annotations, _ := meta["annotations"].(map[string]any)
	kept := map[string]any{}
	var ours []string
	for k, v := range annotations {
		if strings.HasPrefix(k, ourPrefix) {
			ours = append(ours, k)
		} else {
			kept[k] = v
		}
	}
	meta["annotations"] = kept
	entity["metadata"] = meta
	out := maps.Clone(entry)
	out["entity"] = entity
	return out, ours
}

// TestSameEntitiesAsPublished runs the published provider 1.21.0 and ours
// against the function serving the demo mesh, and compares what they
// apply to the catalog entity by entity: each entity of 1.21.0 is in ours
// the same in kind, namespace, name, title, annotations, spec, consumedBy
// and every other field, but for annotations under knative.dev/; and ours
// adds the demo's JobSink, EventTransform and Sequence, and no other.
func TestSameEntitiesAsPublished(t *testing.T) {
	fn := functest.Start(t, map[string]string{"KUBECONFIG": adminKubeconfig})
	for _, tt := range []struct{ name, baseURL string }{
		{"demo namespaces", fn.URL + "/namespaces/shop,finance"},
		{"whole cluster, trailing slash", fn.URL + "/"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "node", "dev/compare.js", "demo", tt.baseURL)
			cmd.Dir = Dir()
			cmd.Env = append(os.Environ(), "KNATIVE_EVENT_MESH_TOKEN="+readerToken)
			out, err := cmd.Output()
			if err != nil {
				var stderr []byte
				if e, ok := err.(*exec.ExitError); ok {
					stderr = e.Stderr
				}
				t.Fatalf("node dev/compare.js: %v\n%s", err, stderr)
			}
			var both struct{ Published, Ours mutation }
			if err := json.Unmarshal(out, &both); err != nil {
				t.Fatalf("decoding the mutations: %v\n%.2000s", err, out)
			}
			if both.Published.Type != "full" || both.Ours.Type != "full" {
				t.Errorf("mutation types: published %q, ours %q; want full", both.Published.Type, both.Ours.Type)
			}
			published, ours := byRef(t, "published", both.Published), byRef(t, "ours", both.Ours)
			refs := make([]string, 0, len(published))
			kinds := map[string]int{}
			for ref, e := range published {
				refs = append(refs, ref)
				kinds[typeOf(e)]++
			}
			sort.Strings(refs)
			added := 0
			for _, ref := range refs {
				o, ok := ours[ref]
				if !ok {
					t.Errorf("%s: 1.21.0 has it, ours has not", ref)
					continue
				}
				o, annotations := withoutOurs(o)
				added += len(annotations)
				if diff := cmp.Diff(published[ref], o); diff != "" {
					t.Errorf("%s differs, annotations under %s aside (-1.21.0 +ours):\n%s", ref, ourPrefix, diff)
				}
			}
			if added == 0 {
				t.Errorf("no annotation under %s on the entities 1.21.0 also makes: the demo's Brokers say who may send to them", ourPrefix)
			}
			if got := annotationOf(ours["Component:shop/orders"], ourPrefix+"authorization"); got != "event-policies" {
				t.Errorf("the orders Broker's %sauthorization is %q, want event-policies", ourPrefix, got)
			}
			extra := map[string]string{}
			for ref, e := range ours {
				if _, ok := published[ref]; !ok {
					extra[ref] = typeOf(e)
					if !ourKinds[typeOf(e)] {
						t.Errorf("%s: ours has it, 1.21.0 has not, and its type %s is none of ours", ref, typeOf(e))
					}
				}
			}
			// The demo has EventTypes, brokers, a channel and a source, and
			// a JobSink, an EventTransform and a Sequence.
			for _, typ := range []string{"eventType", "broker", "messaging.knative.dev:InMemoryChannel", "sources.knative.dev:PingSource"} {
				if kinds[typ] == 0 {
					t.Errorf("no entity of type %s in the mesh compared: %v", typ, kinds)
				}
			}
			for ref, typ := range map[string]string{
				"Component:finance/invoicer":   "sinks.knative.dev:JobSink",
				"Component:shop/audit-trimmer": "eventing.knative.dev:EventTransform",
				"Component:shop/fulfilment":    "flows.knative.dev:Sequence",
			} {
				if extra[ref] != typ {
					t.Errorf("%s: ours has it as %q, want a %s of ours only", ref, extra[ref], typ)
				}
			}
			t.Logf("%d entities of 1.21.0, the same in ours but for %d annotations under %s (by type: %v); %d more of ours: %v",
				len(published), added, ourPrefix, kinds, len(extra), extra)
		})
	}
}

// typeOf returns the spec.type of an entry's entity.
func typeOf(entry map[string]any) string {
	entity, _ := entry["entity"].(map[string]any)
	spec, _ := entity["spec"].(map[string]any)
	typ, _ := spec["type"].(string)
	return typ
}

// annotationOf returns an annotation of an entry's entity, or "".
func annotationOf(entry map[string]any, key string) string {
	entity, _ := entry["entity"].(map[string]any)
	meta, _ := entity["metadata"].(map[string]any)
	annotations, _ := meta["annotations"].(map[string]any)
	value, _ := annotations[key].(string)
	return value
}
