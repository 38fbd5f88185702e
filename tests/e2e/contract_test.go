package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/knative-eventmesh/function/mesh"
)

const (
	eventing  = "eventing.knative.dev"
	messaging = "messaging.knative.dev"
	sources   = "sources.knative.dev"
)

// ksvc returns a Knative Service named name in namespace {{ns}}, labelled
// with Backstage id id ("" for no label).
func ksvc(name, id string) string {
	label := ""
	if id != "" {
		label = "\n  labels:\n    backstage.io/kubernetes-id: " + id
	}
	return `
---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: ` + name + `
  namespace: {{ns}}` + label + `
spec:
  template:
    spec:
      containers:
      - image: example.com/app
`
}

// eventType returns a v1beta2 EventType of type typ referring to a Broker.
func eventType(name, typ, broker string) string {
	return `
---
apiVersion: eventing.knative.dev/v1beta2
kind: EventType
metadata:
  name: ` + name + `
  namespace: {{ns}}
spec:
  type: ` + typ + `
  reference:
    apiVersion: eventing.knative.dev/v1
    kind: Broker
    name: ` + broker + `
`
}

// trigger returns a Trigger on broker with the given spec lines (filter or
// filters, indented by two) and a subscriber Knative Service.
func trigger(name, broker, filter, subscriber string) string {
	return `
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: ` + name + `
  namespace: {{ns}}
spec:
  broker: ` + broker + filter + `
  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: ` + subscriber + `
`
}

const broker = `
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: b
  namespace: {{ns}}
`

// A scenario applies objects in a namespace of its own and reads that
// namespace's mesh with the Backstage reader's token.
type scenario struct {
	name    string
	objects string
	// want returns the expected mesh for namespace ns.
	want func(ns string) *mesh.Mesh
	// warnings are what the Warning headers must say, one each: the
	// malformed objects of the scenario, left out.
	warnings []string
}

func TestContract(t *testing.T) {
	fn := startFunction(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			ns := newNamespace(t)
			apply(t, ns, sc.objects)
			r := fn.Get(t, "/namespaces/"+ns+"/v1/getEventMesh", readerToken)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			var warnings []string
			for _, w := range sc.warnings {
				warnings = append(warnings, strings.ReplaceAll(w, "{{ns}}", ns))
			}
			checkWarnings(t, r.Header.Values("Warning"), warnings)
			checkMesh(t, decodeMesh(t, r.Body), sc.want(ns))
		})
	}
}

// checkWarnings checks that there is one Warning for each malformed object
// of want, and no other: the reader may read everything.
func checkWarnings(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("Warnings %q, want one saying each of %q", got, want)
		return
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.Contains(g, w) }) {
			t.Errorf("no Warning says %q: %q", w, got)
		}
	}
}

func meta(ns, name string) mesh.Meta { return mesh.Meta{Namespace: ns, Name: name} }

