package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sjson "sigs.k8s.io/json"

	"github.com/knative-eventmesh/function/objects"
)

// item is a pointer to what a list's items decode into, which names the
// object it was decoded from.
type item[T any] interface {
	*T
	objectID() (name, namespace string)
}

// listRaw lists the collection at path page by page and decodes each page
// as it arrives, each item straight into T and at once converted: only the
// fields T names are read, no intermediate form (typed codec, unstructured
// map) is built, the items are decoded while the API server is still
// sending the rest, and only what convert returns is kept.
//
// An item that does not decode (a field of the wrong type, an EventType's
// URL that does not parse) is left out, and warn told, naming it as a kind
// object: it costs only itself.
//
// A continue token that expired (the list took longer than the API server
// keeps it) restarts the list as one whole request, as client-go's pager
// does: the items and Warnings of the pages read before are dropped, and
// warn is told of each bad item once, when the whole list is read.
func listRaw[T any, P item[T], O any](ctx context.Context, r *reader, doing, kind string, path []string, convert func(*T) O, warn warnFunc) ([]O, error) {
	var items []O
	var warnings []string
	limit, cont := r.opts.PageSize, ""
	for {
		req := r.c.REST.Get().AbsPath(path...)
		if limit > 0 {
			req = req.Param("limit", strconv.FormatInt(limit, 10))
		}
		if cont != "" {
			req = req.Param("continue", cont)
		}
		var meta metav1.ListMeta
		var got []O
		var readErr, decodeErr error
		err := r.request(ctx, func() error {
			body, err := req.Stream(ctx)
			if err != nil {
				return err
			}
			defer body.Close()
			in := &reading{r: body}
			keep := func(v *T) { got = append(got, convert(v)) }
			decodeErr = decodePage[T, P](in, &meta, keep, func(name, namespace string, err error) {
				warnings = append(warnings, fmt.Sprintf("%s %s/%s left out: it could not be read: %v", kind, namespace, name, err))
			})
			readErr = in.err
			return nil
		})
		if apierrors.IsResourceExpired(err) && cont != "" {
			items, warnings, limit, cont = nil, nil, 0, ""
			continue
		}
		switch {
		case err != nil:
			return nil, wrap(doing, err)
		case readErr != nil:
			return nil, wrap(doing, readErr)
		case decodeErr != nil:
			return nil, malformed(doing, decodeErr)
		}
		items = append(items, got...)
		if meta.Continue == "" {
			for _, w := range warnings {
				warn("%s", w)
			}
			return items, nil
		}
		cont = meta.Continue
	}
}

// reading is a reader that keeps the first error, other than io.EOF, of
// the reader it reads: an answer cut short, not a malformed one.
type reading struct {
	r   io.Reader
	err error
}

func (in *reading) Read(b []byte) (int, error) {
	n, err := in.r.Read(b)
	if err != nil && err != io.EOF && in.err == nil {
		in.err = err
	}
	return n, err
}

// decodePage decodes a page of a list from in, as it is read: its
// metadata into meta, and each item into T, which it passes to keep. An
// item that does not decode is left out; once the whole page is read, each
// is reported to bad with its name, namespace and error. It fails,
// reporting nothing, when the page is no list; what it passed to keep is
// then to be dropped.
//
// It decodes with the prototype of encoding/json/v2, which decodes such
// pages twice as fast as encoding/json, and matches names case-sensitively
// as the API machinery does. Duplicate names and invalid UTF-8, which
// encoding/json accepts, are accepted too.
func decodePage[T any, P item[T]](in io.Reader, meta *metav1.ListMeta, keep func(*T), bad func(name, namespace string, err error)) error {
	type badItem struct {
		name, namespace string
		err             error
	}
	var bads []badItem
	dec := jsontext.NewDecoder(in, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	err := decodeObject(dec, func(name string) error {
		switch name {
		case "metadata":
			return json.UnmarshalDecode(dec, meta)
		case "items":
			if dec.PeekKind() == 'n' {
				// "items": null is an empty page, as client-go reads it.
				_, err := dec.ReadToken()
				return err
			}
			return decodeArray(dec, func() error {
				depth := dec.StackDepth()
				var v T
				err := json.UnmarshalDecode(dec, &v)
				if err == nil {
					keep(&v)
					return nil
				}
				var semantic *json.SemanticError
				var syntactic *jsontext.SyntacticError
				if errors.As(err, &syntactic) || !errors.As(err, &semantic) {
					return err
				}
				// The item is valid JSON that does not fit T. v holds
				// what was decoded before the bad field: its metadata,
				// which the API server writes before its spec.
				if err := skipTo(dec, depth); err != nil {
					return err
				}
				id, namespace := P(&v).objectID()
				bads = append(bads, badItem{id, namespace, err})
				return nil
			})
		default:
			return dec.SkipValue()
		}
	})
	if err != nil {
		return err
	}
	for _, b := range bads {
		bad(b.name, b.namespace, b.err)
	}
	return nil
}

// skipTo reads on to the end of the values dec is inside of, up to stack
// depth depth.
func skipTo(dec *jsontext.Decoder, depth int) error {
	for dec.StackDepth() > depth {
		var err error
		if k := dec.PeekKind(); k == '}' || k == ']' {
			_, err = dec.ReadToken()
		} else {
			err = dec.SkipValue()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// decodeObject reads a JSON object from dec, calling field with each name
// to decode its value.
func decodeObject(dec *jsontext.Decoder, field func(name string) error) error {
	if err := expectKind(dec, '{'); err != nil {
		return err
	}
	for dec.PeekKind() != '}' {
		t, err := dec.ReadToken()
		if err != nil {
			return err
		}
		if err := field(t.String()); err != nil {
			return err
		}
	}
	return expectKind(dec, '}')
}

// decodeArray reads a JSON array from dec, calling elem to decode each
// element.
func decodeArray(dec *jsontext.Decoder, elem func() error) error {
	if err := expectKind(dec, '['); err != nil {
		return err
	}
	for dec.PeekKind() != ']' {
		if err := elem(); err != nil {
			return err
		}
	}
	return expectKind(dec, ']')
}

// expectKind reads a token of kind want from dec.
func expectKind(dec *jsontext.Decoder, want jsontext.Kind) error {
	t, err := dec.ReadToken()
	if err != nil {
		return err
	}
	if t.Kind() != want {
		return fmt.Errorf("found %v where %v was expected", t.Kind(), want)
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
	return r.get(ctx, doing, path, "", func(raw []byte, _ string) error {
		return k8sjson.UnmarshalCaseSensitivePreserveInts(raw, out)
	})
}

// get GETs path, asking for accept ("" for client-go's default), and
// passes the answer and its content type to decode. An error says what
// was being done (doing), and whether the answer could not be had or not
// be decoded.
func (r *reader) get(ctx context.Context, doing string, path []string, accept string, decode func(raw []byte, contentType string) error) error {
	var raw []byte
	var contentType string
	err := r.request(ctx, func() (err error) {
		req := r.c.REST.Get().AbsPath(path...)
		if accept != "" {
			req = req.SetHeader("Accept", accept)
		}
		raw, err = req.Do(ctx).ContentType(&contentType).Raw()
		return err
	})
	if err != nil {
		return wrap(doing, err)
	}
	if err := decode(raw, contentType); err != nil {
		return malformed(doing, err)
	}
	return nil
}
