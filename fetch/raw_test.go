package fetch

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	k8sjson "sigs.k8s.io/json"

	"github.com/knative-eventmesh/function/kubeclient"
	"github.com/knative-eventmesh/function/objects"
)

func TestDecodePage(t *testing.T) {
	good := `{"metadata":{"name":"good","namespace":"ns"},"spec":{"type":"t","source":"https://example.com/s"}}`
	tests := []struct {
		name  string
		page  string
		names []string // items kept
		// "namespace/name: part of the error". The JSON decoder words its
		// errors "cannot unmarshal" or "unable to unmarshal", chosen at
		// random per process, so the parts leave that word out.
		bad     []string
		wantErr string // part of the error; "" for none
	}{
		{"all good", `{"metadata":{"continue":"c"},"items":[` + good + `]}`, []string{"good"}, nil, ""},
		{"bad URL", `{"metadata":{},"items":[` + good + `,{"metadata":{"name":"bad","namespace":"ns"},"spec":{"type":"t","source":"%zz"}}]}`,
			[]string{"good"}, []string{"ns/bad: invalid URL escape"}, ""},
		{"wrong type", `{"metadata":{},"items":[{"metadata":{"name":"num","namespace":"ns"},"spec":{"type":7}},` + good + `]}`,
			[]string{"good"}, []string{"ns/num: unmarshal JSON number into Go string within \"/items/0/spec/type\""}, ""},
		{"wrong type deep inside", `{"items":[{"metadata":{"name":"deep","namespace":"ns"},"spec":{"attributes":[{"name":1,"value":"x"},{"name":"b"}],"type":"t"},"status":{"x":[{}]}},` + good + `]}`,
			[]string{"good"}, []string{"ns/deep: unmarshal JSON number into Go string within \"/items/0/spec/attributes/0/name\""}, ""},
		{"item no object", `{"metadata":{},"items":["x",` + good + `]}`, []string{"good"}, []string{"/: unmarshal JSON string into Go fetch.eventTypeItem"}, ""},
		{"metadata last", `{"apiVersion":"v1","items":[` + good + `],"kind":"List","metadata":{"continue":"c"}}`, []string{"good"}, nil, ""},
		{"cut short", `{"metadata":{},"items":[` + good + `,{"metadata":{"name":"half"`, nil, nil, "unexpected EOF"},
		{"bad item then cut short", `{"items":[{"spec":{"type":7}},` + good, nil, nil, "unexpected EOF"},
		{"no list", `{"metadata":{},"items":{}}`, nil, nil, "found { where [ was expected"},
		{"null items", `{"metadata":{"continue":"c"},"items":null}`, nil, nil, ""},
		{"key no string", `{1:2}`, nil, nil, "object member name must be a string"},
		{"not JSON", `<html>`, nil, nil, "invalid character '<' at start of value"},
		{"array", `[]`, nil, nil, "found [ where { was expected"},
		{"string", `"x"`, nil, nil, "found string where { was expected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var meta metav1.ListMeta
			var names, bad []string
			keep := func(e *eventTypeItem) { names = append(names, e.Metadata.Name) }
			err := decodePage[eventTypeItem](strings.NewReader(tt.page), &meta, keep, func(name, namespace string, err error) {
				bad = append(bad, namespace+"/"+name+": "+err.Error())
			})
			if err == nil && tt.wantErr != "" || err != nil && (tt.wantErr == "" || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want one that says %q", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if strings.Contains(tt.page, `"continue":"c"`) && meta.Continue != "c" {
				t.Errorf("continue %q, want %q", meta.Continue, "c")
			}
			if strings.Join(names, ",") != strings.Join(tt.names, ",") {
				t.Errorf("kept %q, want %q", names, tt.names)
			}
			if len(bad) != len(tt.bad) {
				t.Fatalf("reported %q, want %q", bad, tt.bad)
			}
			for i := range bad {
				id, part, _ := strings.Cut(tt.bad[i], ": ")
				if !strings.HasPrefix(bad[i], id+": ") || !strings.Contains(bad[i], part) {
					t.Errorf("reported %q, want %q", bad[i], tt.bad[i])
				}
			}
		})
	}
}

func FuzzDecodePage(f *testing.F) {
	f.Add(`{"metadata":{},"items":[{"metadata":{"name":"a"},"spec":{"type":"t","schema":"%zz"}}]}`)
	f.Add(`{"metadata":{"continue":"c"},"items":[]}`)
	f.Add(`{"items":[1,{"spec":{"attributes":[{"name":1}]}}]}`)
	f.Fuzz(func(t *testing.T, raw string) {
		var meta metav1.ListMeta
		kept, reported := 0, 0
		err := decodePage[eventTypeItem](strings.NewReader(raw), &meta, func(*eventTypeItem) { kept++ }, func(string, string, error) { reported++ })
		if err != nil && reported > 0 {
			t.Fatalf("error %v, but %d items reported", err, reported)
		}
		// Every element of a list that decodes is kept or reported.
		var list struct {
			Items []json.RawMessage `json:"items"`
		}
		if err == nil && strings.Count(raw, `"items"`) == 1 && k8sjson.UnmarshalCaseSensitivePreserveInts([]byte(raw), &list) == nil && len(list.Items) != kept+reported {
			t.Fatalf("%d items, but %d kept and %d reported", len(list.Items), kept, reported)
		}
	})
}

