package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/eddyhq/eddy/templates"
)

// cloud is what eddy knows about one cloud: the trigger payloads new and generate-event write for
// it, and how deploy builds and ships a project there, where its logs are and how to tear it down.
// One value per cloud replaces switches on the cloud's name.
type cloud interface {
	// name is the --cloud value.
	name() string
	// defaultRegion is the region used when none is given or saved.
	defaultRegion() string
	// tools are the deploy --tool values, the default first.
	tools() []string
	// triggerEvent wraps events in the payload the cloud's trigger hands the function.
	triggerEvent(o genOpts, evs [][]byte, keys []string, at time.Time) ([]byte, error)
	// samplePath is the scaffold's testdata file holding triggerEvent's payload.
	samplePath() string
	// appFiles are the files new and deploy write besides the templates.
	appFiles(d templates.Data) ([]templates.File, error)
	// settle fills and checks the cloud's own options (the others must stay unset).
	settle(p *project, o *deployOpts, fl *pflag.FlagSet) error
	// describe is the plan's headline's cloud-specific part (", pull mode").
	describe(o deployOpts) string
	// note is what the plan should say besides the commands ("" for nothing).
	note(o deployOpts) string
	// check fails, before anything is built, when the deployment cannot go ahead as asked.
	check(p *project, o deployOpts) error
	// build builds the artifacts the plan deploys into build.
	build(ctx context.Context, p *project, b *builder, build string) ([]artifact, error)
	// plan is the commands that deploy the artifacts.
	plan(p *project, o deployOpts, build string) []step
	// logs is the command that tails the deployed function's logs.
	logs(p *project, o deployOpts) step
	// destroy is the commands that delete what plan created.
	destroy(p *project, o deployOpts, build string) []step
	// eventsURL is where to publish events to the deployed function (eddy send --to).
	eventsURL(p *project, o deployOpts) string
}

// clouds are the clouds eddy deploys to, in templates.Clouds' order.
var clouds = []cloud{awsCloud{}, gcpCloud{}, azureCloud{}}

// cloudNamed returns the cloud called name.
func cloudNamed(name string) (cloud, error) {
	for _, c := range clouds {
		if c.name() == name {
			return c, nil
		}
	}
	return nil, usagef("--cloud %q: want aws, gcp or azure", name)
}

// onlyFor fails when the flags of another cloud were given.
func onlyFor(fl *pflag.FlagSet, cloudName string, flags ...string) error {
	for _, f := range flags {
		if fl.Lookup(f) != nil && fl.Changed(f) {
			return usagef("--%s is not for --cloud %s", f, cloudName)
		}
	}
	return nil
}

// tfSteps are terraform init and the given subcommand (apply, destroy) in deploy/CLOUD with vars.
func tfSteps(p *project, cloudName, verb string, vars ...string) []step {
	dir := "-chdir=" + filepath.Join("deploy", cloudName)
	cmd := []string{"terraform", dir, verb, "-input=false"}
	for _, v := range vars {
		cmd = append(cmd, "-var", v)
	}
	return []step{{args: []string{"terraform", dir, "init", "-input=false"}}, {args: cmd}}
}

type awsCloud struct{}

func (awsCloud) name() string          { return "aws" }
func (awsCloud) defaultRegion() string { return "us-east-1" }
func (awsCloud) tools() []string       { return []string{"sam", "terraform"} }
func (awsCloud) samplePath() string    { return "testdata/aws-kinesis-event.json" }
func (awsCloud) triggerEvent(o genOpts, evs [][]byte, keys []string, at time.Time) ([]byte, error) {
	return kinesisEvent(o, evs, keys, at)
}
func (awsCloud) appFiles(templates.Data) ([]templates.File, error) { return nil, nil }
func (awsCloud) settle(_ *project, o *deployOpts, fl *pflag.FlagSet) error {
	o.project, o.mode, o.plan, o.resourceGroup = "", "", "", ""
	return onlyFor(fl, "aws", "project", "mode", "plan", "resource-group")
}
func (awsCloud) describe(deployOpts) string       { return "" }
func (awsCloud) note(deployOpts) string           { return "" }
func (awsCloud) check(*project, deployOpts) error { return nil }
func (awsCloud) build(ctx context.Context, p *project, b *builder, build string) ([]artifact, error) {
	return buildAWS(ctx, p, b, build)
}

func (awsCloud) plan(p *project, o deployOpts, build string) []step {
	if o.tool == "terraform" {
		return tfSteps(p, "aws", "apply", awsVars(p, o)...)
	}
	// sam deploy packages the template as it is: CodeUri is the literal path of awsArtifact.
	return []step{{args: []string{"sam", "deploy", "--template-file", filepath.Join("deploy", "aws", "template.yaml"),
		"--stack-name", p.name, "--region", o.region, "--capabilities", "CAPABILITY_IAM", "--resolve-s3",
		"--no-confirm-changeset", "--no-fail-on-empty-changeset"}}}
}

