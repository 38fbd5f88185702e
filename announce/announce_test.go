package announce

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/knative-eventmesh/function/mesh"
	"github.com/knative-eventmesh/function/respond"
)

func testMesh() *mesh.Mesh {
	m := &mesh.Mesh{
		EventTypes: []mesh.EventType{{Meta: mesh.Meta{Namespace: "a", Name: "e1"}, Type: "t1"}, {Meta: mesh.Meta{Namespace: "a", Name: "e2"}, Type: "t2"}},
		Brokers:    []mesh.Broker{{Meta: mesh.Meta{Namespace: "a", Name: "b"}}},
		Subscribables: []mesh.Subscribable{
			{Meta: mesh.Meta{Namespace: "a", Name: "c"}, Group: "messaging.knative.dev", Kind: "InMemoryChannel"},
			{Meta: mesh.Meta{Namespace: "a", Name: "c"}, Group: "messaging.knative.dev", Kind: "Channel"},
		},
		Sources: []mesh.Source{{Meta: mesh.Meta{Namespace: "a", Name: "p"}, Group: "sources.knative.dev", Kind: "PingSource"}},
	}
	m.Normalize()
	return m
}

func TestDiff(t *testing.T) {
	before := testMesh()
	after := testMesh()
	after.EventTypes[0].ConsumedBy = []string{"new-consumer"} // a/e1 updated
	after.EventTypes = after.EventTypes[:1]                   // a/e2 removed
	after.Brokers = append(after.Brokers, mesh.Broker{Meta: mesh.Meta{Namespace: "a", Name: "b2"}})
	after.Normalize()

	oldIdx, err := IndexOf(before)
	if err != nil {
		t.Fatal(err)
	}
	newIdx, err := IndexOf(after)
	if err != nil {
		t.Fatal(err)
	}
	if len(oldIdx) != 6 {
		t.Errorf("index of %d entities, want 6 (two channels of one name, different kinds)", len(oldIdx))
	}
	d := Diff(oldIdx, newIdx)
	got, _ := json.Marshal(d)
	want := `{"added":[{"kind":"Broker","namespace":"a","name":"b2"}],"removed":[{"kind":"EventType","namespace":"a","name":"e2"}],"updated":[{"kind":"EventType","namespace":"a","name":"e1"}]}`
	if string(got) != want {
		t.Errorf("Diff =\n %s\nwant\n %s", got, want)
	}
	if !Diff(newIdx, newIdx).Empty() {
		t.Error("Diff of an index with itself is not empty")
	}
	first := Diff(nil, oldIdx)
	if len(first.Added) != 6 || len(first.Removed) != 0 {
		t.Errorf("first announcement delta %+v, want everything added", first)
	}
}

// testIndex returns the index of testMesh, and its encoding.
func testIndex(t *testing.T) (Index, []byte) {
	t.Helper()
	idx, err := IndexOf(testMesh())
	if err != nil {
		t.Fatal(err)
	}
	b, err := encodeIndex(idx)
	if err != nil {
		t.Fatal(err)
	}
	return idx, b
}

func TestIndexRoundTrip(t *testing.T) {
	idx, b := testIndex(t)
	back, err := decodeIndex(b, maxIndexJSON)
	if err != nil {
		t.Fatal(err)
	}
	if !Diff(idx, back).Empty() || len(back) != len(idx) {
		t.Errorf("index changed in the round trip: %v vs %v", idx, back)
	}
	if _, err := decodeIndex([]byte("not gzip"), maxIndexJSON); err == nil {
		t.Error("decodeIndex accepted garbage")
	}
}

func TestEventID(t *testing.T) {
	st := &State{Digest: "sha256:a", Sequence: 3}
	id := eventID(st, "sha256:b")
	if id != eventID(&State{Digest: "sha256:a", Sequence: 3}, "sha256:b") {
		t.Error("the same change got different ids")
	}
	for _, other := range []string{eventID(st, "sha256:c"), eventID(&State{Digest: "sha256:a", Sequence: 4}, "sha256:b")} {
		if other == id {
			t.Error("different changes got the same id")
		}
	}
}

