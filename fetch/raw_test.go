package fetch

import (
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sjson "sigs.k8s.io/json"
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
		wantErr bool
	}{
		{"all good", `{"metadata":{"continue":"c"},"items":[` + good + `]}`, []string{"good"}, nil, false},
		{"bad URL", `{"metadata":{},"items":[` + good + `,{"metadata":{"name":"bad","namespace":"ns"},"spec":{"type":"t","source":"%zz"}}]}`,
			[]string{"good"}, []string{"ns/bad: invalid URL escape"}, false},
		{"wrong type", `{"metadata":{},"items":[{"metadata":{"name":"num","namespace":"ns"},"spec":{"type":7}},` + good + `]}`,
			[]string{"good"}, []string{"ns/num: unmarshal JSON number into Go string within \"/items/0/spec/type\""}, false},
		{"wrong type deep inside", `{"items":[{"metadata":{"name":"deep","namespace":"ns"},"spec":{"attributes":[{"name":1,"value":"x"},{"name":"b"}],"type":"t"},"status":{"x":[{}]}},` + good + `]}`,
			[]string{"good"}, []string{"ns/deep: unmarshal JSON number into Go string within \"/items/0/spec/attributes/0/name\""}, false},
		{"item no object", `{"metadata":{},"items":["x",` + good + `]}`, []string{"good"}, []string{"/: unmarshal JSON string into Go fetch.eventTypeItem"}, false},
		{"metadata last", `{"apiVersion":"v1","items":[` + good + `],"kind":"List","metadata":{"continue":"c"}}`, []string{"good"}, nil, false},
		{"cut short", `{"metadata":{},"items":[` + good + `,{"metadata":{"name":"half"`, nil, nil, true},
		{"bad item then cut short", `{"items":[{"spec":{"type":7}},` + good, nil, nil, true},
		{"no list", `{"metadata":{},"items":{}}`, nil, nil, true},
		{"key no string", `{1:2}`, nil, nil, true},
		{"not JSON", `<html>`, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var meta metav1.ListMeta
			var names, bad []string
			keep := func(e *eventTypeItem) { names = append(names, e.Metadata.Name) }
			err := decodePage[eventTypeItem](strings.NewReader(tt.page), &meta, keep, func(name, namespace string, err error) {
				bad = append(bad, namespace+"/"+name+": "+err.Error())
			})
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
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
