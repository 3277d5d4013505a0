package agent

import (
	"fmt"
	"os"

	"google.golang.org/protobuf/proto"
	pb "purserpb/v1"
)

// Journal is one small file, rewritten atomically: what the agent is doing
// with which (job, attempt), so a restart resumes instead of guessing.
type Journal struct{ Path string }

// Load returns the journal, empty when there is none.
func (j Journal) Load() (*pb.Journal, error) {
	data, err := os.ReadFile(j.Path)
	if os.IsNotExist(err) {
		return &pb.Journal{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := &pb.Journal{}
	if err := proto.Unmarshal(data, out); err != nil {
		return nil, fmt.Errorf("journal %s is corrupt", j.Path)
	}
	return out, nil
}

// Save replaces the journal.
func (j Journal) Save(entry *pb.Journal) error {
	data, err := proto.Marshal(entry)
	if err != nil {
		return err
	}
	return WriteFileAtomic(j.Path, data, 0600)
}

// Clear removes the journal.
func (j Journal) Clear() error {
	if err := os.Remove(j.Path); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("cannot remove %s: %v", j.Path, err)
	}
	return nil
}