// awsVars are the Terraform variables of deploy/aws: the region and the Lambda packages.
func awsVars(p *project, o deployOpts) []string {
	vars := []string{"region=" + o.region, "artifact=" + awsArtifact(p.root)}
	if p.data.Dashboard {
		vars = append(vars, "dashboard_artifact="+awsDashboardArtifact(p.root))
	}
	return vars
}

func (awsCloud) logs(p *project, o deployOpts) step {
	return step{args: []string{"aws", "logs", "tail", "/aws/lambda/" + p.name, "--follow", "--region", o.region}}
}

func (awsCloud) destroy(p *project, o deployOpts, build string) []step {
	if o.tool == "terraform" {
		return tfSteps(p, "aws", "destroy", awsVars(p, o)...)
	}
	return []step{{args: []string{"sam", "delete", "--stack-name", p.name, "--region", o.region, "--no-prompts"}}}
}

func (awsCloud) eventsURL(p *project, o deployOpts) string {
	return "kinesis://" + p.name + "-events?region=" + o.region
}

type gcpCloud struct{}

func (gcpCloud) name() string          { return "gcp" }
func (gcpCloud) defaultRegion() string { return "us-central1" }
func (gcpCloud) tools() []string       { return []string{"terraform", "gcloud"} }
func (gcpCloud) samplePath() string    { return "testdata/gcp-pubsub-cloudevents.http" }
func (gcpCloud) triggerEvent(o genOpts, evs [][]byte, keys []string, at time.Time) ([]byte, error) {
	return pubsubEvents(o, evs, keys, at)
}
func (gcpCloud) appFiles(templates.Data) ([]templates.File, error) { return nil, nil }

func (gcpCloud) settle(_ *project, o *deployOpts, fl *pflag.FlagSet) error {
	o.plan, o.resourceGroup = "", ""
	if err := onlyFor(fl, "gcp", "plan", "resource-group"); err != nil {
		return err
	}
	if o.project == "" {
		o.project = os.Getenv("GOOGLE_CLOUD_PROJECT")
	}
	if o.mode == "" {
		o.mode = "push"
	}
	if o.mode != "push" && o.mode != "pull" {
		return usagef("--mode %q: want push or pull", o.mode)
	}
	return nil
}

func (gcpCloud) describe(o deployOpts) string { return ", " + o.mode + " mode" }

func (gcpCloud) note(o deployOpts) string {
	if o.project == "" {
		return "No --project (or $GOOGLE_CLOUD_PROJECT): the commands say PROJECT_ID."
	}
	return ""
}

func (gcpCloud) check(p *project, o deployOpts) error {
	if !o.dryRun && o.project == "" {
		return usagef("deploy --cloud gcp needs the project: pass --project PROJECT_ID or set GOOGLE_CLOUD_PROJECT (checked before building)")
	}
	if o.mode == "pull" && o.tool == "gcloud" {
		return usagef("--mode pull deploys with --tool terraform (deploy/gcp/gcloud.sh is push mode)")
	}
	return nil
}

func (gcpCloud) build(ctx context.Context, p *project, b *builder, build string) ([]artifact, error) {
	return buildGCP(ctx, p, b, build)
}

func gcpProject(o deployOpts) string {
	if o.project == "" {
		return "PROJECT_ID"
	}
	return o.project
}

// gcpPullImage is the pulling service's image: in the stack's Artifact Registry repository,
// tagged with the build's content hash so that a new build makes a new revision.
func gcpPullImage(p *project, o deployOpts) string {
	tag := o.buildHash
	if len(tag) > 12 {
		tag = tag[:12]
	}
	if tag == "" {
		tag = "latest"
	}
	return fmt.Sprintf("%s-docker.pkg.dev/%s/%s/pull:%s", o.region, gcpProject(o), p.name, tag)
}

func (gcpCloud) vars(p *project, o deployOpts, build string) []string {
	vars := []string{"project=" + gcpProject(o), "region=" + o.region, "source_zip=" + filepath.Join(build, "source.zip"), "mode=" + o.mode}
	if o.mode == "pull" {
		vars = append(vars, "pull_image="+gcpPullImage(p, o))
	}
	return vars
}

func (g gcpCloud) plan(p *project, o deployOpts, build string) []step {
	project := gcpProject(o)
	if o.tool == "gcloud" {
		return []step{{args: []string{"sh", filepath.Join("deploy", "gcp", "gcloud.sh"), project, o.region}, needs: "gcloud",
			env: []string{"EDDY_GCP_SOURCE=" + filepath.Join(build, "source")}}}
	}
	vars := g.vars(p, o, build)
	steps := tfSteps(p, "gcp", "apply", vars...)
	if o.mode != "pull" {
		return steps
	}
	// Pull mode: the image registry first, then Cloud Build builds the bundle's pull command into
	// it, then everything else (the service needs the image).
	first := slices.Clone(steps[1].args)
	first = append(first, "-target=google_artifact_registry_repository.images")
	build1 := step{args: []string{"gcloud", "builds", "submit", filepath.Join(build, "source"), "--project", project, "--region", o.region,
		"--pack", "image=" + gcpPullImage(p, o) + ",env=GOOGLE_BUILDABLE=./pull"}}
	return []step{steps[0], {args: first}, build1, steps[1]}
}

