package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	pb "purserpb/v1"
)

// Cache holds artifacts named by SHA-256, downloaded in resumable chunks and
// verified before they are kept. A mismatch is refused and discarded.
type Cache struct{ Dir string }

func validSha(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Ensure returns the local path of a, downloading (or resuming) it when
// needed. A codes.DataLoss error when the bytes do not hash to a.Sha256.
func (c Cache) Ensure(ctx context.Context, client pb.AgentServiceClient, a *pb.Artifact) (string, error) {
	sha := a.GetSha256()
	if !validSha(sha) {
		return "", fmt.Errorf("artifact %s has no valid hash", a.GetName())
	}
	path := filepath.Join(c.Dir, sha)
	if PathExists(path) {
		// Verified when it was kept, and again now: what runs is what was pinned,
		// whatever happened to the disk since.
		if got, err := sha256OfFile(path); err == nil && got == sha {
			return path, nil
		}
		os.Remove(path)
	}
	if err := os.MkdirAll(c.Dir, 0700); err != nil {
		return "", err
	}
	partial := path + ".partial"
	f, err := os.OpenFile(partial, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0600)
	if err != nil {
		return "", fmt.Errorf("cannot write %s: %v", partial, err)
	}
	offset, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return "", err
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	stream, err := client.DownloadArtifact(dctx, &pb.DownloadArtifactRequest{Sha256: sha, Offset: offset})
	var writeErr error
	for err == nil {
		var chunk *pb.ArtifactChunk
		chunk, err = stream.Recv()
		if err != nil {
			break
		}
		if chunk.GetOffset() != offset {
			writeErr = status.Error(codes.DataLoss, "artifact chunks arrived out of order")
			break
		}
		if _, werr := f.Write(chunk.GetData()); werr != nil {
			writeErr = fmt.Errorf("cannot write %s: %v", partial, werr)
			break
		}
		offset += int64(len(chunk.GetData()))
	}
	cancel()
	f.Sync()
	f.Close()
	if writeErr != nil {
		return "", writeErr
	}
	if err != io.EOF {
		// Keep the partial file: the next attempt resumes from its end.
		return "", status.Errorf(codes.Unavailable, "downloading %s: %s", a.GetName(), status.Convert(err).Message())
	}
	got, err := sha256OfFile(partial) // a block at a time: packages may be large
	if err != nil {
		return "", err
	}
	if got != sha {
		os.Remove(partial)
		return "", status.Errorf(codes.DataLoss, "artifact %s refused: its bytes hash to %s, expected %s", a.GetName(), got, sha)
	}
	if err := os.Rename(partial, path); err != nil {
		return "", fmt.Errorf("cannot store %s: %v", path, err)
	}
	syncDir(c.Dir) // a lost rename is downloaded again
	return path, nil
}

func sha256OfFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %v", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Stage is phase one of the guide's two: every file the job's remaining
// steps need, downloaded and verified. It returns the job's params with the
// local paths added as "artifact:<name>"; a failure comes back as a
// FAILED/ARTIFACT result.
func (c Cache) Stage(ctx context.Context, client pb.AgentServiceClient, job *pb.Job, log func(string, ...interface{})) (map[string]string, *ActionResult) {
	params := make(map[string]string, len(job.GetParams()))
	for k, v := range job.GetParams() {
		params[k] = v
	}
	for _, list := range [][]*pb.Artifact{job.GetStage(), job.GetArtifacts()} {
		for _, a := range list {
			fresh := !PathExists(filepath.Join(c.Dir, a.GetSha256()))
			path, err := c.Ensure(ctx, client, a)
			if err != nil {
				r := Failed(pb.ErrorClass_ERROR_CLASS_ARTIFACT, 0, status.Convert(err).Message())
				return nil, &r
			}
			if fresh && log != nil {
				log("staged %s", a.GetName())
			}
			params["artifact:"+a.GetName()] = path
		}
	}
	return params, nil
}
