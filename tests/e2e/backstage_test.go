package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/knative-eventmesh/function/mesh"
	"github.com/knative-eventmesh/function/tests/npm"
)

// The published Backstage provider, run by tests/backstage/provider.mjs.
const (
	// providerID is the provider's id in Backstage's config; the provider
	// uses it as the entities' lifecycle and in their location key.
	providerID = "e2e"
	// The annotations the provider sets on every entity.
	annotationLocation       = "backstage.io/managed-by-location"
	annotationOriginLocation = "backstage.io/managed-by-origin-location"
)

// npmCI are the flags of npm ci for tests/backstage/package-lock.json. The
// provider needs no install scripts nor optional dependencies.
var npmCI = []string{"--ignore-scripts", "--omit=optional", "--no-audit", "--no-fund"}

// TestBackstageProvider runs the published provider 1.21.0 against the
// demo mesh, whose JSON carries the fields and lists added beside the four
// it reads (flows, sinks, EventPolicies, audiences): it reads it
// unchanged, into the entities it always made.
func TestBackstageProvider(t *testing.T) {
	dir := installProvider(t)
	fn := startFunction(t)
	served := fn.Get(t, "/namespaces/shop,finance/v1/getEventMesh", readerToken)
	for _, added := range []string{`"flows":[{`, `"sinks":[{`, `"eventTransforms":[{`, `"eventPolicies":[{`, `"allowedSenders":[{`,
		`"audience":"eventing.knative.dev/broker/shop/orders"`, `"defaultAuthorizationMode":"allow-same-namespace"`} {
		if !bytes.Contains(served.Body, []byte(added)) {
			t.Errorf("the mesh the provider reads lacks %s: %s", added, served.Body)
		}
	}

	t.Run("namespaces", func(t *testing.T) {
		baseURL := fn.URL + "/namespaces/shop,finance"
		got := providerEntities(t, dir, baseURL)
		checkEntities(t, got, wantEntities(wantDemo(), baseURL), true)
	})
	t.Run("whole cluster", func(t *testing.T) {
		// Other tests' namespaces may add entities.
		baseURL := fn.URL + "/"
		got := providerEntities(t, dir, baseURL)
		checkEntities(t, got, wantEntities(wantDemo(), baseURL), false)
	})
	t.Run("bad token", func(t *testing.T) {
		stdout, stderr, err := runProvider(t, dir, fn.URL, "not-a-token")
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("the provider should fail, got %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
		}
		if !bytes.Contains(stderr, []byte("Unauthorized")) && !bytes.Contains(stderr, []byte("401")) {
			t.Errorf("the provider's error does not say 401 or Unauthorized:\n%s", stderr)
		}
	})
}

// installProvider installs tests/backstage (see package npm) and returns
// its directory. It fails the test when npm cannot install.
func installProvider(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "backstage"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	took, err := npm.CI(ctx, dir, npmCI...)
	if err != nil {
		t.Fatalf("installing the Backstage provider: %v", err)
	}
	if took > 0 {
		t.Logf("installed the Backstage provider with npm in %s", took.Round(time.Second))
	}
	return dir
}

// runProvider runs one run of the Backstage provider against baseURL with
// token.
func runProvider(t *testing.T, dir, baseURL, token string) (stdout, stderr []byte, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "provider.mjs", baseURL)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KNATIVE_EVENT_MESH_TOKEN="+token, "KNATIVE_EVENT_MESH_ID="+providerID)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.Bytes(), e.Bytes(), err
}

// catalogEntity holds the fields of a Backstage entity that the provider
// derives from the mesh.
type catalogEntity struct {
	APIVersion string          `json:"apiVersion"`
	Kind       string          `json:"kind"`
	Metadata   catalogMetadata `json:"metadata"`
	Spec       catalogSpec     `json:"spec"`
}