// listServer is an API server's collection of EventTypes, served page by
// page: the continue token is the index of the page's first item. When
// expire is set, the first request that continues from that index gets
// 410 Expired, as an API server answers a continue token it no longer
// keeps.
type listServer struct {
	items  []string
	expire string
	mu     sync.Mutex
	asked  []string // the continue tokens asked for, "" for the first page
	limits []string // the limits asked for, "" for none
}

func (s *listServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cont := q.Get("continue")
	s.mu.Lock()
	s.asked = append(s.asked, cont)
	s.limits = append(s.limits, q.Get("limit"))
	expire := cont != "" && cont == s.expire
	if expire {
		s.expire = ""
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if expire {
		w.WriteHeader(http.StatusGone)
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the continue token expired","reason":"Expired","code":410}`)
		return
	}
	start, _ := strconv.Atoi(cont)
	end := len(s.items)
	if n, _ := strconv.Atoi(q.Get("limit")); n > 0 && start+n < end {
		end = start + n
	}
	next := ""
	if end < len(s.items) {
		next = strconv.Itoa(end)
	}
	fmt.Fprintf(w, `{"kind":"EventTypeList","metadata":{"continue":%q},"items":[%s]}`, next, strings.Join(s.items[start:end], ","))
}

// newTestReader returns a reader of the API server at srv with page size
// pageSize.
func newTestReader(t *testing.T, srv *httptest.Server, pageSize int64) *reader {
	t.Helper()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	f, err := kubeclient.NewFactory(&rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{CAData: ca}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.ForToken("token")
	if err != nil {
		t.Fatal(err)
	}
	return &reader{c: c, opts: Options{PageSize: pageSize}, objs: &objects.Set{}, inFlight: make(chan struct{}, MaxInFlight)}
}

func eventTypeJSON(name, source string) string {
	return fmt.Sprintf(`{"metadata":{"name":%q,"namespace":"ns"},"spec":{"type":"t","source":%q}}`, name, source)
}

// TestListRawPages checks that a list read in pages, also one restarted
// after its continue token expired, gives the items and Warnings of a
// list read in one page: each item once, in order, and each bad item's
// Warning once.
func TestListRawPages(t *testing.T) {
	items := []string{
		eventTypeJSON("a", "/a"), eventTypeJSON("bad", "%zz"), eventTypeJSON("b", "/b"),
		eventTypeJSON("c", "/c"), eventTypeJSON("d", "/d"),
	}
	tests := []struct {
		name     string
		pageSize int64
		expire   string
		asked    []string
		// A list restarted after 410 is one whole request, with no limit,
		// as client-go's pager restarts it.
		limits []string
	}{
		{"one page", 0, "", []string{""}, []string{""}},
		{"pages", 2, "", []string{"", "2", "4"}, []string{"2", "2", "2"}},
		{"restarted after 410", 2, "4", []string{"", "2", "4", ""}, []string{"2", "2", "2", ""}},
		{"restarted on the second page", 2, "2", []string{"", "2", ""}, []string{"2", "2", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls := &listServer{items: items, expire: tt.expire}
			srv := httptest.NewTLSServer(ls)
			defer srv.Close()
			r := newTestReader(t, srv, tt.pageSize)
			var warnings []string
			warn := func(format string, args ...any) { warnings = append(warnings, fmt.Sprintf(format, args...)) }
			got, err := listRaw(context.Background(), r, "listing eventtypes", "EventType",
				collectionPath("eventing.knative.dev", "v1beta2", "eventtypes", ""), (*eventTypeItem).eventType, warn)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, et := range got {
				names = append(names, et.Name)
			}
			if want := []string{"a", "b", "c", "d"}; !slices.Equal(names, want) {
				t.Errorf("items %q, want %q", names, want)
			}
			if len(warnings) != 1 || !strings.Contains(warnings[0], "EventType ns/bad left out") {
				t.Errorf("Warnings %q, want one about ns/bad", warnings)
			}
			if !slices.Equal(ls.asked, tt.asked) {
				t.Errorf("continue tokens asked for %q, want %q", ls.asked, tt.asked)
			}
			if !slices.Equal(ls.limits, tt.limits) {
				t.Errorf("limits asked for %q, want %q", ls.limits, tt.limits)
			}
		})
	}
}

// TestListRawNullItems checks that a page whose items are null reads as
// an empty page, as client-go reads it.
func TestListRawNullItems(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"kind":"EventTypeList","metadata":{},"items":null}`)
	}))
	defer srv.Close()
	got, err := listRaw(context.Background(), newTestReader(t, srv, 0), "listing eventtypes", "EventType",
		collectionPath("eventing.knative.dev", "v1beta2", "eventtypes", ""), (*eventTypeItem).eventType, func(string, ...any) {})
	if err != nil || len(got) != 0 {
		t.Errorf("items %v, error %v; want none and no error", got, err)
	}
}