var scenarios = []scenario{
	{
		name:    "empty namespace",
		objects: "",
		want:    func(string) *mesh.Mesh { return &mesh.Mesh{} },
	},
	{
		name: "broker labels and annotations",
		objects: `
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: labelled
  namespace: {{ns}}
  labels: {team: shop, tier: gold}
  annotations:
    eventing.knative.dev/broker.class: MTChannelBasedBroker
    kubectl.kubernetes.io/last-applied-configuration: '{"big":"json"}'
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: applied
  namespace: {{ns}}
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"big":"json"}'
` + broker,
		want: func(ns string) *mesh.Mesh {
			return &mesh.Mesh{Brokers: []mesh.Broker{
				{Meta: meta(ns, "applied")},
				{Meta: meta(ns, "b")},
				{Meta: mesh.Meta{Namespace: ns, Name: "labelled",
					Labels:      map[string]string{"team": "shop", "tier": "gold"},
					Annotations: map[string]string{"eventing.knative.dev/broker.class": "MTChannelBasedBroker"}}},
			}}
		},
	},
	{
		name:     "event types v1beta2 fields and references",
		warnings: []string{"/no-type left out"},
		objects: broker + `
---
apiVersion: eventing.knative.dev/v1beta2
kind: EventType
metadata:
  name: full
  namespace: {{ns}}
  labels: {app: shop}
spec:
  type: com.example.full
  source: https://example.com/source
  schema: https://example.com/schema.json
  schemaData: '{"type":"object"}'
  description: Everything set.
  reference:
    apiVersion: eventing.knative.dev/v1
    kind: Broker
    name: b
---
apiVersion: eventing.knative.dev/v1beta2
kind: EventType
metadata:
  name: bare
  namespace: {{ns}}
spec:
  type: com.example.bare
---
apiVersion: eventing.knative.dev/v1beta2
kind: EventType
metadata:
  name: elsewhere
  namespace: {{ns}}
spec:
  type: com.example.elsewhere
  reference:
    apiVersion: eventing.knative.dev/v1
    kind: Broker
    name: b
    namespace: some-other-namespace
---
apiVersion: eventing.knative.dev/v1beta2
kind: EventType
metadata:
  name: deprecated-broker-field
  namespace: {{ns}}
spec:
  type: com.example.old
  broker: b
---
apiVersion: eventing.knative.dev/v1beta2
kind: EventType
metadata:
  name: no-type
  namespace: {{ns}}
spec:
  description: Malformed, left out.
`,
		want: func(ns string) *mesh.Mesh {
			return &mesh.Mesh{
				EventTypes: []mesh.EventType{
					{Meta: meta(ns, "bare"), Type: "com.example.bare"},
					{Meta: meta(ns, "deprecated-broker-field"), Type: "com.example.old", Reference: ref(eventing, "Broker", ns, "b")},
					{Meta: meta(ns, "elsewhere"), Type: "com.example.elsewhere", Reference: ref(eventing, "Broker", ns, "b")},
					{Meta: mesh.Meta{Namespace: ns, Name: "full", Labels: map[string]string{"app": "shop"}},
						Type: "com.example.full", Description: "Everything set.", SchemaURL: "https://example.com/schema.json",
						SchemaData: `{"type":"object"}`, Reference: ref(eventing, "Broker", ns, "b")},
				},
				Brokers: []mesh.Broker{{Meta: meta(ns, "b"), ProvidedEventTypes: []string{ns + "/deprecated-broker-field", ns + "/elsewhere", ns + "/full"}}},
			}
		},
	},
	{
		name:     "trigger filters",
		warnings: []string{"/cesql-invalid left out"},
		objects: broker +
			eventType("created", "com.example.a.created", "b") +
			eventType("deleted", "com.example.a.deleted", "b") +
			eventType("other", "org.other.event", "b") +
			`
---
apiVersion: eventing.knative.dev/v1beta2
kind: EventType
metadata:
  name: sourced
  namespace: {{ns}}
spec:
  type: com.example.a.created
  source: https://shop.example.com
  reference:
    apiVersion: eventing.knative.dev/v1
    kind: Broker
    name: b
` +
			ksvc("all", "id-all") + trigger("no-filter", "b", "", "all") +
			ksvc("empty", "id-empty") + trigger("empty-type", "b", "\n  filter:\n    attributes:\n      type: \"\"", "empty") +
			ksvc("attr", "id-attr") + trigger("attribute-type", "b", "\n  filter:\n    attributes:\n      type: com.example.a.created", "attr") +
			ksvc("attr-src", "id-attr-src") + trigger("attribute-type-and-source", "b", "\n  filter:\n    attributes:\n      type: com.example.a.created\n      source: https://shop.example.com", "attr-src") +
			ksvc("exact", "id-exact") + trigger("exact", "b", "\n  filters:\n  - exact: {type: com.example.a.deleted}", "exact") +
			ksvc("prefix", "id-prefix") + trigger("prefix", "b", "\n  filters:\n  - prefix: {type: com.example.}", "prefix") +
			ksvc("suffix", "id-suffix") + trigger("suffix", "b", "\n  filters:\n  - suffix: {type: .deleted}", "suffix") +
			ksvc("allof", "id-all-of") + trigger("all-of", "b", "\n  filters:\n  - all:\n    - prefix: {type: com.example.}\n    - suffix: {type: created}", "allof") +
			ksvc("anyof", "id-any-of") + trigger("any-of", "b", "\n  filters:\n  - any:\n    - exact: {type: org.other.event}\n    - suffix: {type: .deleted}", "anyof") +
			ksvc("not", "id-not") + trigger("not", "b", "\n  filters:\n  - not:\n      exact: {type: com.example.a.created}", "not") +
			ksvc("cesql", "id-cesql") + trigger("cesql", "b", "\n  filters:\n  - cesql: \"type LIKE '%.created' OR type = 'org.other.event'\"", "cesql") +
			ksvc("cesql-unknown", "id-cesql-unknown") + trigger("cesql-unknown-attribute", "b", "\n  filters:\n  - cesql: \"subject = 'orders'\"", "cesql-unknown") +
			ksvc("cesql-source", "id-cesql-source") + trigger("cesql-pinned-source", "b", "\n  filters:\n  - cesql: \"source = 'https://shop.example.com'\"", "cesql-source") +
			ksvc("cesql-bad", "id-cesql-bad") + trigger("cesql-invalid", "b", "\n  filters:\n  - cesql: \"type = = 'x'\"", "cesql-bad") +
			ksvc("override", "id-override") + trigger("filters-override-filter", "b", "\n  filter:\n    attributes:\n      type: org.other.event\n  filters:\n  - exact: {type: com.example.a.deleted}", "override") +
			ksvc("twice", "id-twice") + trigger("twice-1", "b", "\n  filters:\n  - exact: {type: org.other.event}", "twice") + trigger("twice-2", "b", "", "twice") +
			ksvc("lost", "id-lost") + trigger("missing-broker", "no-such-broker", "", "lost"),
		want: func(ns string) *mesh.Mesh {
			br := ref(eventing, "Broker", ns, "b")
			et := func(name, typ string, consumers ...string) mesh.EventType {
				return mesh.EventType{Meta: meta(ns, name), Type: typ, Reference: br, ConsumedBy: consumers}
			}
			return &mesh.Mesh{
				EventTypes: []mesh.EventType{
					et("created", "com.example.a.created", "id-all", "id-empty", "id-attr", "id-attr-src", "id-prefix", "id-all-of", "id-cesql", "id-cesql-unknown", "id-cesql-source", "id-twice"),
					et("deleted", "com.example.a.deleted", "id-all", "id-empty", "id-exact", "id-prefix", "id-suffix", "id-any-of", "id-not", "id-cesql-unknown", "id-cesql-source", "id-override", "id-twice"),
					et("other", "org.other.event", "id-all", "id-empty", "id-any-of", "id-not", "id-cesql", "id-cesql-unknown", "id-cesql-source", "id-twice"),
					et("sourced", "com.example.a.created", "id-all", "id-empty", "id-attr", "id-attr-src", "id-prefix", "id-all-of", "id-cesql", "id-cesql-unknown", "id-cesql-source", "id-twice"),
				},
				Brokers: []mesh.Broker{{Meta: meta(ns, "b"), ProvidedEventTypes: []string{ns + "/created", ns + "/deleted", ns + "/other", ns + "/sourced"}}},
			}
		},
	},
	{
		name: "subscribers",
		objects: broker + eventType("e", "com.example.e", "b") +
			ksvc("labelled", "id-labelled") + trigger("labelled", "b", "", "labelled") +
			ksvc("unlabelled", "") + trigger("unlabelled", "b", "", "unlabelled") +
			trigger("missing", "b", "", "no-such-service") + `
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: uri
  namespace: {{ns}}
spec:
  broker: b
  subscriber:
    uri: https://hooks.example.com/x
---
apiVersion: v1
kind: Service
metadata:
  name: plain
  namespace: {{ns}}
  labels:
    backstage.io/kubernetes-id: id-core-service
spec:
  ports:
  - port: 80
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: core-service
  namespace: {{ns}}
spec:
  broker: b
  subscriber:
    ref:
      apiVersion: v1
      kind: Service
      name: plain
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
  namespace: {{ns}}
  labels:
    backstage.io/kubernetes-id: id-forbidden
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: forbidden-kind
  namespace: {{ns}}
spec:
  broker: b
  subscriber:
    ref:
      apiVersion: example.com/v1
      kind: Widget
      name: w
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: unknown-kind
  namespace: {{ns}}
spec:
  broker: b
  subscriber:
    ref:
      apiVersion: nowhere.example.com/v1
      kind: Thing
      name: t
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: other-namespace
  namespace: {{ns}}
spec:
  broker: b
  subscriber:
    ref:
      apiVersion: v1
      kind: Service
      name: billing
      namespace: finance
`,
		want: func(ns string) *mesh.Mesh {
			return &mesh.Mesh{
				EventTypes: []mesh.EventType{{Meta: meta(ns, "e"), Type: "com.example.e", Reference: ref(eventing, "Broker", ns, "b"),
					ConsumedBy: []string{"billing", "id-core-service", "id-labelled"}}},
				Brokers: []mesh.Broker{{Meta: meta(ns, "b"), ProvidedEventTypes: []string{ns + "/e"}}},
			}
		},
	},
	{
		name: "channels and subscriptions",
		objects: `
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata:
  name: imc
  namespace: {{ns}}
  labels: {kind: in-memory}
---
apiVersion: messaging.knative.dev/v1
kind: Channel
metadata:
  name: generic
  namespace: {{ns}}
---
apiVersion: example.com/v1
kind: TubeChannel
metadata:
  name: tube
  namespace: {{ns}}
---
apiVersion: eventing.knative.dev/v1beta2
kind: EventType
metadata:
  name: on-imc
  namespace: {{ns}}
spec:
  type: com.example.imc
  reference:
    apiVersion: messaging.knative.dev/v1
    kind: InMemoryChannel
    name: imc
---
apiVersion: eventing.knative.dev/v1beta2
kind: EventType
metadata:
  name: on-generic
  namespace: {{ns}}
spec:
  type: com.example.generic
  reference:
    apiVersion: messaging.knative.dev/v1
    kind: Channel
    name: generic
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata:
  name: to-imc
  namespace: {{ns}}
spec:
  channel:
    apiVersion: messaging.knative.dev/v1
    kind: InMemoryChannel
    name: imc
  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: archiver
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata:
  name: unlabelled-to-generic
  namespace: {{ns}}
spec:
  channel:
    apiVersion: messaging.knative.dev/v1
    kind: Channel
    name: generic
  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: nobody
` + ksvc("archiver", "id-archiver") + ksvc("nobody", ""),
		want: func(ns string) *mesh.Mesh {
			return &mesh.Mesh{
				EventTypes: []mesh.EventType{
					{Meta: meta(ns, "on-generic"), Type: "com.example.generic", Reference: ref(messaging, "Channel", ns, "generic")},
					{Meta: meta(ns, "on-imc"), Type: "com.example.imc", Reference: ref(messaging, "InMemoryChannel", ns, "imc"), ConsumedBy: []string{"id-archiver"}},
				},
				Subscribables: []mesh.Subscribable{
					{Meta: meta(ns, "generic"), Group: messaging, Kind: "Channel", ProvidedEventTypes: []string{ns + "/on-generic"}},
					{Meta: mesh.Meta{Namespace: ns, Name: "imc", Labels: map[string]string{"kind": "in-memory"}}, Group: messaging, Kind: "InMemoryChannel", ProvidedEventTypes: []string{ns + "/on-imc"}},
					{Meta: meta(ns, "tube"), Group: "example.com", Kind: "TubeChannel"},
				},
			}
		},
	},
	{
		name:     "sources",
		warnings: []string{"/gadget left out", "event types of WidgetSource left out"},
		objects: broker + eventType("ping", "dev.knative.sources.ping", "b") + eventType("gadget", "com.example.gadget.made", "b") + `
---
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata:
  name: to-broker
  namespace: {{ns}}
spec:
  schedule: "* * * * *"
  sink:
    ref:
      apiVersion: eventing.knative.dev/v1
      kind: Broker
      name: b
---
apiVersion: sources.knative.dev/v1
kind: PingSource
metadata:
  name: to-uri
  namespace: {{ns}}
spec:
  schedule: "* * * * *"
  sink:
    uri: https://hooks.example.com/ping
---
apiVersion: sources.knative.dev/v1
kind: ApiServerSource
metadata:
  name: watcher
  namespace: {{ns}}
spec:
  mode: Reference
  resources:
  - apiVersion: v1
    kind: Event
  sink:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: billing
      namespace: finance
---
apiVersion: example.com/v1
kind: WidgetSource
metadata:
  name: widget
  namespace: {{ns}}
spec:
  sink:
    ref:
      apiVersion: eventing.knative.dev/v1
      kind: Broker
      name: b
---
apiVersion: example.com/v1
kind: GadgetSource
metadata:
  name: gadget
  namespace: {{ns}}
spec:
  sink:
    ref: "not an object"
---
apiVersion: example.com/v1
kind: DecoySource
metadata:
  name: decoy
  namespace: {{ns}}
spec:
  sink:
    ref: "not an object either"
`,
		want: func(ns string) *mesh.Mesh {
			br := ref(eventing, "Broker", ns, "b")
			pingTypes := []string{"dev.knative.sources.ping"}
			return &mesh.Mesh{
				EventTypes: []mesh.EventType{
					{Meta: meta(ns, "gadget"), Type: "com.example.gadget.made", Reference: br},
					{Meta: meta(ns, "ping"), Type: "dev.knative.sources.ping", Reference: br},
				},
				Brokers: []mesh.Broker{{Meta: meta(ns, "b"), ProvidedEventTypes: []string{ns + "/gadget", ns + "/ping"}}},
				Sources: []mesh.Source{
					{Meta: meta(ns, "gadget"), Group: "example.com", Kind: "GadgetSource",
						ProvidedEventTypeTypes: []string{"com.example.gadget.broken", "com.example.gadget.made"}, ProvidedEventTypes: []string{ns + "/gadget"},
						DeclaredEventTypes: []mesh.DeclaredEventType{
							{Type: "com.example.gadget.broken", Schema: "https://example.com/s.json"}, {Type: "com.example.gadget.made", Description: "a gadget"}}},
					{Meta: meta(ns, "to-broker"), Group: sources, Kind: "PingSource", ProvidedEventTypeTypes: pingTypes, ProvidedEventTypes: []string{ns + "/ping"},
						DeclaredEventTypes: pingDeclared, Sink: br},
					{Meta: meta(ns, "to-uri"), Group: sources, Kind: "PingSource", ProvidedEventTypeTypes: pingTypes, ProvidedEventTypes: []string{ns + "/ping"},
						DeclaredEventTypes: pingDeclared},
					{Meta: meta(ns, "watcher"), Group: sources, Kind: "ApiServerSource",
						ProvidedEventTypeTypes: []string{
							"dev.knative.apiserver.ref.add", "dev.knative.apiserver.ref.delete", "dev.knative.apiserver.ref.update",
							"dev.knative.apiserver.resource.add", "dev.knative.apiserver.resource.delete", "dev.knative.apiserver.resource.update",
						},
						DeclaredEventTypes: apiServerDeclared,
						Sink:               ref("serving.knative.dev", "Service", "finance", "billing")},
					{Meta: meta(ns, "widget"), Group: "example.com", Kind: "WidgetSource", Sink: br},
				},
			}
		},
	},
	{
		name:     "flows followed through",
		warnings: []string{"cycle (Sequence {{ns}}/loop-a → Sequence {{ns}}/loop-b → Sequence {{ns}}/loop-a)"},
		objects: broker + eventType("e", "com.example.e", "b") + ksvc("a", "a") + ksvc("f", "f") + ksvc("s", "s") + ksvc("x", "x") + ksvc("unlabelled", "") + `
---
apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {name: outer, namespace: "{{ns}}"}
spec:
  steps:
  - ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: a}
  - ref: {apiVersion: flows.knative.dev/v1, kind: Parallel, name: fan}
  - uri: https://hooks.example.com/x
  - ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: unlabelled}
---
apiVersion: flows.knative.dev/v1
kind: Parallel
metadata: {name: fan, namespace: "{{ns}}"}
spec:
  branches:
  - filter: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: f}}
    subscriber: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: s}}
    reply: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: x}}
---
apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {name: loop-a, namespace: "{{ns}}"}
spec:
  steps:
  - ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: x}
  - ref: {apiVersion: flows.knative.dev/v1, kind: Sequence, name: loop-b}
---
apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {name: loop-b, namespace: "{{ns}}"}
spec:
  steps:
  - ref: {apiVersion: flows.knative.dev/v1, kind: Sequence, name: loop-a}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: to-outer, namespace: "{{ns}}"}
spec:
  broker: b
  subscriber: {ref: {apiVersion: flows.knative.dev/v1, kind: Sequence, name: outer}}
---
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: ch, namespace: "{{ns}}"}
---
apiVersion: eventing.knative.dev/v1beta2
kind: EventType
metadata: {name: on-channel, namespace: "{{ns}}"}
spec:
  type: com.example.c
  reference: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: ch}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: to-loop, namespace: "{{ns}}"}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: ch}
  subscriber: {ref: {apiVersion: flows.knative.dev/v1, kind: Sequence, name: loop-a}}
`,
		want: func(ns string) *mesh.Mesh {
			svc := func(name string) mesh.Reference { return *ref(serving, "Service", ns, name) }
			return &mesh.Mesh{
				EventTypes: []mesh.EventType{
					{Meta: meta(ns, "e"), Type: "com.example.e", Reference: ref(eventing, "Broker", ns, "b"), ConsumedBy: []string{"a", "f", "s"}},
					{Meta: meta(ns, "on-channel"), Type: "com.example.c", Reference: ref(messaging, "InMemoryChannel", ns, "ch"), ConsumedBy: []string{"x"}},
				},
				Brokers:       []mesh.Broker{{Meta: meta(ns, "b"), ProvidedEventTypes: []string{ns + "/e"}}},
				Subscribables: []mesh.Subscribable{{Meta: meta(ns, "ch"), Group: messaging, Kind: "InMemoryChannel", ProvidedEventTypes: []string{ns + "/on-channel"}}},
				Flows: []mesh.Flow{
					{Meta: meta(ns, "fan"), Group: flows, Kind: "Parallel", Calls: []mesh.Reference{svc("f"), svc("s")}, Replies: []mesh.Reference{svc("x")}, ConsumedBy: []string{"f", "s"}},
					{Meta: meta(ns, "loop-a"), Group: flows, Kind: "Sequence", Calls: []mesh.Reference{svc("x"), *ref(flows, "Sequence", ns, "loop-b")}, ConsumedBy: []string{"x"}},
					{Meta: meta(ns, "loop-b"), Group: flows, Kind: "Sequence", Calls: []mesh.Reference{*ref(flows, "Sequence", ns, "loop-a")}},
					{Meta: meta(ns, "outer"), Group: flows, Kind: "Sequence",
						Calls: []mesh.Reference{svc("a"), *ref(flows, "Parallel", ns, "fan"), svc("unlabelled")}, ConsumedBy: []string{"a", "f", "s"}},
				},
			}
		},
	},
	{
		name: "event policies and the kinds they apply to",
		objects: broker + `
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: gold, namespace: "{{ns}}", labels: {tier: gold}}
---
apiVersion: sinks.knative.dev/v1alpha1
kind: JobSink
metadata: {name: job, namespace: "{{ns}}", labels: {tier: gold}}
spec:
  job: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: example.com/job}]}}}}
---
apiVersion: sinks.knative.dev/v1alpha1
kind: IntegrationSink
metadata: {name: log, namespace: "{{ns}}"}
spec:
  log: {level: INFO}
status:
  address: {url: "http://log.{{ns}}", audience: "sinks.knative.dev/integrationsink/{{ns}}/log"}
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventTransform
metadata: {name: tr, namespace: "{{ns}}"}
spec:
  sink: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: b}}
  jsonata: {expression: "$"}
---
apiVersion: eventing.knative.dev/v1alpha1
kind: RequestReply
metadata: {name: rr, namespace: "{{ns}}"}
spec:
  brokerRef: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: b}
  correlationAttribute: correlationid
  replyAttribute: replyid
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: gold-brokers, namespace: "{{ns}}"}
spec:
  to:
  - selector: {apiVersion: eventing.knative.dev/v1, kind: Broker, matchLabels: {tier: gold}}
  from:
  - ref: {apiVersion: eventing.knative.dev/v1alpha1, kind: RequestReply, name: rr}
  - sub: "system:serviceaccount:{{ns}}:*"
  filters:
  - prefix: {type: com.example.}
status:
  from: ["system:serviceaccount:{{ns}}:rr-oidc"]
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: everything, namespace: "{{ns}}"}
spec:
  from:
  - sub: "system:serviceaccount:ops:auditor"
`,
		want: func(ns string) *mesh.Mesh {
			everything := ns + "/everything"
			auditor := "system:serviceaccount:ops:auditor"
			onlyEverything := mesh.Access{EventPolicies: []string{everything}, AllowedSubjects: []string{auditor}}
			rr := mesh.Sender{Reference: *ref(eventing, "RequestReply", ns, "rr")}
			gold := mesh.Access{EventPolicies: []string{ns + "/gold-brokers", everything}, AllowedSenders: []mesh.Sender{rr},
				AllowedSubjects: []string{auditor, "system:serviceaccount:" + ns + ":*", "system:serviceaccount:" + ns + ":rr-oidc"}}
			all := []mesh.Reference{*ref(eventing, "Broker", ns, "b"), *ref(eventing, "Broker", ns, "gold"), *ref("sinks.knative.dev", "JobSink", ns, "job"),
				*ref("sinks.knative.dev", "IntegrationSink", ns, "log"), *ref(eventing, "RequestReply", ns, "rr"), *ref(eventing, "EventTransform", ns, "tr")}
			logAccess := onlyEverything
			logAccess.Audience = "sinks.knative.dev/integrationsink/" + ns + "/log"
			logAccess.Address = "http://log." + ns
			return &mesh.Mesh{
				Brokers: []mesh.Broker{{Meta: meta(ns, "b"), Access: onlyEverything},
					{Meta: mesh.Meta{Namespace: ns, Name: "gold", Labels: map[string]string{"tier": "gold"}}, Access: gold}},
				Sinks: []mesh.Sink{
					{Meta: mesh.Meta{Namespace: ns, Name: "job", Labels: map[string]string{"tier": "gold"}}, Group: "sinks.knative.dev", Kind: "JobSink", Access: onlyEverything},
					{Meta: meta(ns, "log"), Group: "sinks.knative.dev", Kind: "IntegrationSink", Access: logAccess},
				},
				EventTransforms: []mesh.Transform{{Meta: meta(ns, "tr"), Group: eventing, Kind: "EventTransform", Access: onlyEverything, Sink: ref(eventing, "Broker", ns, "b")}},
				RequestReplies:  []mesh.RequestReply{{Meta: meta(ns, "rr"), Group: eventing, Kind: "RequestReply", Access: onlyEverything, Broker: ref(eventing, "Broker", ns, "b")}},
				EventPolicies: []mesh.EventPolicy{
					{Meta: meta(ns, "everything"), AppliesTo: all, AllowedSubjects: []string{auditor}},
					{Meta: meta(ns, "gold-brokers"), AppliesTo: []mesh.Reference{*ref(eventing, "Broker", ns, "gold")},
						To:             []mesh.PolicyTarget{{Selector: &mesh.PolicySelector{Group: eventing, Kind: "Broker", MatchLabels: map[string]string{"tier": "gold"}}}},
						AllowedSenders: []mesh.Sender{rr}, AllowedSubjects: gold.AllowedSubjects[1:], Filtered: true},
				},
			}
		},
	},
}
