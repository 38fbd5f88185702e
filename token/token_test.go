package token

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	jwt := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
	tests := []struct {
		header string
		want   string
		err    error
	}{
		{header: "Bearer " + jwt, want: jwt},
		{header: "bearer " + jwt, want: jwt},
		{header: "BEARER   " + jwt, want: jwt},
		{header: "  Bearer " + jwt + "  ", want: jwt},
		{header: jwt, want: jwt},
		{header: "abc==", want: "abc=="},
		// Each end of each range of b64token's characters, and each sign.
		{header: "Bearer azAZ09-._~+/=", want: "azAZ09-._~+/="},
		{header: "Bearer A", want: "A"},
		{header: "Bearer Z", want: "Z"},
		{header: "Bearer a@b", err: ErrMalformed},
		{header: "Bearer [", err: ErrMalformed},
		{header: "", err: ErrMissing},
		{header: "   ", err: ErrMissing},
		{header: "Bearer", err: ErrMissing},
		{header: "Bearer ", err: ErrMissing},
		{header: "Basic dXNlcjpwYXNz", err: ErrMalformed},
		{header: "Bearer a b", err: ErrMalformed},
		{header: "Bearer a\tb", err: ErrMalformed},
		{header: "Bearer ===", err: ErrMalformed},
		{header: "Bearer a=b", err: ErrMalformed},
		{header: "Bearer tok\x00en", err: ErrMalformed},
		{header: "Bearer tök", err: ErrMalformed},
		{header: "Bearer " + strings.Repeat("a", MaxLen), want: strings.Repeat("a", MaxLen)},
		{header: "Bearer " + strings.Repeat("a", MaxLen+1), err: ErrTooLong},
	}
	for _, tt := range tests {
		got, err := Parse(tt.header)
		if !errors.Is(err, tt.err) {
			t.Errorf("Parse(%.40q) error = %v, want %v", tt.header, err, tt.err)
			continue
		}
		if got != tt.want {
			t.Errorf("Parse(%.40q) = %.40q, want %.40q", tt.header, got, tt.want)
		}
	}
}

func TestFromRequest(t *testing.T) {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	if _, err := FromRequest(r); !errors.Is(err, ErrMissing) {
		t.Errorf("no header: error = %v, want %v", err, ErrMissing)
	}
	r.Header.Add("Authorization", "Bearer one")
	if got, err := FromRequest(r); err != nil || got != "one" {
		t.Errorf("one header: got %q, %v; want one, nil", got, err)
	}
	r.Header.Add("Authorization", "Bearer two")
	if _, err := FromRequest(r); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("two headers: error = %v, want %v", err, ErrAmbiguous)
	}
}

// FuzzParse checks that Parse never panics, never returns a token together
// with an error, and that a token it returns is one it would accept again,
// without any part of it showing up in an error.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"Bearer abc", "abc", "", "Bearer", "Basic x", "Bearer a b", "bearer x==", "Bearer \x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, err := Parse(header)
		if err != nil {
			if tok != "" {
				t.Fatalf("Parse returned token and error %v", err)
			}
			return
		}
		if tok == "" || len(tok) > MaxLen || !valid(tok) {
			t.Fatalf("Parse(%q) = %q: not a valid token", header, tok)
		}
		again, err := Parse("Bearer " + tok)
		if err != nil || again != tok {
			t.Fatalf("Parse(Bearer %q) = %q, %v; want the same token", tok, again, err)
		}
	})
}
