package announce

import (
	"errors"
	"net/http"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// retryable reports whether a sink's HTTP status is worth sending the
// same event again, by Knative Eventing's own delivery rule: its
// dispatcher retries 5xx, 404, 408, 409 and 429, and nothing else
// (SelectiveRetry in knative.dev/eventing/pkg/kncloudevents/retries.go,
// v0.50.0). That package is not imported: it brings Eventing's dispatcher
// and its dependencies with it.
func retryable(status int) bool {
	switch status {
	case http.StatusNotFound, http.StatusRequestTimeout, http.StatusConflict, http.StatusTooManyRequests:
		return true
	}
	return status >= 500
}

// statusOf returns the HTTP status of a CloudEvents send result, when the
// sink answered at all.
func statusOf(res error) (int, bool) {
	var r *cehttp.Result
	if errors.As(res, &r) {
		return r.StatusCode, true
	}
	return 0, false
}
