package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/clock"
)

// testCA issues certificates for the mutual-TLS test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var serial int64

func newCA(t *testing.T, name string) *testCA {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key}
}

// issue returns a PEM certificate and key signed by the CA.
func (ca *testCA) issue(t *testing.T, name string, server bool) (certPEM, keyPEM []byte, der []byte) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames, tmpl.IPAddresses = []string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), der
}

func write(t *testing.T, dir, name string, b []byte) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMutualTLS serves both ports over TLS and binds a key to a client
// certificate: with the certificate it works, without it the key is refused,
// and keys not bound to a certificate (and REST through the gateway) work.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "arrears test CA")
	srvCert, srvKey, _ := ca.issue(t, "arrearsd", true)
	cliCert, cliKey, cliDER := ca.issue(t, "buyer ERP", false)
	cfg := config{DataDir: dir,
		TLSCertFile:     write(t, dir, "server.pem", srvCert),
		TLSKeyFile:      write(t, dir, "server.key", srvKey),
		TLSClientCAFile: write(t, dir, "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})),
	}
	g, h := startServer(t, cfg, clock.NewFake(now))
	admin := adminToken(t, dir)

	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	dial := func(withCert bool) *grpc.ClientConn {
		conf := &tls.Config{RootCAs: roots, ServerName: "localhost"}
		if withCert {
			pair, err := tls.X509KeyPair(cliCert, cliKey)
			if err != nil {
				t.Fatal(err)
			}
			conf.Certificates = []tls.Certificate{pair}
		}
		conn, err := grpc.NewClient(g, grpc.WithTransportCredentials(credentials.NewTLS(conf)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	plain, mutual := dial(false), dial(true)

	sum := sha256.Sum256(cliDER)
	var bound arrearsv1.CreateApiKeyResponse
	expect(t, &grpcTransport{conn: plain, token: admin}, "CreateApiKey", &arrearsv1.CreateApiKeyRequest{ApiKey: &arrearsv1.ApiKey{
		Role: arrearsv1.Role_ROLE_REGULATOR, RemitJurisdiction: "CN", ClientCertSha256: hex.EncodeToString(sum[:])}}, &bound, codes.OK)
	list := &arrearsv1.ListInvoicesRequest{}
	expect(t, &grpcTransport{conn: mutual, token: bound.Token}, "ListInvoices", list, &arrearsv1.ListInvoicesResponse{}, codes.OK)
	expect(t, &grpcTransport{conn: plain, token: bound.Token}, "ListInvoices", list, &arrearsv1.ListInvoicesResponse{}, codes.Unauthenticated)
	expect(t, &grpcTransport{conn: mutual, token: admin}, "ListInvoices", list, &arrearsv1.ListInvoicesResponse{}, codes.OK)

	// REST over HTTPS reaches the gateway, which dials the gRPC port over TLS.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}}}
	req, _ := http.NewRequest("GET", "https://"+h+"/v1/invoices", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("REST over HTTPS: HTTP %d", resp.StatusCode)
	}
	// A key bound to a client certificate is refused over REST before its
	// request is read: a malformed body gets 401, not 400.
	req, _ = http.NewRequest("POST", "https://"+h+"/v1/invoices", strings.NewReader("{"))
	req.Header.Set("Authorization", "Bearer "+bound.Token)
	resp, err = hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a bound key over REST: HTTP %d, want 401", resp.StatusCode)
	}
}

// TestTLSWithAnIPOnlyCertificate: a server certificate naming only a
// non-loopback IP address serves REST too: the gateway's own connection to
// the gRPC port trusts that exact certificate, not a host name in it.
func TestTLSWithAnIPOnlyCertificate(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "arrearsd"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.ParseIP("10.0.0.5")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	cfg := config{DataDir: dir,
		TLSCertFile: write(t, dir, "server.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		TLSKeyFile:  write(t, dir, "server.key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))}
	_, h := startServer(t, cfg, clock.NewFake(now))
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	// The test client trusts the certificate as issued to 10.0.0.5.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "10.0.0.5"}}}
	req, _ := http.NewRequest("GET", "https://"+h+"/v1/parties", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken(t, dir))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("REST over TLS with an IP-only certificate: HTTP %d", resp.StatusCode)
	}
}
