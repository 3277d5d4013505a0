package agentlog

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// RotatingFile is a log file that rolls over when it would pass a size:
// path becomes path.1, path.1 becomes path.2 … up to path.<keep>, the oldest
// dropped. Each Write lands whole in one file. Safe for concurrent use.
//
// When a rollover fails (on Windows, another program holding path open
// blocks the rename), writing goes on in the same file and the rollover is
// tried again after another maxBytes: the log is never lost for it.
type RotatingFile struct {
	path     string
	maxBytes int64
	keep     int

	mu     sync.Mutex
	f      *os.File // guarded by mu; nil when closed or reopening failed
	closed bool     // guarded by mu
	size   int64    // guarded by mu: bytes written since the last rollover attempt
	err    error    // guarded by mu: the last rollover failure, reported once
}

// OpenRotating opens path for appending (creating it), to roll over past
// maxBytes, keeping keep older files.
func OpenRotating(path string, maxBytes int64, keep int) (*RotatingFile, error) {
	if maxBytes <= 0 || keep < 1 {
		return nil, fmt.Errorf("log %s: need a size above 0 and at least 1 old file (got %d, %d)", path, maxBytes, keep)
	}
	r := &RotatingFile{path: path, maxBytes: maxBytes, keep: keep}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *RotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0600)
	if err != nil {
		return err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.size = f, info.Size()
	return nil
}

// Write appends p, rolling over first when p would take the file past the
// limit (a write larger than the limit gets a file of its own).
func (r *RotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, fmt.Errorf("log %s: %w", r.path, os.ErrClosed)
	}
	if r.f == nil {
		if err := r.open(); err != nil {
			return 0, err
		}
	}
	if r.size > 0 && r.size+int64(len(p)) > r.maxBytes {
		if err := r.rotate(); err != nil {
			if r.f == nil {
				return 0, err
			}
			r.size = 0 // try again after another maxBytes
			if r.err == nil {
				r.err = err
				fmt.Fprintf(r.f, "W %s %s; going on in this file\n",
					time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), EscapeControl(err.Error()))
			}
		} else {
			r.err = nil
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

// rotate closes the file, shifts the old ones and opens a new one. On error
// it leaves r.f open on path when it can.
func (r *RotatingFile) rotate() error {
	if err := r.f.Close(); err != nil {
		r.f = nil
		return r.reopen(err)
	}
	r.f = nil
	oldest := fmt.Sprintf("%s.%d", r.path, r.keep)
	if err := os.Remove(oldest); err != nil && !errors.Is(err, os.ErrNotExist) {
		return r.reopen(err)
	}
	for i := r.keep - 1; i >= 1; i-- {
		from := fmt.Sprintf("%s.%d", r.path, i)
		if err := os.Rename(from, fmt.Sprintf("%s.%d", r.path, i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return r.reopen(err)
		}
	}
	if err := os.Rename(r.path, r.path+".1"); err != nil {
		return r.reopen(err)
	}
	return r.open()
}

// reopen goes back to appending to path after a failed rollover.
func (r *RotatingFile) reopen(cause error) error {
	if err := r.open(); err != nil {
		return fmt.Errorf("log rollover of %s failed (%v), and reopening it failed: %w", r.path, cause, err)
	}
	return fmt.Errorf("log rollover of %s failed: %w", r.path, cause)
}

// Close closes the file; later writes fail.
func (r *RotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