func TestIntake(t *testing.T) {
	a, err := New(Config{}, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ev := cloudevents.NewEvent()
	ev.SetID("1")
	ev.SetType("dev.knative.apiserver.ref.add")
	ev.SetSource("https://10.0.0.1:443")
	structured, _ := json.Marshal(ev)

	tests := []struct {
		name    string
		headers map[string]string
		body    string
		status  int
	}{
		{"binary", map[string]string{"Ce-Id": "1", "Ce-Type": "dev.knative.apiserver.ref.update", "Ce-Source": "/s", "Ce-Specversion": "1.0", "Content-Type": "application/json"}, `{"kind":"Broker"}`, 202},
		{"resource mode", map[string]string{"Ce-Id": "1", "Ce-Type": "dev.knative.apiserver.resource.delete", "Ce-Source": "/s", "Ce-Specversion": "1.0", "Content-Type": "application/json"}, `{"kind":"Broker"}`, 202},
		{"ping", map[string]string{"Ce-Id": "1", "Ce-Type": "dev.knative.sources.ping", "Ce-Source": "/s", "Ce-Specversion": "1.0"}, ``, 202},
		{"another type", map[string]string{"Ce-Id": "1", "Ce-Type": "com.example.order.created", "Ce-Source": "/s", "Ce-Specversion": "1.0"}, ``, 400},
		{"a type that only starts like one", map[string]string{"Ce-Id": "1", "Ce-Type": "dev.knative.sources.ping.x", "Ce-Source": "/s", "Ce-Specversion": "1.0"}, ``, 400},
		{"an announcement of its own", map[string]string{"Ce-Id": "1", "Ce-Type": EventType, "Ce-Source": "/s", "Ce-Specversion": "1.0"}, ``, 400},
		{"structured", map[string]string{"Content-Type": "application/cloudevents+json"}, string(structured), 202},
		{"not a CloudEvent", map[string]string{"Content-Type": "application/json"}, `{"hello":1}`, 400},
		{"missing id", map[string]string{"Ce-Type": "t", "Ce-Source": "/s", "Ce-Specversion": "1.0"}, ``, 400},
		{"broken structured", map[string]string{"Content-Type": "application/cloudevents+json"}, `{"specversion":`, 400},
		{"too large", map[string]string{"Ce-Id": "1", "Ce-Type": "dev.knative.sources.ping", "Ce-Source": "/s", "Ce-Specversion": "1.0", "Content-Type": "text/plain"}, strings.Repeat("x", MaxEventBytes+1), 413},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewBufferString(tt.body))
		for k, v := range tt.headers {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		serve(a, w, r)
		if w.Code != tt.status {
			t.Errorf("%s: status %d, want %d: %s", tt.name, w.Code, tt.status, w.Body)
		}
		if w.Code == 202 && w.Body.Len() != 0 {
			t.Errorf("%s: a 202 with a body: %s", tt.name, w.Body)
		}
		queued := false
		select {
		case <-a.notify:
			queued = true
		default:
		}
		if queued != (tt.status == 202) {
			t.Errorf("%s: notification queued: %v, want %v", tt.name, queued, tt.status == 202)
		}
	}
}

// serve answers r as the function does: 202 when the notice was taken,
// else the rejection's status with a JSON error.
func serve(a *Announcer, w http.ResponseWriter, r *http.Request) {
	err := a.Take(r)
	if err == nil {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	var rej *Rejection
	if !errors.As(err, &rej) {
		rej = &Rejection{http.StatusInternalServerError, err.Error()}
	}
	respond.Error(w, rej.Status, rej.Reason)
}

func TestDiffAddedEntities(t *testing.T) {
	before := testMesh()
	after := testMesh()
	after.Flows = []mesh.Flow{{Meta: mesh.Meta{Namespace: "a", Name: "seq"}, Group: "flows.knative.dev", Kind: "Sequence"}}
	after.Sinks = []mesh.Sink{{Meta: mesh.Meta{Namespace: "a", Name: "job"}, Group: "sinks.knative.dev", Kind: "JobSink"}}
	after.EventTransforms = []mesh.Transform{{Meta: mesh.Meta{Namespace: "a", Name: "tr"}, Group: "eventing.knative.dev", Kind: "EventTransform"}}
	after.RequestReplies = []mesh.RequestReply{{Meta: mesh.Meta{Namespace: "a", Name: "rr"}, Group: "eventing.knative.dev", Kind: "RequestReply"}}
	after.EventPolicies = []mesh.EventPolicy{{Meta: mesh.Meta{Namespace: "a", Name: "p"}}}
	after.Brokers[0].EventPolicies = []string{"a/p"}
	after.Normalize()
	oldIdx, _ := IndexOf(before)
	newIdx, err := IndexOf(after)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(Diff(oldIdx, newIdx))
	want := `{"added":[{"kind":"JobSink","namespace":"a","name":"job"},{"kind":"EventPolicy","namespace":"a","name":"p"},` +
		`{"kind":"RequestReply","namespace":"a","name":"rr"},{"kind":"Sequence","namespace":"a","name":"seq"},{"kind":"EventTransform","namespace":"a","name":"tr"}],` +
		`"removed":[],"updated":[{"kind":"Broker","namespace":"a","name":"b"}]}`
	if string(got) != want {
		t.Errorf("Diff =\n %s\nwant\n %s", got, want)
	}
}
