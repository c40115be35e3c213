//go:build unix

package standin_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/eddyhq/eddy/internal/standin"
)

// Each stand-in starts, answers on loopback, and is gone after its test.
func TestStandinsAnswer(t *testing.T) {
	for name, start := range map[string]func(testing.TB) string{
		"dynalite": standin.Dynalite, "azurite": standin.Azurite, "kinesalite": standin.Kinesalite,
	} {
		t.Run(name, func(t *testing.T) {
			ep := start(t)
			if !strings.HasPrefix(ep, "http://127.0.0.1:") {
				t.Fatalf("endpoint %q is not on loopback", ep)
			}
			resp, err := http.Get(ep)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		})
	}
}
