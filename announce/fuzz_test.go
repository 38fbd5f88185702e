package announce

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzIntake posts random bodies and CloudEvent headers to the intake, in
// binary mode (ce-* headers) and structured mode (the Content-Type), and
// checks what it promises: it answers 202, 400 or 413; a 202 has no body
// and queues a notification, anything else is a JSON error and queues
// none; only a body over MaxEventBytes is refused as too large, and none is
// accepted; and only something shaped like a CloudEvent is accepted.
//
// pad makes bodies around the size limit without asking the fuzzer for a
// megabyte of input: from 0xFF00 up, the body is padded with spaces (which
// structured mode's JSON ignores) to MaxEventBytes + pad - 0xFF80 bytes,
// from 128 bytes below the limit to 127 above; below 0xFF00 it is left
// alone.
func FuzzIntake(f *testing.F) {
	a, err := New(Config{}, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, contentType, specVersion, id, source, typ string, body []byte, pad uint16) {
		if pad >= 0xFF00 {
			size := MaxEventBytes + int(pad) - 0xFF80
			if n := size - len(body); n > 0 {
				body = append(body, bytes.Repeat([]byte(" "), n)...)
			}
		}
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		for _, h := range [][2]string{
			{"Content-Type", contentType},
			{"Ce-Specversion", specVersion},
			{"Ce-Id", id},
			{"Ce-Source", source},
			{"Ce-Type", typ},
		} {
			if h[1] != "" {
				r.Header.Set(h[0], h[1])
			}
		}
		w := httptest.NewRecorder()
		serve(a, w, r)

		queued := false
		select {
		case <-a.notify:
			queued = true
		default:
		}
		switch w.Code {
		case http.StatusAccepted:
			if w.Body.Len() != 0 {
				t.Errorf("202 with a body: %q", w.Body)
			}
			if !queued {
				t.Error("202 but no notification queued")
			}
			if len(body) > MaxEventBytes {
				t.Errorf("202 for a body of %d bytes, over the limit of %d", len(body), MaxEventBytes)
			}
			if !structured(contentType) && (specVersion == "" || id == "" || source == "" || typ == "") {
				t.Errorf("202 for something that is no CloudEvent: Content-Type %q, ce-specversion %q, ce-id %q, ce-source %q, ce-type %q",
					contentType, specVersion, id, source, typ)
			}
			if !structured(contentType) && !notificationTypes[typ] {
				t.Errorf("202 for a CloudEvent of type %q, which push's sources do not send", typ)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if queued {
				t.Errorf("%d but a notification was queued", w.Code)
			}
			if w.Code == http.StatusRequestEntityTooLarge && len(body) <= MaxEventBytes {
				t.Errorf("413 for a body of %d bytes, within the limit of %d", len(body), MaxEventBytes)
			}
			checkJSONError(t, w)
		default:
			t.Fatalf("status %d, want 202, 400 or 413: %q", w.Code, w.Body)
		}
	})
}

// structured reports whether a Content-Type names a structured-mode
// CloudEvent (application/cloudevents+json and its kin), loosely: in any
// case and with parameters.
func structured(contentType string) bool {
	return strings.Contains(strings.ToLower(contentType), "cloudevents")
}

// checkJSONError checks that a response is exactly {"error": "<message>"}
// with a non-empty message, served as application/json.
func checkJSONError(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("status %d with Content-Type %q, want application/json", w.Code, ct)
	}
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	var e struct {
		Error *string `json:"error"`
	}
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("status %d with a body that is not a JSON error: %v: %q", w.Code, err, w.Body)
	}
	if e.Error == nil || *e.Error == "" {
		t.Errorf("status %d with no error message: %q", w.Code, w.Body)
	}
	if dec.More() {
		t.Errorf("status %d: more than one JSON value in the body: %q", w.Code, w.Body)
	}
}
