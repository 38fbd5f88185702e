package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"knative.dev/eventing/pkg/apis/eventing/v1beta2"
	"knative.dev/eventing/pkg/apis/eventing/v1beta3"

	"github.com/knative-eventmesh/function/objects"
)

var (
	crdsGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	// eventTypeVersions are the EventType versions the mesh reads, in the
	// order to try them when discovery does not tell the storage version:
	// v1beta2 first, the
	// version Eventing stores them in, so that even a cluster without
	// Eventing's conversion webhook loses no field; then v1beta3, for
	// clusters that no longer serve v1beta2.
	eventTypeVersions = []string{"v1beta2", "v1beta3"}
)

// eventTypes lists the EventTypes at the version the cluster stores them in,
// so that no conversion can lose a field; when discovery does not tell it,
// at the first of eventTypeVersions the cluster serves.
//
// The list at the first of eventTypeVersions, the version Eventing stores
// EventTypes in, starts while discovery is asked; should discovery name
// another, it is canceled and dropped, Warnings included.
func (r *reader) eventTypes(ctx context.Context) error {
	likely := eventTypeVersions[:1]
	early := startTentative(ctx, func(ctx context.Context, warn warnFunc) ([]objects.EventType, error) {
		return r.listEventTypes(ctx, likely, warn)
	})
	defer early.drop() // so that it never outlives the request
	versions := r.eventTypeVersions(ctx)
	if versions[0] != likely[0] {
		early.drop()
		items, err := r.listEventTypes(ctx, versions, r.warn)
		r.objs.EventTypes = items
		return err
	}
	items, err := early.take(ctx, r.warn)
	if apierrors.IsNotFound(err) && len(versions) > 1 {
		items, err = r.listEventTypes(ctx, versions[1:], r.warn)
	}
	r.objs.EventTypes = items
	return err
}

// listEventTypes lists the EventTypes at the first of versions the
// cluster serves.
func (r *reader) listEventTypes(ctx context.Context, versions []string, warn warnFunc) ([]objects.EventType, error) {
	return inEachNamespace(ctx, r, func(ctx context.Context, ns string) ([]objects.EventType, error) {
		var err error
		for _, v := range versions {
			var items []objects.EventType
			path := collectionPath("eventing.knative.dev", v, "eventtypes", ns)
			items, err = listRaw(ctx, r, what("list", "eventtypes.eventing.knative.dev", ns), "EventType", path, (*eventTypeItem).eventType, warn)
			if apierrors.IsNotFound(err) {
				continue // this version is not served
			}
			return items, err
		}
		return nil, err
	})
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

func (e *eventTypeItem) objectID() (string, string) { return e.Metadata.Name, e.Metadata.Namespace }

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
// version first when API discovery tells which one it is.
func (r *reader) eventTypeVersions(ctx context.Context) []string {
	for _, v := range eventTypeVersions {
		var list metav1.APIResourceList
		err := r.getJSON(ctx, what("discover", "API version eventing.knative.dev/"+v, ""), []string{"/apis", "eventing.knative.dev", v}, &list)
		if apierrors.IsNotFound(err) {
			continue // not served
		}
		if err != nil {
			break
		}
		res, ok := resource(&list, "eventtypes")
		if !ok {
			break
		}
		for _, storage := range eventTypeVersions {
			if res.StorageVersionHash == storageVersionHash("eventing.knative.dev", storage, "EventType") {
				return append([]string{storage}, slices.DeleteFunc(slices.Clone(eventTypeVersions), func(v string) bool { return v == storage })...)
			}
		}
		break
	}
	return eventTypeVersions
}

// storageVersionHash is how API discovery names the version a resource is
// stored at (k8s.io/apiserver's discovery.StorageVersionHash): the first 8
// bytes of the SHA-256 of "group/version/kind", in base64. Should the API
// server ever name it otherwise, no version matches and EventTypes are
// read as when discovery is not allowed.
func storageVersionHash(group, version, kind string) string {
	sum := sha256.Sum256([]byte(group + "/" + version + "/" + kind))
	return base64.StdEncoding.EncodeToString(sum[:8])
}
