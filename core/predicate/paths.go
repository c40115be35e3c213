package predicate

// PathTree is the tree of payload paths one CEL variable reads (device.temp and device.unit under
// device), so that evaluation decodes and converts only those fields. Each leaf is one decoded
// field; a variable whose own path is read whole is a leaf at the root. L is what the user of the
// tree keeps per leaf once bound to a field table (a field index, a retained slot). Both
// Condition and package pattern's step predicates build their variables with it.
type PathTree[L any] struct {
	Seg      string // the path segment under the parent (the variable's name at the root)
	Path     string // for a leaf, the full payload path
	Leaf     bool
	At       L // for a leaf, where its value is found
	Children []*PathTree[L]
}

// Add records that the path segs below n, whose full payload path is path, is read. A path under
// one already read whole adds nothing; a path read whole replaces what was recorded under it.
func (n *PathTree[L]) Add(segs []string, path string) {
	if n.Leaf {
		return // the whole value is read already
	}
	if len(segs) == 0 {
		n.Leaf, n.Path, n.Children = true, path, nil
		return
	}
	for _, c := range n.Children {
		if c.Seg == segs[0] {
			c.Add(segs[1:], path)
			return
		}
	}
	c := &PathTree[L]{Seg: segs[0]}
	n.Children = append(n.Children, c)
	c.Add(segs[1:], path)
}

// EachLeaf calls f with every leaf under n (n itself if it is one), to bind them.
func (n *PathTree[L]) EachLeaf(f func(*PathTree[L])) {
	if n.Leaf {
		f(n)
		return
	}
	for _, c := range n.Children {
		c.EachLeaf(f)
	}
}
