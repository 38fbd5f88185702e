package catalog

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"sort"
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

// TestSameEntitiesAsPublished runs the published provider 1.21.0 and ours
// against the function serving the demo mesh, and compares what they
// apply to the catalog entity by entity: kind, namespace, name, title,
// annotations, spec, consumedBy and every other field.
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
				spec := e["entity"].(map[string]any)["spec"].(map[string]any)
				kinds[spec["type"].(string)]++
			}
			sort.Strings(refs)
			for _, ref := range refs {
				o, ok := ours[ref]
				if !ok {
					t.Errorf("%s: 1.21.0 has it, ours has not", ref)
					continue
				}
				if diff := cmp.Diff(published[ref], o); diff != "" {
					t.Errorf("%s differs (-1.21.0 +ours):\n%s", ref, diff)
				}
			}
			for ref := range ours {
				if _, ok := published[ref]; !ok {
					t.Errorf("%s: ours has it, 1.21.0 has not", ref)
				}
			}
			// The demo has EventTypes, brokers, a channel and a source.
			for _, typ := range []string{"eventType", "broker", "messaging.knative.dev:InMemoryChannel", "sources.knative.dev:PingSource"} {
				if kinds[typ] == 0 {
					t.Errorf("no entity of type %s in the mesh compared: %v", typ, kinds)
				}
			}
			t.Logf("%d entities, identical in both providers (by type: %v)", len(published), kinds)
		})
	}
}
