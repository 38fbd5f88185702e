package cluster

import "path/filepath"

// ServiceAccountSigningKeyPath returns the path of the PEM private key
// (PKCS #8) that the API server signs ServiceAccount tokens with and
// checks them against, for tests that mint tokens of their own.
func (c *Cluster) ServiceAccountSigningKeyPath() string {
	return filepath.Join(c.env.ControlPlane.APIServer.CertDir, "sa-signer.key")
}
