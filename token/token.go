// Package token takes the caller's Kubernetes token from a request.
//
// Errors never contain the token, so they are safe to log and to send back.
package token

import (
	"errors"
	"net/http"
	"strings"
)

// MaxLen bounds the length of a token. ServiceAccount tokens are JWTs of
// about a kilobyte; OIDC tokens with many claims stay well below this.
const MaxLen = 16 << 10

var (
	// ErrMissing means the request carries no token.
	ErrMissing = errors.New("no token: set the header 'Authorization: Bearer <token>' to a Kubernetes ServiceAccount token")
	// ErrMalformed means the Authorization header holds something that is
	// not a bearer token.
	ErrMalformed = errors.New("malformed Authorization header: expected 'Authorization: Bearer <token>' with a Kubernetes token (letters, digits and -._~+/= only)")
	// ErrTooLong means the token is longer than MaxLen.
	ErrTooLong = errors.New("token too long: a Kubernetes token is at most 16 KiB")
	// ErrAmbiguous means the request carries several Authorization headers.
	ErrAmbiguous = errors.New("several Authorization headers: send exactly one 'Authorization: Bearer <token>'")
)

// FromRequest returns the token of the request's Authorization header,
// written "Bearer <token>" (the scheme in any case) or as a bare token.
func FromRequest(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	switch len(values) {
	case 0:
		return "", ErrMissing
	case 1:
		return Parse(values[0])
	default:
		return "", ErrAmbiguous
	}
}

// Parse returns the token of an Authorization header value.
func Parse(header string) (string, error) {
	v := strings.TrimSpace(header)
	if scheme, rest, found := strings.Cut(v, " "); found {
		if !strings.EqualFold(scheme, "Bearer") {
			return "", ErrMalformed
		}
		v = strings.TrimLeft(rest, " ")
	} else if strings.EqualFold(v, "Bearer") {
		return "", ErrMissing
	}
	if v == "" {
		return "", ErrMissing
	}
	if len(v) > MaxLen {
		return "", ErrTooLong
	}
	if !valid(v) {
		return "", ErrMalformed
	}
	return v, nil
}

// valid reports whether t has the form of RFC 6750's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func valid(t string) bool {
	body := strings.TrimRight(t, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}
