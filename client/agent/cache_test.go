package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	pb "purserpb/v1"
)

// unreachable is a server that cannot be reached.
type unreachable struct{ pb.AgentServiceClient }

func (unreachable) DownloadArtifact(context.Context, *pb.DownloadArtifactRequest, ...grpc.CallOption) (pb.AgentService_DownloadArtifactClient, error) {
	return nil, status.Error(codes.Unavailable, "no server")
}

// A cached file that no longer hashes to its name is not handed out: it is
// dropped, to be downloaded again.
func TestACachedFileIsVerifiedAgainBeforeUse(t *testing.T) {
	dir := t.TempDir()
	data := []byte("MMASetup stand-in")
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	path := filepath.Join(dir, sha)
	os.WriteFile(path, data, 0600)
	c := Cache{Dir: dir}
	a := &pb.Artifact{Name: "MMASetup-AMD64.exe", Sha256: sha}
	if got, err := c.Ensure(context.Background(), unreachable{}, a); err != nil || got != path {
		t.Fatalf("intact file: %q %v", got, err)
	}
	os.WriteFile(path, []byte("planted"), 0600)
	if got, err := c.Ensure(context.Background(), unreachable{}, a); err == nil {
		t.Errorf("a planted file was handed out: %s", got)
	}
	if PathExists(path) {
		t.Error("the planted file is still there")
	}
}
