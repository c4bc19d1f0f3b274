package target

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/etcdplay/etcdplay/schema"
)

// TestTLSConfigLoads: the inventory's relative pki/ paths are read from the
// inventory's folder, and the CA, client pair and server name all land in
// the config the prober uses.
func TestTLSConfigLoads(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "pki"), 0o700)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "etcd-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	os.WriteFile(filepath.Join(dir, "pki", "ca.pem"), certPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "pki", "client.pem"), certPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "pki", "client-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)

	tc, err := tlsConfig(&schema.TLS{CA: "pki/ca.pem", Cert: "pki/client.pem", Key: "pki/client-key.pem", ServerName: "etcd.internal"}, dir, dir)
	if err != nil {
		t.Fatal(err)
	}
	if tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.ServerName != "etcd.internal" {
		t.Errorf("tls config: roots %v, %d certificates, server name %q", tc.RootCAs != nil, len(tc.Certificates), tc.ServerName)
	}

	inv := &schema.Inventory{Cluster: "c", File: filepath.Join(dir, "inventory.yaml"),
		TLS:     &schema.TLS{CA: "pki/ca.pem"},
		Members: []*schema.Member{{Name: "a", Host: "h", Client: "https://127.0.0.1:2379"}}}
	tg, err := Open(t.Context(), inv, Options{})
	if err != nil {
		t.Fatalf("open with a relative CA: %v", err)
	}
	tg.Close()
}
