package predicate

import (
	"reflect"
	"testing"
)

// TestPathTree: paths under one variable share their prefixes; a path read whole swallows what was
// read under it and everything added under it later.
func TestPathTree(t *testing.T) {
	leaves := func(n *PathTree[int]) []string {
		var got []string
		n.EachLeaf(func(l *PathTree[int]) { got = append(got, l.Path) })
		return got
	}
	root := &PathTree[int]{Seg: "device"}
	root.Add([]string{"temp"}, "device.temp")
	root.Add([]string{"pos", "x"}, "device.pos.x")
	root.Add([]string{"pos", "y"}, "device.pos.y")
	root.Add([]string{"temp"}, "device.temp")
	if got, want := leaves(root), []string{"device.temp", "device.pos.x", "device.pos.y"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("leaves %v, want %v", got, want)
	}
	root.Add([]string{"pos"}, "device.pos")
	root.Add([]string{"pos", "z"}, "device.pos.z")
	if got, want := leaves(root), []string{"device.temp", "device.pos"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after reading pos whole: leaves %v, want %v", got, want)
	}
	root.Add(nil, "device")
	if got, want := leaves(root), []string{"device"}; !reflect.DeepEqual(got, want) || len(root.Children) != 0 {
		t.Fatalf("after reading device whole: leaves %v (children %d), want %v", got, len(root.Children), want)
	}
}
