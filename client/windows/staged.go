package windows

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// The agent's cache names a package by its SHA-256, without an extension.
// Windows tools judge a file by its name (wusa takes only an .msu), and the
// command lines an administrator reads should be the guide's
// ("wusa.exe ...\Windows6.1-KB3080149-x64.msu /quiet /norestart",
// "MMASetup-AMD64.exe /c /t:<dir>"): a package runs under the plan's name
// for it, from a directory of its own in the work directory.

// validFileName: name can be a Windows file name on its own.
func validFileName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, `\/:*?"<>|`) &&
		strings.TrimRight(name, ". ") == name
}

// stageNamed makes a new directory under workDir (its name starting with
// prefix) holding the file at path as name: a hard link, the cache and the
// work directory sharing the state directory's volume, or else a copy. The
// caller removes the directory when the step ends.
func stageNamed(workDir, prefix, path, name string) (dir, staged string, err error) {
	if !validFileName(name) {
		return "", "", fmt.Errorf("package name %q cannot be a Windows file name", name)
	}
	if err := os.MkdirAll(workDir, 0o700); err != nil {
		return "", "", fmt.Errorf("cannot create the work directory: %v", err)
	}
	dir, err = os.MkdirTemp(workDir, prefix)
	if err != nil {
		return "", "", fmt.Errorf("cannot create a directory for %s: %v", name, err)
	}
	staged = filepath.Join(dir, name)
	if err := os.Link(path, staged); err == nil {
		return dir, staged, nil
	}
	if err := copyTo(path, staged); err != nil {
		os.RemoveAll(dir)
		return "", "", fmt.Errorf("cannot stage %s: %v", name, err)
	}
	return dir, staged, nil
}

func copyTo(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
