package winsvc

import (
	"fmt"
	"path/filepath"
)

// An ordinary user can create %ProgramData%\Purser, or folders and files
// in it, before the agent is installed: %ProgramData% lets users create
// entries, and the creator owns them. Protecting the top directory's DACL
// is not enough: it replaces only the ACEs its children inherit, and their
// own ACEs, owners and junctions stay, so a planted file in the package
// cache, or a logs junction to C:\Windows, would be used by the agent as
// SYSTEM. The whole tree is therefore reset, and reparse points refused.

// treeOps are the file system calls secureTree makes: the Windows ones in
// acl_windows.go, fakes in the tests.
type treeOps struct {
	// lstat says whether path is a directory and whether it is a reparse
	// point (junction, symbolic link, mount point...), not following it.
	lstat func(path string) (dir, reparse bool, err error)
	// list names the entries of a directory.
	list func(dir string) ([]string, error)
	// secure gives path the owner and DACL it must have. It refuses a
	// reparse point itself, on the handle it changes (the entry may have
	// been replaced since lstat), and says whether path is a directory.
	secure func(path string) (dir bool, err error)
}

// errReparse names a reparse point found in the tree.
func errReparse(path string) error {
	return fmt.Errorf("%s is a junction, symbolic link or other reparse point, which the agent's state directory "+
		"must not hold (it was not made by the installer, and Windows would follow it as SYSTEM): "+
		"delete it and install again", path)
}

// secureTree refuses a tree holding a reparse point, before anything
// changes, then secures top and everything under it, top down: an entry
// is listed only once its directory is secured, so nobody else can add
// one meanwhile.
func secureTree(top string, ops treeOps) error {
	if err := checkNoReparse(top, ops); err != nil {
		return err
	}
	return secureBelow(top, ops)
}

func checkNoReparse(path string, ops treeOps) error {
	dir, reparse, err := ops.lstat(path)
	if err != nil {
		return fmt.Errorf("cannot check %s: %v", path, err)
	}
	if reparse {
		return errReparse(path)
	}
	if !dir {
		return nil
	}
	names, err := ops.list(path)
	if err != nil {
		return fmt.Errorf("cannot check %s: %v", path, err)
	}
	for _, n := range names {
		if err := checkNoReparse(filepath.Join(path, n), ops); err != nil {
			return err
		}
	}
	return nil
}

func secureBelow(path string, ops treeOps) error {
	dir, err := ops.secure(path)
	if err != nil || !dir {
		return err
	}
	names, err := ops.list(path)
	if err != nil {
		return fmt.Errorf("cannot list %s: %v", path, err)
	}
	for _, n := range names {
		if err := secureBelow(filepath.Join(path, n), ops); err != nil {
			return err
		}
	}
	return nil
}
