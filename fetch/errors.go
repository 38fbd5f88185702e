package fetch

import (
	"context"
	"errors"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/knative-eventmesh/function/objects"
)

// wrap returns err, met while doing something, as an *objects.Error that
// says why it failed.
func wrap(doing string, err error) error {
	e := &objects.Error{Doing: doing, Reason: reasonOf(err), Err: err}
	if e.Reason == objects.Overloaded {
		if s, ok := apierrors.SuggestsClientDelay(err); ok {
			e.RetryAfter = time.Duration(s) * time.Second
		}
	}
	return e
}

// malformed returns an answer that could not be decoded as an
// *objects.Error.
func malformed(doing string, err error) error {
	return &objects.Error{Doing: doing, Reason: objects.Malformed, Err: err}
}

// reasonOf classifies an error of the API client.
func reasonOf(err error) objects.Reason {
	var status apierrors.APIStatus
	switch {
	case errors.Is(err, context.DeadlineExceeded), apierrors.IsTimeout(err), apierrors.IsServerTimeout(err):
		return objects.Timeout
	case apierrors.IsUnauthorized(err):
		return objects.Unauthorized
	case apierrors.IsForbidden(err):
		return objects.Forbidden
	case apierrors.IsNotFound(err):
		return objects.NotServed
	case apierrors.IsTooManyRequests(err):
		return objects.Overloaded
	case errors.As(err, &status) && status.Status().Code >= 500:
		return objects.ServerError
	case errors.As(err, &status):
		return objects.Refused
	}
	return objects.Unreachable
}