type catalogMetadata struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	Title       string            `json:"title"`
	Description string            `json:"description"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Links       []catalogLink     `json:"links"`
	ConsumedBy  []string          `json:"consumedBy"`
}

type catalogLink struct {
	URL string `json:"url"`
}

type catalogSpec struct {
	Type         string   `json:"type"`
	Lifecycle    string   `json:"lifecycle"`
	Definition   string   `json:"definition"`
	ProvidesAPIs []string `json:"providesApis"`
}

// ref returns the entity's reference in the catalog, kind:namespace/name.
func (e catalogEntity) ref() string {
	return e.Kind + ":" + e.Metadata.Namespace + "/" + e.Metadata.Name
}

// providerEntities runs the provider against baseURL with the reader's
// token, checks the mutation it applies, and returns its entities.
func providerEntities(t *testing.T, dir, baseURL string) []catalogEntity {
	t.Helper()
	stdout, stderr, err := runProvider(t, dir, baseURL, readerToken)
	if err != nil {
		t.Fatalf("running the provider against %s: %v\nstderr:\n%s", baseURL, err, stderr)
	}
	var mutation struct {
		Type     string `json:"type"`
		Entities []struct {
			Entity      catalogEntity `json:"entity"`
			LocationKey string        `json:"locationKey"`
		} `json:"entities"`
	}
	if err := json.Unmarshal(stdout, &mutation); err != nil {
		t.Fatalf("decoding the provider's mutation: %v\n%s", err, stdout)
	}
	if mutation.Type != "full" {
		t.Errorf("mutation type %q, want full", mutation.Type)
	}
	var entities []catalogEntity
	for _, e := range mutation.Entities {
		if want := "knative-event-mesh-provider-" + providerID; e.LocationKey != want {
			t.Errorf("%s: location key %q, want %q", e.Entity.ref(), e.LocationKey, want)
		}
		entities = append(entities, e.Entity)
	}
	return entities
}

// wantEntities returns the entities the provider should make of mesh m read
// from baseURL: an API per EventType, a Component per Broker, subscribable
// and source.
func wantEntities(m *mesh.Mesh, baseURL string) []catalogEntity {
	m.Normalize()
	component := func(meta mesh.Meta, typ string, provided []string) catalogEntity {
		apis := []string{}
		for _, p := range provided {
			apis = append(apis, "api:"+p)
		}
		return catalogEntity{
			APIVersion: "backstage.io/v1alpha1",
			Kind:       "Component",
			Metadata:   wantMetadata(meta, baseURL),
			Spec:       catalogSpec{Type: typ, Lifecycle: providerID, ProvidesAPIs: apis},
		}
	}
	var want []catalogEntity
	for _, et := range m.EventTypes {
		md := wantMetadata(et.Meta, baseURL)
		md.Title = fmt.Sprintf("%s - (%s/%s)", et.Type, et.Namespace, et.Name)
		md.Description = et.Description
		md.Links = []catalogLink{}
		if et.SchemaURL != "" {
			md.Links = append(md.Links, catalogLink{URL: et.SchemaURL})
		}
		md.ConsumedBy = append([]string{}, et.ConsumedBy...)
		def := et.SchemaData
		if def == "" {
			def = "{}"
		}
		want = append(want, catalogEntity{
			APIVersion: "backstage.io/v1alpha1",
			Kind:       "API",
			Metadata:   md,
			Spec:       catalogSpec{Type: "eventType", Lifecycle: providerID, Definition: def},
		})
	}
	for _, b := range m.Brokers {
		want = append(want, component(b.Meta, "broker", b.ProvidedEventTypes))
	}
	for _, s := range m.Subscribables {
		want = append(want, component(s.Meta, s.Group+":"+s.Kind, s.ProvidedEventTypes))
	}
	for _, s := range m.Sources {
		want = append(want, component(s.Meta, s.Group+":"+s.Kind, s.ProvidedEventTypes))
	}
	return want
}

// wantMetadata returns the metadata the provider makes of an entity's
// meta: labels and annotations always a map, and the annotations with the
// location of the mesh.
func wantMetadata(meta mesh.Meta, baseURL string) catalogMetadata {
	md := catalogMetadata{Name: meta.Name, Namespace: meta.Namespace, Labels: map[string]string{}, Annotations: map[string]string{}}
	for k, v := range meta.Labels {
		md.Labels[k] = v
	}
	for k, v := range meta.Annotations {
		md.Annotations[k] = v
	}
	md.Annotations[annotationLocation] = "url:" + baseURL
	md.Annotations[annotationOriginLocation] = "url:" + baseURL
	return md
}

// checkEntities checks that each of want is among got, once, and when
// exact, that got holds nothing else.
func checkEntities(t *testing.T, got, want []catalogEntity, exact bool) {
	t.Helper()
	byRef := map[string][]catalogEntity{}
	for _, e := range got {
		byRef[e.ref()] = append(byRef[e.ref()], e)
	}
	wanted := map[string]bool{}
	for _, w := range want {
		wanted[w.ref()] = true
		g := byRef[w.ref()]
		switch len(g) {
		case 0:
			t.Errorf("no entity %s", w.ref())
		case 1:
			if diff := cmp.Diff(w, g[0]); diff != "" {
				t.Errorf("entity %s differs (-want +got):\n%s", w.ref(), diff)
			}
		default:
			t.Errorf("%d entities %s, the catalog keeps one", len(g), w.ref())
		}
	}
	if !exact {
		return
	}
	for ref := range byRef {
		if !wanted[ref] {
			t.Errorf("unexpected entity %s", ref)
		}
	}
}
