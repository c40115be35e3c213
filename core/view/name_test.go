package view

import (
	"strings"
	"testing"
)

// A view name is a letter, then letters, digits, '_' or '-', at most 64 in all.
func TestDefNameForm(t *testing.T) {
	for _, name := range []string{"a", "latest_temp", "p-1", "A" + strings.Repeat("b", 63)} {
		if err := (&Def{Name: name, Kind: Latest}).Check(); err != nil {
			t.Errorf("%q: %v", name, err)
		}
	}
	for _, name := range []string{"", "1a", "_a", "a b", "ä", "A" + strings.Repeat("b", 64), "a\n"} {
		if err := (&Def{Name: name, Kind: Latest}).Check(); err == nil || !strings.Contains(err.Error(), "name: want a letter") {
			t.Errorf("%q: err %v, want the name's form named", name, err)
		}
	}
}
