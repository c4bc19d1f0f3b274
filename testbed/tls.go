package testbed

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// A production-shaped cluster speaks TLS with client certificates on its
// client and peer URLs, like a hardened site. Every cluster has its own CA,
// made here in Go, so a test can hand etcdplay a wrong CA (NewCAFile) and
// expect an x509 refusal.

// TLSFiles are the PEM files a client of a TLS cluster needs: the CA that
// signed every member's certificate and a client certificate and key that
// CA signed (what an inventory's tls section names).
type TLSFiles struct {
	CA   string // ca.crt
	Cert string // client.crt
	Key  string // client.key (0600)
}

// certAuthority is a cluster's CA, kept in memory while the cluster starts.
type certAuthority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(name string) (*certAuthority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name + " CA", Organization: []string{"etcdplay test bed"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &certAuthority{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// issue signs a leaf certificate. A member's certificate serves its client
// and peer URLs and is also its client certificate towards its peers, so
// it carries both extended key usages. etcd checks a peer's certificate
// IP SANs against the connection's source address, and on loopback every
// connection leaves from 127.0.0.1 (docs/etcd-behaviour.md "On one
// machine"), so members get that SAN
// too.
func (ca *certAuthority) issue(cn string, ips []string, usage ...x509.ExtKeyUsage) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"etcdplay test bed"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  usage,
	}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}

// writeClusterTLS makes the cluster's CA and client certificate in
// <run folder>/tls and returns the CA for the members' certificates.
func (c *Cluster) writeClusterTLS() (*certAuthority, error) {
	ca, err := newCA(c.Name)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(c.Dir, "tls")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	crt, key, err := ca.issue("etcdplay", nil, x509.ExtKeyUsageClientAuth)
	if err != nil {
		return nil, err
	}
	c.TLS = &TLSFiles{CA: filepath.Join(dir, "ca.crt"), Cert: filepath.Join(dir, "client.crt"), Key: filepath.Join(dir, "client.key")}
	for p, b := range map[string][]byte{c.TLS.CA: ca.pem, c.TLS.Cert: crt} {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(c.TLS.Key, key, 0o600); err != nil {
		return nil, err
	}
	c.tlsConfig, err = clientTLS(c.TLS)
	return ca, err
}

// clientTLS is the client side of a TLS cluster: trust its CA, present
// its client certificate.
func clientTLS(f *TLSFiles) (*tls.Config, error) {
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("testbed: no certificate in %s", f.CA)
	}
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// NewCAFile writes a fresh self-signed CA certificate to path: a CA that
// signed nothing of any cluster, for tests that hand a client the wrong CA.
func NewCAFile(path string) error {
	ca, err := newCA("stranger")
	if err != nil {
		return err
	}
	return os.WriteFile(path, ca.pem, 0o644)
}

// TLSConfig returns a copy of the client TLS configuration of a
// production-shaped cluster (its CA and client certificate), or an error
// for a plain-HTTP cluster.
func (c *Cluster) TLSConfig() (*tls.Config, error) {
	if c.tlsConfig == nil {
		return nil, errors.New("testbed: " + c.Name + " serves plain HTTP")
	}
	return c.tlsConfig.Clone(), nil
}
