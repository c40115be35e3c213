package templates

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// A nameRule is one cloud resource the project's name becomes part of, and that resource's
// naming limit as its cloud documents it.
type nameRule struct {
	cloud    string
	resource string                            // what it is, as the cloud calls it
	make     func(name, project string) string // the resource's name, as the templates write it
	min, max int
	re       *regexp.Regexp // allowed form ("" when only the length matters)
	form     string         // the form, in words
	project  bool           // needs the GCP project id (checked by deploy, not new)
}

var (
	reAWSName   = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	reAWSStream = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	reStack     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*$`)
	reGCPName   = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	reAccountID = regexp.MustCompile(`^[a-z][-a-z0-9]*[a-z0-9]$`) // 6 to 30: nameRules checks lengths first
	reBucket    = regexp.MustCompile(`^[a-z0-9][-a-z0-9_.]*[a-z0-9]$`)
	reTopic     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-_.~+%]*$`)
	reEHNS      = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]$`)
	reEventHub  = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`)
	reStorage   = regexp.MustCompile(`^[a-z0-9]+$`)
	reAzureApp  = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`)
	reRG        = regexp.MustCompile(`^[-\w._()]+$`)
	azureSuffix = "x1y2z3" // the random_string suffix's shape: 6 lowercase letters and digits
	suffixed    = func(s string) func(string, string) string { return func(n, _ string) string { return n + s } }
	shortSuffix = func(tag string) func(string, string) string {
		return func(n, _ string) string { return Data{Name: n}.Short(17) + tag + azureSuffix }
	}
)

// nameRules are the limits the project's name must meet, per cloud (sources: the AWS API
// references for Lambda, Kinesis, DynamoDB, SQS, IAM, EventBridge and CloudFormation; Google
// Cloud's Cloud Run, IAM, Cloud Storage and Pub/Sub resource name rules; Azure's resource name
// rules for Microsoft.EventHub, Microsoft.Storage, Microsoft.Web and resource groups).
var nameRules = []nameRule{
	{cloud: "aws", resource: "Lambda function name", make: suffixed(""), min: 1, max: 64, re: reAWSName, form: "letters, digits, hyphens, underscores"},
	{cloud: "aws", resource: "CloudFormation stack name", make: suffixed(""), min: 1, max: 128, re: reStack, form: "a letter, then letters, digits, hyphens"},
	{cloud: "aws", resource: "Kinesis stream name", make: suffixed("-outputs"), min: 1, max: 128, re: reAWSStream, form: "letters, digits, _ . -"},
	{cloud: "aws", resource: "DynamoDB table name", make: suffixed("-state"), min: 3, max: 255, re: reAWSStream, form: "letters, digits, _ . -"},
	{cloud: "aws", resource: "SQS queue name", make: suffixed("-deadletter"), min: 1, max: 80, re: reAWSName, form: "letters, digits, hyphens, underscores"},
	{cloud: "aws", resource: "IAM role name", make: suffixed("-function"), min: 1, max: 64, re: regexp.MustCompile(`^[\w+=,.@-]+$`), form: "letters, digits, +=,.@_-"},
	{cloud: "aws", resource: "EventBridge rule name", make: suffixed("-tick"), min: 1, max: 64, re: reAWSStream, form: "letters, digits, _ . -"},
	{cloud: "gcp", resource: "Cloud Run function and service name", make: suffixed("-tick"), min: 1, max: 49, re: reGCPName, form: "lowercase letters, digits, hyphens, starting with a letter"},
	{cloud: "gcp", resource: "Cloud Run service name (pull mode)", make: suffixed("-pull"), min: 1, max: 49, re: reGCPName, form: "lowercase letters, digits, hyphens, starting with a letter"},
	{cloud: "gcp", resource: "service account id", make: func(n, _ string) string { return GCPAccountID(n, "build") }, min: 6, max: 30, re: reAccountID, form: "lowercase letters, digits, hyphens, starting with a letter"},
	{cloud: "gcp", resource: "Pub/Sub topic and subscription name", make: suffixed("-deadletter"), min: 3, max: 255, re: reTopic, form: "a letter, then letters, digits, - _ . ~ + %"},
	{cloud: "gcp", resource: "Artifact Registry repository id", make: suffixed(""), min: 1, max: 63, re: reGCPName, form: "lowercase letters, digits, hyphens"},
	{cloud: "gcp", resource: "Cloud Storage bucket name (PROJECT-NAME-source)", make: func(n, p string) string { return p + "-" + n + "-source" }, min: 3, max: 63, re: reBucket, form: "lowercase letters, digits, - _ .", project: true},
	{cloud: "azure", resource: "Event Hubs namespace name (NAME-xxxxxx)", make: func(n, _ string) string { return n + "-" + azureSuffix }, min: 6, max: 50, re: reEHNS, form: "letters, digits, hyphens, starting with a letter"},
	{cloud: "azure", resource: "event hub name", make: suffixed("-outputs"), min: 1, max: 256, re: reEventHub, form: "letters, digits, . _ -"},
	{cloud: "azure", resource: "storage account name", make: shortSuffix("h"), min: 3, max: 24, re: reStorage, form: "lowercase letters and digits"},
	{cloud: "azure", resource: "function app name (NAME-xxxxxx)", make: func(n, _ string) string { return n + "-" + azureSuffix }, min: 2, max: 60, re: reAzureApp, form: "letters, digits, hyphens"},
	{cloud: "azure", resource: "App Service plan name", make: suffixed("-plan"), min: 1, max: 60, re: reAzureApp, form: "letters, digits, hyphens"},
	{cloud: "azure", resource: "resource group name", make: suffixed("-rg"), min: 1, max: 90, re: reRG, form: "letters, digits, - _ . ( )"},
	{cloud: "azure", resource: "Log Analytics workspace name (NAME-xxxxxx-logs, alarms.tf)", make: func(n, _ string) string { return n + "-" + azureSuffix + "-logs" }, min: 4, max: 63, re: reAzureApp, form: "letters, digits, hyphens"},
}

// CheckCloudNames checks what the project's name becomes in each of clouds against that cloud's
// limits (with project, the GCP project id, when it is known: bucket names include it). The error
// names each broken limit, the resource and its length, and suggests a name that fits them all.
func CheckCloudNames(name string, clouds []string, project string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	var broken []string
	maxLen := len(name)
	for _, r := range nameRules {
		if !slices.Contains(clouds, r.cloud) || r.project && project == "" {
			continue
		}
		got := r.make(name, project)
		switch {
		case len(got) > r.max:
			broken = append(broken, fmt.Sprintf("%s: the %s %q is %d characters, over the limit of %d", strings.ToUpper(r.cloud), r.resource, got, len(got), r.max))
			if fit := len(name) - (len(got) - r.max); fit < maxLen {
				maxLen = fit
			}
		case len(got) < r.min:
			broken = append(broken, fmt.Sprintf("%s: the %s %q is %d characters, under the minimum of %d", strings.ToUpper(r.cloud), r.resource, got, len(got), r.min))
		case r.re != nil && !r.re.MatchString(got):
			broken = append(broken, fmt.Sprintf("%s: the %s %q is not of the allowed form (%s)", strings.ToUpper(r.cloud), r.resource, got, r.form))
		case r.cloud == "gcp" && r.project && (strings.HasPrefix(got, "goog") || strings.Contains(got, "google")):
			broken = append(broken, fmt.Sprintf("GCP: the %s %q may not start with \"goog\" or contain \"google\"", r.resource, got))
		}
	}
	if len(broken) == 0 {
		return nil
	}
	msg := fmt.Sprintf("name %q does not fit the cloud resources it names:\n  %s", name, strings.Join(broken, "\n  "))
	if maxLen < 2 {
		return fmt.Errorf("%s\n(the GCP project id %q leaves no room for a name; use a shorter project)", msg, project)
	}
	if s := SuggestName(name, maxLen); s != name && CheckCloudNames(s, clouds, project) == nil {
		msg += fmt.Sprintf("\nuse at most %d characters, for example %q", maxLen, s)
	}
	return fmt.Errorf("%s", msg)
}

// SuggestName turns s into a valid project name of at most max characters: lowercase, other
// characters as hyphens, no double, leading or trailing hyphens, starting with a letter.
func SuggestName(s string, max int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else if !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" || out[0] >= '0' && out[0] <= '9' {
		out = "fn-" + out
	}
	if max < 2 {
		max = 2
	}
	if len(out) > max {
		out = out[:max]
		// Cut at a word when that keeps most of it.
		if i := strings.LastIndex(out, "-"); i >= max/2 {
			out = out[:i]
		}
	}
	out = strings.TrimRight(out, "-")
	for len(out) < 2 {
		out += "x"
	}
	return out
}
