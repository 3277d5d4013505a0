package agent

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces path with data: written to a temporary file in
// the same directory, flushed, then renamed over path, so a crash leaves
// the old content or the new, never a mix. The directory is flushed too.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("cannot write %s: %v", path, err)
	}
	name := tmp.Name()
	fail := func(err error) error {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("cannot write %s: %v", path, err)
	}
	if err := tmp.Chmod(mode); err != nil && !isWindows {
		return fail(err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("cannot write %s: %v", path, err)
	}
	syncDir(dir)
	return nil
}

// syncDir flushes a directory's entries (a rename) where the OS allows it.
func syncDir(dir string) {
	if isWindows {
		return // NTFS journals renames; a directory cannot be opened for sync
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// PathExists reports whether path names an existing file or directory.
func PathExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
