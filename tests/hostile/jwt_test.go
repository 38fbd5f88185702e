package hostile

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	jose "gopkg.in/go-jose/go-jose.v2"
)

// resign returns a copy of the ServiceAccount token tok, issued at iat and
// expiring at exp, signed with the PEM (PKCS #8) key in keyFile: the key
// the API server signs tokens with. Every other claim (issuer, audience,
// subject, the ServiceAccount's UID) and the key id stay those of tok, so
// that a refusal can only be about the times.
func resign(tok, keyFile string, iat, exp time.Time) (string, error) {
	header, claims, err := decodeJWT(tok)
	if err != nil {
		return "", err
	}
	claims["iat"] = iat.Unix()
	claims["nbf"] = iat.Unix()
	claims["exp"] = exp.Unix()
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	key, err := readKey(keyFile)
	if err != nil {
		return "", err
	}
	alg, _ := header["alg"].(string)
	opts := &jose.SignerOptions{}
	if kid, ok := header["kid"].(string); ok {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: key}, opts)
	if err != nil {
		return "", fmt.Errorf("signer for %s: %w", alg, err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// decodeJWT returns the header and the claims of a JWT, unverified.
func decodeJWT(tok string) (header, claims map[string]any, err error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("a JWT has 3 parts, this token %d", len(parts))
	}
	for i, v := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return nil, nil, fmt.Errorf("JWT part %d: %w", i, err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			return nil, nil, fmt.Errorf("JWT part %d: %w", i, err)
		}
	}
	return header, claims, nil
}

// readKey reads a PEM private key in PKCS #8.
func readKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New(path + ": not a signing key")
	}
	return signer, nil
}