func (gcpCloud) logs(p *project, o deployOpts) step {
	service := p.name
	if o.mode == "pull" {
		service += "-pull"
	}
	return step{args: []string{"gcloud", "beta", "run", "services", "logs", "tail", service, "--project", gcpProject(o), "--region", o.region}}
}

func (g gcpCloud) destroy(p *project, o deployOpts, build string) []step {
	project := gcpProject(o)
	if o.tool == "gcloud" {
		q := []string{"--project", project, "--quiet"}
		r := append([]string{"--region", o.region}, q...)
		steps := []step{
			{args: append([]string{"gcloud", "scheduler", "jobs", "delete", p.name + "-tick", "--location", o.region}, q...)},
			{args: append([]string{"gcloud", "pubsub", "subscriptions", "delete", p.name + "-events"}, q...)},
			{args: append([]string{"gcloud", "functions", "delete", p.name + "-tick", "--gen2"}, r...)},
			{args: append([]string{"gcloud", "functions", "delete", p.name, "--gen2"}, r...)},
		}
		if p.data.Dashboard {
			steps = append(steps, step{args: append([]string{"gcloud", "functions", "delete", p.name + "-dash", "--gen2"}, r...)})
		}
		return steps
	}
	return tfSteps(p, "gcp", "destroy", g.vars(p, o, build)...)
}

func (gcpCloud) eventsURL(p *project, o deployOpts) string {
	return "gcppubsub://projects/" + gcpProject(o) + "/topics/" + p.name + "-events?ordering=true"
}

type azureCloud struct{}

func (azureCloud) name() string          { return "azure" }
func (azureCloud) defaultRegion() string { return "westeurope" }
func (azureCloud) tools() []string       { return []string{"terraform"} }
func (azureCloud) samplePath() string    { return "testdata/azure-eventhubs-invocation.json" }
func (azureCloud) triggerEvent(o genOpts, evs [][]byte, keys []string, at time.Time) ([]byte, error) {
	return eventHubsBody(o, evs, keys, at)
}
func (azureCloud) appFiles(d templates.Data) ([]templates.File, error) { return azureAppFiles(d) }

func (azureCloud) settle(p *project, o *deployOpts, fl *pflag.FlagSet) error {
	o.project, o.mode = "", ""
	if err := onlyFor(fl, "azure", "project", "mode"); err != nil {
		return err
	}
	if o.plan == "" {
		o.plan = "consumption"
	}
	if azurePlans[o.plan] == "" {
		return usagef("--plan %q: want consumption (Y1) or flex (FC1)", o.plan)
	}
	if o.resourceGroup == "" {
		o.resourceGroup = p.name + "-rg"
	}
	return nil
}

func (azureCloud) describe(o deployOpts) string {
	return ", " + o.plan + " plan (" + azurePlans[o.plan] + ")"
}
func (azureCloud) note(deployOpts) string           { return "" }
func (azureCloud) check(*project, deployOpts) error { return nil }
func (azureCloud) build(ctx context.Context, p *project, b *builder, build string) ([]artifact, error) {
	return buildAzure(ctx, p, b, build)
}

// azurePlans maps --plan to the service plan's sku.
var azurePlans = map[string]string{"consumption": "Y1", "flex": "FC1"}

func (azureCloud) vars(o deployOpts, build string) []string {
	return []string{"location=" + o.region, "resource_group=" + o.resourceGroup, "app_zip=" + filepath.Join(build, "app.zip"), "plan=" + azurePlans[o.plan]}
}

func (a azureCloud) plan(p *project, o deployOpts, build string) []step {
	return tfSteps(p, "azure", "apply", a.vars(o, build)...)
}

func (azureCloud) logs(p *project, o deployOpts) step {
	// The app's name has a random suffix: Terraform's output knows it.
	return step{args: []string{"sh", "-c", "az webapp log tail --resource-group " + shellQuote(o.resourceGroup) +
		` --name "$(terraform -chdir=deploy/azure output -raw function_app)"`}, needs: "az"}
}

func (a azureCloud) destroy(p *project, o deployOpts, build string) []step {
	return tfSteps(p, "azure", "destroy", a.vars(o, build)...)
}

func (azureCloud) eventsURL(p *project, o deployOpts) string {
	return "eventhubs://NAMESPACE/" + p.name + "-events (NAMESPACE: terraform -chdir=deploy/azure output events_hub)"
}

// toolNames lists a cloud's tools for messages.
func toolNames(c cloud) string { return strings.Join(c.tools(), " or ") }
