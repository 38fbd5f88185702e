package fetch

import (
	"context"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"knative.dev/eventing/pkg/apis/eventing/v1beta2"
	"knative.dev/eventing/pkg/apis/eventing/v1beta3"

	"github.com/knative-eventmesh/function/objects"
)

var (
	crdsGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	// eventTypeVersions are the EventType versions the mesh reads, in the
	// order to try them when the CRD cannot be read: v1beta2 first, the
	// version Eventing stores them in, so that even a cluster without
	// Eventing's conversion webhook loses no field; then v1beta3, for
	// clusters that no longer serve v1beta2.
	eventTypeVersions = []string{"v1beta2", "v1beta3"}
)

const eventTypesCRD = "eventtypes.eventing.knative.dev"

// eventTypes lists the EventTypes at the version the cluster stores them in,
// so that no conversion can lose a field; when the token may not read the
// CRD, at the first of eventTypeVersions the cluster serves.
func (r *reader) eventTypes(ctx context.Context) error {
	versions := r.eventTypeVersions(ctx)
	items, err := inEachNamespace(ctx, r, func(ctx context.Context, ns string) ([]objects.EventType, error) {
		var err error
		for _, v := range versions {
			var items []eventTypeItem
			path := collectionPath("eventing.knative.dev", v, "eventtypes", ns)
			items, err = listRaw[eventTypeItem](ctx, r, what("list", "eventtypes.eventing.knative.dev", ns), path, nil)
			if apierrors.IsNotFound(err) {
				continue // this version is not served
			}
			out := make([]objects.EventType, len(items))
			for i := range items {
				out[i] = items[i].eventType()
			}
			return out, err
		}
		return nil, err
	})
	r.objs.EventTypes = items
	return err
}

// eventTypeItem is an EventType as listed, whichever version its spec is
// written in: the spec's fields are those of v1beta2 and, beside them,
// v1beta3's attributes.
type eventTypeItem struct {
	Metadata objectMeta `json:"metadata"`
	Spec     struct {
		v1beta2.EventTypeSpec
		Attributes []v1beta3.EventAttributeDefinition `json:"attributes"`
	} `json:"spec"`
}

func (e *eventTypeItem) eventType() objects.EventType {
	spec := &e.Spec
	et := objects.EventType{
		Meta:        e.Metadata.meta(),
		Type:        spec.Type,
		SchemaData:  spec.SchemaData,
		Description: spec.Description,
		Broker:      spec.Broker,
		Reference:   referenceOf(spec.Reference),
	}
	if spec.Source != nil {
		et.Source = spec.Source.String()
	}
	if spec.Schema != nil {
		et.Schema = spec.Schema.String()
	}
	if spec.Attributes != nil {
		et.Attributes = make([]objects.Attribute, len(spec.Attributes))
		for i, a := range spec.Attributes {
			et.Attributes[i] = objects.Attribute{Name: a.Name, Value: a.Value, Required: a.Required}
		}
	}
	return et
}

// eventTypeVersions returns the versions to try, in order: the storage
// version first when the CRD says which one it is.
func (r *reader) eventTypeVersions(ctx context.Context) []string {
	var crd *unstructured.Unstructured
	err := r.request(ctx, func() (err error) {
		crd, err = r.c.Dynamic.Resource(crdsGVR).Get(ctx, eventTypesCRD, metav1.GetOptions{})
		return err
	})
	if err != nil {
		return eventTypeVersions
	}
	storage, ok := storageVersion(crd)
	if !ok || !slices.Contains(eventTypeVersions, storage) {
		return eventTypeVersions
	}
	return append([]string{storage}, slices.DeleteFunc(slices.Clone(eventTypeVersions), func(v string) bool { return v == storage })...)
}

// unstructuredMeta returns the metadata of u that the mesh shows.
func unstructuredMeta(u *unstructured.Unstructured) objects.Meta {
	return objects.Meta{
		Name:        u.GetName(),
		Namespace:   u.GetNamespace(),
		UID:         string(u.GetUID()),
		Labels:      u.GetLabels(),
		Annotations: u.GetAnnotations(),
	}
}

// crdVersion is a version of a CRD.
type crdVersion struct {
	name            string
	served, storage bool
}

// crdVersions returns the versions a CRD defines.
func crdVersions(crd *unstructured.Unstructured) []crdVersion {
	list, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	var versions []crdVersion
	for _, v := range list {
		m, ok := v.(map[string]any)
		if !ok {
			continue
		}
		name, _ := m["name"].(string)
		served, _ := m["served"].(bool)
		storage, _ := m["storage"].(bool)
		if name != "" {
			versions = append(versions, crdVersion{name: name, served: served, storage: storage})
		}
	}
	return versions
}

// storageVersion returns the storage version of a CRD, if it is served.
func storageVersion(crd *unstructured.Unstructured) (string, bool) {
	for _, v := range crdVersions(crd) {
		if v.storage && v.served {
			return v.name, true
		}
	}
	return "", false
}

// servedVersion returns the version to read a CRD's objects at: its
// storage version if served, else the first served one.
func servedVersion(crd *unstructured.Unstructured) (string, bool) {
	if v, ok := storageVersion(crd); ok {
		return v, true
	}
	for _, v := range crdVersions(crd) {
		if v.served {
			return v.name, true
		}
	}
	return "", false
}
