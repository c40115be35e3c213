package core

// FieldTable assigns an index to each payload field a pipeline needs, so decoders extract only those
// fields, once, into Event.Fields, and aggregates, rules and patterns read them by index. Paths are
// dotted ("value", "device.temp", "items.0.price"); see package codec for the exact syntax.
type FieldTable struct {
	paths []string
	index map[string]int
}

// Index returns the index of path, adding it to the table if it is new.
func (t *FieldTable) Index(path string) int {
	if i, ok := t.index[path]; ok {
		return i
	}
	if t.index == nil {
		t.index = make(map[string]int)
	}
	t.index[path] = len(t.paths)
	t.paths = append(t.paths, path)
	return len(t.paths) - 1
}

// Lookup returns the index of path and whether the table has it.
func (t *FieldTable) Lookup(path string) (int, bool) {
	i, ok := t.index[path]
	return i, ok
}

// Paths returns the paths in index order. The caller must not modify it.
func (t *FieldTable) Paths() []string { return t.paths }

// Len is the number of fields.
func (t *FieldTable) Len() int { return len(t.paths) }
