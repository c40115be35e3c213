package webhook_test

import (
	"io"
	"net/http"
	"os"
	"time"

	"github.com/eddyhq/eddy/core/sink/webhook"
)

// A receiver checks each request's signature before it trusts the body, and drops duplicates by
// Eddy-Id.
func ExampleVerify() {
	secret := []byte(os.Getenv(webhook.EnvSecret))
	http.HandleFunc("/eddy", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := webhook.Verify(secret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		_ = r.Header.Get("Eddy-Id") // the output's id: seen before? then answer 200 and stop
		// ... handle body (a window result, decision, late event or dead letter) ...
		w.WriteHeader(http.StatusNoContent)
	})
}
