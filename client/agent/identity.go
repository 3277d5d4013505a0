package agent

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	pb "purserpb/v1"
)

// Identity is who the agent is: its key (never leaves the machine), its
// certificate naming the endpoint, the CA it trusts, and its installation
// nonce (the clone fingerprint's first half).
type Identity struct {
	KeyPEM     []byte
	CertPEM    []byte
	CAPEM      []byte
	Nonce      string
	EndpointID string
}

func statePath(stateDir, name string) string { return filepath.Join(stateDir, name) }

// nonce is this installation's random id, made once.
func nonce(stateDir string) (string, error) {
	path := statePath(stateDir, "nonce")
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	buf := make([]byte, 16)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	n := hex.EncodeToString(buf)
	return n, WriteFileAtomic(path, []byte(n), 0600)
}

// ErrNotEnrolled is returned by LoadIdentity when the state directory holds
// no certificate yet.
var ErrNotEnrolled = fmt.Errorf("not enrolled")

// LoadIdentity reads the identity kept in stateDir. A key that is not the
// certificate's (a crash between two writes) is refused, naming both files.
func LoadIdentity(stateDir string) (*Identity, error) {
	certPath := statePath(stateDir, "cert.pem")
	if !PathExists(certPath) {
		return nil, fmt.Errorf("no agent identity in %s: %w", stateDir, ErrNotEnrolled)
	}
	id := &Identity{}
	var err error
	keyPath := statePath(stateDir, "key.pem")
	if id.KeyPEM, err = os.ReadFile(keyPath); err != nil {
		return nil, err
	}
	if id.CertPEM, err = os.ReadFile(certPath); err != nil {
		return nil, err
	}
	if id.CAPEM, err = os.ReadFile(statePath(stateDir, "ca.pem")); err != nil {
		return nil, err
	}
	if id.Nonce, err = nonce(stateDir); err != nil {
		return nil, err
	}
	cert, err := parseCert(id.CertPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", certPath, err)
	}
	if _, err := tls.X509KeyPair(id.CertPEM, id.KeyPEM); err != nil {
		return nil, fmt.Errorf("%s is not the key of %s: enroll again with a token (purser-agent --reenroll)", keyPath, certPath)
	}
	id.EndpointID = cert.Subject.CommonName
	return id, nil
}

func parseCert(certPEM []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("not a PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

func parseKey(keyPEM []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, fmt.Errorf("not a PEM private key")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("not an ECDSA private key")
}

func generateKeyPEM() ([]byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MakeCSR is a PKCS#10 request for keyPEM's public key, naming commonName.
func MakeCSR(keyPEM []byte, commonName string) ([]byte, error) {
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: commonName},
	}, key)
	if err != nil {
		return nil, fmt.Errorf("cannot sign CSR: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// SaveCertificate writes the key, then the certificate: a crash between the
// two leaves no certificate, or the old one for the same key.
func SaveCertificate(stateDir string, keyPEM, certPEM []byte) error {
	if err := WriteFileAtomic(statePath(stateDir, "key.pem"), keyPEM, 0600); err != nil {
		return err
	}
	return WriteFileAtomic(statePath(stateDir, "cert.pem"), certPEM, 0600)
}

// Enroll exchanges token and a CSR for a certificate and saves the identity
// in stateDir. A machine enrolling again keeps its key, and so its endpoint
// id and history.
func Enroll(ctx context.Context, d Dialer, caPEM []byte, token string, inv *pb.Inventory, stateDir string) (*Identity, error) {
	if err := os.MkdirAll(stateDir, 0700); err != nil {
		return nil, err
	}
	id := &Identity{CAPEM: caPEM}
	var err error
	if id.Nonce, err = nonce(stateDir); err != nil {
		return nil, err
	}
	keyPath := statePath(stateDir, "key.pem")
	if PathExists(keyPath) {
		if id.KeyPEM, err = os.ReadFile(keyPath); err != nil {
			return nil, err
		}
	} else if id.KeyPEM, err = generateKeyPEM(); err != nil {
		return nil, err
	}
	csr, err := MakeCSR(id.KeyPEM, inv.GetHostname())
	if err != nil {
		return nil, err
	}
	conn, err := d.Dial(id)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	req := &pb.EnrollRequest{Token: token, CsrPem: string(csr), Inventory: cloneInventory(inv)}
	stamp(req.Inventory, id.Nonce)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// Fail fast when the server is not there: the caller backs off and
	// says so, instead of waiting out the deadline in silence.
	resp, err := pb.NewAgentServiceClient(conn).Enroll(cctx, req, grpc.WaitForReady(false))
	if err != nil {
		return nil, status.Errorf(status.Code(err), "enrollment failed: %s", status.Convert(err).Message())
	}
	id.CertPEM = []byte(resp.GetCertificatePem())
	id.EndpointID = resp.GetEndpointId()
	if err := WriteFileAtomic(statePath(stateDir, "ca.pem"), caPEM, 0644); err != nil {
		return nil, err
	}
	if err := SaveCertificate(stateDir, id.KeyPEM, id.CertPEM); err != nil {
		return nil, err
	}
	return id, nil
}

// Fatal reports whether a gRPC error means retrying cannot help: the server
// refuses this identity (revoked, expired, not ours).
func Fatal(err error) bool {
	c := status.Code(err)
	return c == codes.PermissionDenied || c == codes.Unauthenticated
}
