// Package relate builds the event mesh from the objects fetch read: it
// turns each object into its entity and wires the relations between them
// (what brokers, channels and sources provide, who consumes what, through
// flows too, and who may send to what).
//
// It is pure: objects in, mesh out, no I/O. So the mesh endpoint, push and
// the tests all build the mesh the same way.
package relate

import (
	"fmt"
	"maps"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/knative-eventmesh/function/filter"
	"github.com/knative-eventmesh/function/mesh"
	"github.com/knative-eventmesh/function/objects"
)

// LastAppliedAnnotation is dropped from every entity: it repeats the whole
// object.
const LastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// Mesh builds the mesh of objs, compiling Trigger filters with filters
// (nil: a Compiler for this call alone). It also returns what it left out
// and why (malformed EventTypes, annotations or filters), for the log.
func Mesh(objs *objects.Set, filters *filter.Compiler) (*mesh.Mesh, []string) {
	return build(objs, filters, false)
}

// MeshWithReceivers is Mesh, with what the AsyncAPI document needs beside
// the mesh JSON: the Triggers and Subscriptions as receivers, and the
// attributes each EventType fixes.
func MeshWithReceivers(objs *objects.Set, filters *filter.Compiler) (*mesh.Mesh, []string) {
	return build(objs, filters, true)
}

func build(objs *objects.Set, filters *filter.Compiler, receivers bool) (*mesh.Mesh, []string) {
	if filters == nil {
		filters = filter.NewCompiler(0)
	}
	b := &builder{
		filters:        filters,
		receivers:      receivers,
		eventTypes:     map[string]*eventType{},
		byReference:    map[mesh.Reference][]string{},
		brokers:        map[string]int{},
		subscribables:  map[mesh.Reference]int{},
		sourceTypes:    map[*objects.Kind][]mesh.DeclaredEventType{},
		eventTypesByNS: map[string]map[string][]string{},
	}
	b.addEventTypes(objs.EventTypes)
	b.addBrokers(objs.Brokers)
	b.addSubscribables(objs.Subscribables)
	b.addSources(objs.Sources)
	b.addTargets(objs.Targets)
	b.addFlows(objs.Flows)
	b.walkFlows(objs)
	b.addTriggers(objs)
	b.addSubscriptions(objs)
	b.addPolicies(objs)

	m := &b.mesh
	m.EventTypes = make([]mesh.EventType, 0, len(b.order))
	for _, key := range b.order {
		et := b.eventTypes[key]
		if receivers {
			et.Attributes = et.attrs
		}
		m.EventTypes = append(m.EventTypes, et.EventType)
	}
	m.Normalize()
	return m, b.skipped
}

// builder holds the mesh under construction and its indexes.
type builder struct {
	mesh    mesh.Mesh
	skipped []string

	// eventTypes by "<namespace>/<name>", in order of arrival.
	eventTypes map[string]*eventType
	order      []string
	// byReference lists the EventTypes ("<namespace>/<name>") that refer to
	// an object.
	byReference map[mesh.Reference][]string
	// eventTypesByNS maps namespace, then CloudEvent type, to EventTypes.
	eventTypesByNS map[string]map[string][]string
	// brokers and subscribables index into mesh.Brokers and
	// mesh.Subscribables.
	brokers       map[string]int
	subscribables map[mesh.Reference]int
	// sourceTypes caches the parsed eventTypes annotation of each kind.
	sourceTypes map[*objects.Kind][]mesh.DeclaredEventType
	// receivers says to record Triggers and Subscriptions as receivers.
	receivers bool
	// filters compiles Trigger filters, each CESQL expression once.
	filters *filter.Compiler
	// walk follows subscribers through flows.
	walk flowWalk
	// known are the objects of the mesh, for EventPolicies.
	known map[mesh.Reference]known
}

// eventType is an EventType entity and the attributes it pins down.
type eventType struct {
	mesh.EventType
	attrs map[string]string
}

func (b *builder) skip(format string, args ...any) {
	b.skipped = append(b.skipped, fmt.Sprintf(format, args...))
}

func (b *builder) addEventTypes(list []objects.EventType) {
	for i := range list {
		et, err := convertEventType(&list[i])
		if err != nil {
			b.skip("EventType %s/%s left out: %v", list[i].Namespace, list[i].Name, err)
			continue
		}
		key := namespacedName(et.Namespace, et.Name)
		if _, dup := b.eventTypes[key]; dup {
			continue
		}
		b.eventTypes[key] = et
		b.order = append(b.order, key)
		if et.Reference != nil {
			b.byReference[*et.Reference] = append(b.byReference[*et.Reference], key)
		}
		byType := b.eventTypesByNS[et.Namespace]
		if byType == nil {
			byType = map[string][]string{}
			b.eventTypesByNS[et.Namespace] = byType
		}
		byType[et.Type] = append(byType[et.Type], key)
	}
}

// meta returns the entity metadata of an object: labels as they are,
// annotations without the last applied configuration, and nil for an empty
// map.
func meta(o *objects.Meta) mesh.Meta {
	m := mesh.Meta{Name: o.Name, Namespace: o.Namespace, UID: o.UID}
	if len(o.Labels) > 0 {
		m.Labels = maps.Clone(o.Labels)
	}
	m.Annotations = maps.Clone(o.Annotations)
	delete(m.Annotations, LastAppliedAnnotation)
	if len(m.Annotations) == 0 {
		m.Annotations = nil
	}
	return m
}

// reference returns the Reference of an object given by API version and
// kind, or false when the API version does not parse.
func reference(apiVersion, kind, namespace, name string) (mesh.Reference, bool) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil || kind == "" || name == "" {
		return mesh.Reference{}, false
	}
	return mesh.Reference{Group: gv.Group, Kind: kind, Namespace: namespace, Name: name}, true
}

func namespacedName(namespace, name string) string { return namespace + "/" + name }
