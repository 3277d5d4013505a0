package winsvc

import (
	"errors"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// fakeTree is a file system for secureTree: paths to kinds ("dir", "file",
// "junction"), and what was done, in order.
type fakeTree struct {
	kind map[string]string
	log  []string
	// swap: when its key is secured, the entry named becomes a junction
	// (the race secure must catch on its handle).
	swap map[string]string
}

func (f *fakeTree) ops() treeOps {
	return treeOps{
		lstat: func(p string) (bool, bool, error) {
			k, ok := f.kind[p]
			if !ok {
				return false, false, errors.New("no such file")
			}
			return k == "dir", k == "junction", nil
		},
		list: func(dir string) ([]string, error) {
			f.log = append(f.log, "list "+dir)
			var names []string
			for p := range f.kind {
				if filepath.Dir(p) == dir && p != dir {
					names = append(names, filepath.Base(p))
				}
			}
			sort.Strings(names)
			return names, nil
		},
		secure: func(p string) (bool, error) {
			if f.kind[p] == "junction" {
				return false, errReparse(p)
			}
			f.log = append(f.log, "secure "+p)
			if s, ok := f.swap[p]; ok {
				f.kind[s] = "junction"
			}
			return f.kind[p] == "dir", nil
		},
	}
}

func TestSecureTreeSecuresEverythingTopDown(t *testing.T) {
	j := filepath.Join
	f := &fakeTree{kind: map[string]string{
		"P": "dir", j("P", "agent.conf"): "file", j("P", "cache"): "dir", j("P", "cache", "abc"): "file",
		j("P", "logs"): "dir",
	}}
	if err := secureTree("P", f.ops()); err != nil {
		t.Fatal(err)
	}
	var secured []string
	for _, l := range f.log {
		if strings.HasPrefix(l, "secure ") {
			secured = append(secured, l)
		}
	}
	want := []string{"secure P", "secure " + j("P", "agent.conf"), "secure " + j("P", "cache"),
		"secure " + j("P", "cache", "abc"), "secure " + j("P", "logs")}
	if !reflect.DeepEqual(secured, want) {
		t.Errorf("secured %q, want %q", secured, want)
	}
	// A directory is listed for securing only after it was secured itself.
	seen := map[string]bool{}
	check := false
	for _, l := range f.log {
		if l == "secure P" {
			check = true // the listings before were the reparse check's
		}
		if strings.HasPrefix(l, "secure ") {
			seen[strings.TrimPrefix(l, "secure ")] = true
		}
		if d := strings.TrimPrefix(l, "list "); check && d != l && !seen[d] {
			t.Errorf("%s listed before it was secured: %q", d, f.log)
		}
	}
}

func TestSecureTreeRefusesReparsePointsBeforeChangingAnything(t *testing.T) {
	j := filepath.Join
	for _, junction := range []string{"P", j("P", "logs"), j("P", "cache", "deep")} {
		f := &fakeTree{kind: map[string]string{"P": "dir", j("P", "cache"): "dir", j("P", "logs"): "dir",
			j("P", "cache", "deep"): "dir", j("P", "a"): "file"}}
		f.kind[junction] = "junction"
		err := secureTree("P", f.ops())
		if err == nil || !strings.Contains(err.Error(), junction+" is a junction") {
			t.Errorf("%s: got %v, want the junction named", junction, err)
		}
		for _, l := range f.log {
			if strings.HasPrefix(l, "secure ") {
				t.Errorf("%s: %s although the tree holds a junction", junction, l)
			}
		}
	}
	// One made while the tree is secured is caught by secure itself.
	f := &fakeTree{kind: map[string]string{"P": "dir", j("P", "logs"): "dir"}, swap: map[string]string{"P": j("P", "logs")}}
	if err := secureTree("P", f.ops()); err == nil || !strings.Contains(err.Error(), j("P", "logs")+" is a junction") {
		t.Errorf("junction made during the walk: got %v", err)
	}
}

func TestStateFileSDDLIsStateDirSDDLWithoutInheritance(t *testing.T) {
	if strings.ReplaceAll(StateDirSDDL, "OICI", "") != StateFileSDDL {
		t.Errorf("StateFileSDDL %s is not StateDirSDDL %s without OICI", StateFileSDDL, StateDirSDDL)
	}
}
