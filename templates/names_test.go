package templates

import (
	"regexp"
	"strings"
	"testing"
)

// Every name eddy new accepts for all clouds gives valid names everywhere: in particular the GCP
// service account ids the Terraform and gcloud files write (6 to 30 characters; NAME-trigger broke
// that for names under 3 or over 22 characters).
func TestNamesFitEveryCloud(t *testing.T) {
	base := "abcdefghij-klmnopqrstu-vwxyz0123456789-abcdefghijklmnopqrstuvwxyz"
	accountRE := regexp.MustCompile(`account_id\s*=\s*"([^"]+)"|iam\.gserviceaccount\.com|([a-z0-9-]+)@\$PROJECT`)
	for n := 2; n <= 43; n++ {
		name := strings.TrimRight(base[:n], "-")
		if len(name) < 2 {
			continue
		}
		if err := CheckCloudNames(name, Clouds, ""); err != nil {
			t.Errorf("%d characters: %v", n, err)
			continue
		}
		files, err := Project(Data{Name: name, Module: "m", Package: "p", Clouds: Clouds, GoVersion: "1.26.0", EddyVersion: "v0.0.0", Entry: "OnMessage"})
		if err != nil {
			t.Fatal(err)
		}
		ids := 0
		for _, f := range files {
			if f.Path != "deploy/gcp/main.tf" && f.Path != "deploy/gcp/gcloud.sh" {
				continue
			}
			for _, m := range accountRE.FindAllStringSubmatch(string(f.Data), -1) {
				id := m[1] + m[2]
				if id == "" {
					continue
				}
				ids++
				if !reAccountID.MatchString(id) {
					t.Errorf("%s: service account id %q (%d characters) breaks IAM's 6-30 rule", f.Path, id, len(id))
				}
			}
		}
		if ids < 8 {
			t.Errorf("%s: found %d service account ids in deploy/gcp", name, ids)
		}
	}
}

// A name too long for a cloud is refused with the resource, its limit and a name that fits.
func TestCheckCloudNamesMessages(t *testing.T) {
	for _, c := range []struct {
		name, project string
		clouds        []string
		want          []string
	}{
		{"press-monitor-with-a-rather-long-name-for-cloud-run", "", []string{"gcp"}, []string{"Cloud Run function and service name", "over the limit of 49", `for example "press-monitor-with-a-rather-long-name-for"`}},
		{"press-monitor-with-a-rather-long-name-for-azure", "", []string{"azure"}, []string{"Event Hubs namespace name", "over the limit of 50", "use at most 43 characters"}},
		{"press-monitor", "a-project-id-of-thirty-chars00", []string{"gcp"}, nil},
		{"press-monitor-for-the-factory-floor", "a-project-id-of-thirty-chars00", []string{"gcp"}, []string{"Cloud Storage bucket name", "over the limit of 63", "use at most 25 characters"}},
		{"press-monitor", "google-things", []string{"gcp"}, []string{`may not start with "goog"`}},
		{"Press_Monitor", "", []string{"aws"}, []string{`for example "press-monitor"`}},
	} {
		err := CheckCloudNames(c.name, c.clouds, c.project)
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s %v: accepted", c.name, c.clouds)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error lacks %q:\n%v", c.name, w, err)
			}
		}
	}
}
