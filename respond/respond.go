// Package respond writes the function's HTTP answers: the mesh, with ETag
// and 304, and JSON errors whose message tells the caller what to do.
package respond

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/knative-eventmesh/function/objects"
)

// Error writes {"error": msg} with status.
func Error(w http.ResponseWriter, status int, msg string) {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false) // keep "<token>" readable in curl
	_ = enc.Encode(struct {
		Error string `json:"error"`
	}{msg})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(body.Len()))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body.Bytes())
}

// ETag returns the entity tag of a body. It is weak, as the body may be
// sent gzipped.
func ETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `W/"` + hex.EncodeToString(sum[:16]) + `"`
}

// MaxWarnings bounds the Warning headers of one answer; the last one says
// how many more there were.
const MaxWarnings = 20

// JSON writes body, whose entity tag is etag, or 304 Not Modified when the
// request's If-None-Match holds that tag. Each warning becomes a Warning
// header, up to MaxWarnings.
// gzipped, when not nil, is body gzipped: a GET that accepts gzip gets it,
// with Content-Encoding: gzip, which the function's gzip handler passes
// on as it is.
func JSON(w http.ResponseWriter, r *http.Request, body, gzipped []byte, etag string, warnings []string) {
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", "private, no-cache")
	h.Set("Vary", "Authorization")
	for i, msg := range warnings {
		if i == MaxWarnings-1 && len(warnings) > MaxWarnings {
			h.Add("Warning", warning(fmt.Sprintf("and %d more left out: the function's log lists them", len(warnings)-i)))
			break
		}
		h.Add("Warning", warning(msg))
	}
	if matches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	if gzipped != nil && r.Method == http.MethodGet && AcceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = gzipped
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// warning formats a Warning header value as the Kubernetes API server
// does: code 299, no agent, a quoted text.
func warning(msg string) string {
	return `299 - ` + strconv.Quote(msg)
}

// matches reports whether an If-None-Match value holds etag. Comparison is
// weak, as RFC 9110 asks for If-None-Match.
func matches(ifNoneMatch, etag string) bool {
	if ifNoneMatch == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, tag := range strings.Split(ifNoneMatch, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == want {
			return true
		}
	}
	return false
}

// Status returns the HTTP status and the message for the caller of an
// error met while building the mesh. timeout is the request deadline, to
// name in a 504.
func Status(err error, timeout time.Duration) (int, string) {
	doing, reason := "read the mesh", objects.Unreachable
	var oe *objects.Error
	if errors.As(err, &oe) {
		doing, reason = oe.Doing, oe.Reason
	}
	if errors.Is(err, context.DeadlineExceeded) {
		reason = objects.Timeout
	}
	switch reason {
	case objects.Timeout:
		return http.StatusGatewayTimeout, fmt.Sprintf("the Kubernetes API server did not answer in time (request deadline %s) while trying to %s: retry later, or raise MESH_TIMEOUT", timeout, doing)
	case objects.Unauthorized:
		return http.StatusUnauthorized, "the Kubernetes API server rejected the token (expired, revoked, or of another cluster): create a new ServiceAccount token and send it as 'Authorization: Bearer <token>'"
	case objects.Forbidden:
		return http.StatusForbidden, fmt.Sprintf("the token may not %s: bind its ServiceAccount to the eventmesh-reader ClusterRole (rbac/) or grant it that permission (API server said: %s)", doing, cause(err, oe))
	case objects.NotServed:
		return http.StatusBadGateway, fmt.Sprintf("the Kubernetes API server does not know the resource to %s: install Knative Eventing in the cluster (API server said: %s)", doing, cause(err, oe))
	case objects.Overloaded:
		return http.StatusServiceUnavailable, fmt.Sprintf("the Kubernetes API server is overloaded (429) while trying to %s: retry later", doing)
	case objects.ServerError:
		return http.StatusServiceUnavailable, fmt.Sprintf("the Kubernetes API server failed to %s: %s: retry later", doing, cause(err, oe))
	case objects.Refused:
		return http.StatusBadGateway, fmt.Sprintf("the Kubernetes API server refused to %s: %s", doing, cause(err, oe))
	case objects.Malformed:
		return http.StatusBadGateway, fmt.Sprintf("the Kubernetes API server's answer could not be read while trying to %s: %s", doing, cause(err, oe))
	}
	return http.StatusServiceUnavailable, fmt.Sprintf("the Kubernetes API server is unreachable (while trying to %s): %s: check that the function can reach it", doing, cause(err, oe))
}

// RetryAfter returns how long the API server asked callers to wait before
// they retry, or 0.
func RetryAfter(err error) time.Duration {
	var oe *objects.Error
	if errors.As(err, &oe) {
		return oe.RetryAfter
	}
	return 0
}

// cause returns the message of the error under what was being done.
func cause(err error, oe *objects.Error) string {
	if oe != nil {
		return oe.Err.Error()
	}
	return err.Error()
}

// AcceptsGzip reports whether r's Accept-Encoding accepts gzip: it names
// gzip with a quality above 0.
func AcceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := 1.0
		if name, value, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.EqualFold(strings.TrimSpace(name), "q") {
			var err error
			if q, err = strconv.ParseFloat(strings.TrimSpace(value), 64); err != nil {
				return false
			}
		}
		return q > 0
	}
	return false
}

// Gzip returns body gzipped.
func Gzip(body []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(body); err != nil {
		return nil, fmt.Errorf("gzipping the mesh: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzipping the mesh: %w", err)
	}
	return buf.Bytes(), nil
}
