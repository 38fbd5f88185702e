package fetch

import (
	"context"
	stdjson "encoding/json"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/json"

	"github.com/knative-eventmesh/function/objects"
)

// page is one page of a list, its items decoded into T.
type page[T any] struct {
	Metadata metav1.ListMeta `json:"metadata"`
	Items    []T             `json:"items"`
}

// listRaw lists the collection at path page by page and decodes each page
// once, straight into T: only the fields T names are kept, and no
// intermediate form (typed codec, unstructured map) is built. seen, if not
// nil, is called with each page's items as they arrive.
//
// An item that does not decode (a field of the wrong type, an EventType's
// URL that does not parse) is left out with a warning naming it as a kind
// object: it costs only itself.
//
// A continue token that expired (the list took longer than the API server
// keeps it) restarts the list as one whole request, as client-go's pager
// does.
func listRaw[T any](ctx context.Context, r *reader, doing, kind string, path []string, seen func([]T)) ([]T, error) {
	var items []T
	limit, cont := r.opts.PageSize, ""
	for {
		req := r.c.REST.Get().AbsPath(path...)
		if limit > 0 {
			req = req.Param("limit", strconv.FormatInt(limit, 10))
		}
		if cont != "" {
			req = req.Param("continue", cont)
		}
		var p page[T]
		var raw []byte
		err := r.request(ctx, func() (err error) {
			raw, err = req.Do(ctx).Raw()
			return err
		})
		if apierrors.IsResourceExpired(err) && cont != "" {
			items, limit, cont = nil, 0, ""
			continue
		}
		if err != nil {
			return nil, wrap(doing, err)
		}
		err = decodePage(raw, &p, func(name, namespace string, err error) {
			r.warn("%s %s/%s left out: it could not be read: %v", kind, namespace, name, err)
		})
		if err != nil {
			return nil, malformed(doing, err)
		}
		if seen != nil {
			seen(p.Items)
		}
		items = append(items, p.Items...)
		if p.Metadata.Continue == "" {
			return items, nil
		}
		cont = p.Metadata.Continue
	}
}

// decodePage decodes a page of a list into p. When the page does not
// decode whole, its items are decoded one by one, and each that does not
// decode is left out and reported to bad with its name, namespace and
// error. It fails only when the page is no list.
func decodePage[T any](raw []byte, p *page[T], bad func(name, namespace string, err error)) error {
	if err := json.UnmarshalCaseSensitivePreserveInts(raw, p); err == nil {
		return nil
	}
	var each page[stdjson.RawMessage]
	if err := json.UnmarshalCaseSensitivePreserveInts(raw, &each); err != nil {
		*p = page[T]{}
		return err
	}
	*p = page[T]{Metadata: each.Metadata, Items: make([]T, 0, len(each.Items))}
	for _, item := range each.Items {
		var v T
		if err := json.UnmarshalCaseSensitivePreserveInts(item, &v); err != nil {
			var id struct {
				Metadata struct {
					Name      string `json:"name"`
					Namespace string `json:"namespace"`
				} `json:"metadata"`
			}
			_ = stdjson.Unmarshal(item, &id)
			bad(id.Metadata.Name, id.Metadata.Namespace, err)
			continue
		}
		p.Items = append(p.Items, v)
	}
	return nil
}

// collectionPath returns the API path of a collection, namespaced when ns
// is set.
func collectionPath(group, version, resource, ns string) []string {
	if ns == "" {
		return []string{"/apis", group, version, resource}
	}
	return []string{"/apis", group, version, "namespaces", ns, resource}
}

// objectMeta is the part of an object's metadata the mesh shows, as listed.
type objectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace"`
	UID         string            `json:"uid"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

func (m *objectMeta) meta() objects.Meta {
	return objects.Meta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, Labels: m.Labels, Annotations: m.Annotations}
}

// getJSON GETs path and decodes the JSON answer into out.
func (r *reader) getJSON(ctx context.Context, doing string, path []string, out any) error {
	var raw []byte
	err := r.request(ctx, func() (err error) {
		raw, err = r.c.REST.Get().AbsPath(path...).Do(ctx).Raw()
		return err
	})
	if err != nil {
		return wrap(doing, err)
	}
	if err := json.UnmarshalCaseSensitivePreserveInts(raw, out); err != nil {
		return malformed(doing, err)
	}
	return nil
}
