package target

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/etcdplay/etcdplay/schema"
)

// tlsConfig turns the inventory's tls section into a client config. No
// section means plain http (the prober still uses the system roots for an
// https URL). A CA that does not parse, or a certificate without its key,
// is an error now rather than a handshake failure per member later.
func tlsConfig(c *schema.TLS, dir, home string) (*tls.Config, error) {
	if c == nil || (c.CA == "" && c.Cert == "" && c.Key == "" && c.ServerName == "") {
		return nil, nil
	}
	tc := &tls.Config{ServerName: c.ServerName, MinVersion: tls.VersionTLS12}
	if c.CA != "" {
		path := resolvePath(c.CA, dir, home)
		pem, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("tls.ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca: %s holds no PEM certificate", path)
		}
		tc.RootCAs = pool
	}
	switch {
	case c.Cert != "" && c.Key != "":
		cert, err := tls.LoadX509KeyPair(resolvePath(c.Cert, dir, home), resolvePath(c.Key, dir, home))
		if err != nil {
			return nil, fmt.Errorf("tls.cert/tls.key: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	case c.Cert != "" || c.Key != "":
		return nil, fmt.Errorf("tls: cert and key go together; the inventory gives only one")
	}
	return tc, nil
}
