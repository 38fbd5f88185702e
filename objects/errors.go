package objects

import "time"

// Reason classifies why a read failed, for the HTTP status of the answer.
type Reason int

// The reasons a read fails.
const (
	// Unreachable: no answer from the API server (connection refused,
	// DNS, TLS).
	Unreachable Reason = iota
	// Unauthorized: the API server rejected the token.
	Unauthorized
	// Forbidden: the token may not do this.
	Forbidden
	// NotServed: the API server does not serve the resource.
	NotServed
	// Timeout: the request deadline passed, or the API server timed out.
	Timeout
	// Overloaded: the API server asked to retry later (429).
	Overloaded
	// ServerError: the API server failed (5xx).
	ServerError
	// Refused: the API server refused the request otherwise (4xx).
	Refused
	// Malformed: the answer could not be decoded.
	Malformed
)

// Error is a failed read, with what was being done and why it failed.
type Error struct {
	// Doing is the verb and resource, and the namespace if any, e.g.
	// "list triggers.eventing.knative.dev in namespace team-a".
	Doing  string
	Reason Reason
	// RetryAfter is how long the API server asked to wait, or 0.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string { return e.Doing + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }
