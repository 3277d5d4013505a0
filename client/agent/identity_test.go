package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// issue makes a certificate for keyPEM's public key named cn, signed by a
// throwaway CA; it returns the certificate and the CA, both PEM.
func issue(t *testing.T, keyPEM []byte, cn string) (certPEM, caPEM []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caTmpl, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}

// A certificate paired with a key that is not its own (a crash mid-save, a
// copied file) is refused at load, naming both files.
func TestAKeyThatIsNotTheCertificatesIsRefusedAtLoad(t *testing.T) {
	dir := t.TempDir()
	key, _ := generateKeyPEM()
	other, _ := generateKeyPEM()
	cert, ca := issue(t, key, "e1")
	os.WriteFile(filepath.Join(dir, "ca.pem"), ca, 0644)
	if err := SaveCertificate(dir, key, cert); err != nil {
		t.Fatal(err)
	}
	id, err := LoadIdentity(dir)
	if err != nil || id.EndpointID != "e1" {
		t.Fatalf("good identity: %v %v", id, err)
	}
	os.WriteFile(filepath.Join(dir, "key.pem"), other, 0600)
	if _, err := LoadIdentity(dir); err == nil || !strings.Contains(err.Error(), "key.pem") ||
		!strings.Contains(err.Error(), "--reenroll") {
		t.Errorf("mismatched key: %v", err)
	}
}

func TestNoIdentityIsNotEnrolled(t *testing.T) {
	if _, err := LoadIdentity(t.TempDir()); err == nil || !errorsIs(err, ErrNotEnrolled) {
		t.Errorf("empty state dir: %v", err)
	}
}

// The key never changes across CSRs (renewal keeps it: the endpoint id is
// derived from it), and the CSR names what it is asked to.
func TestCSRKeepsTheKey(t *testing.T) {
	key, _ := generateKeyPEM()
	csrPEM, err := MakeCSR(key, "endpoint-1")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(csrPEM)
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		t.Fatalf("CSR: %v", err)
	}
	signer, _ := parseKey(key)
	if csr.Subject.CommonName != "endpoint-1" || !signer.Public().(*ecdsa.PublicKey).Equal(csr.PublicKey) {
		t.Errorf("CSR names %q or carries another key", csr.Subject.CommonName)
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
