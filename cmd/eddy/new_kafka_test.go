package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// The AWS scaffold can feed the function from a Kafka topic as well: SAM parameters and
// conditions make an MSK or a self-managed Kafka event source mapping (and MSK's managed policy on
// the role) only when the topic and its cluster or brokers are given; Terraform does the same with
// variables and counts.
func TestNewAWSKafkaMapping(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p")
	if code, _, stderr := runEnv(t, "", false, "new", "press-monitor", "--cloud", "aws", "--dir", dir, "--no-tidy", "--eddy-path", "../.."); code != 0 {
		t.Fatalf("new: exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(filepath.Join(dir, "deploy/aws/template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Parameters map[string]map[string]any `yaml:"Parameters"`
		Conditions map[string]any            `yaml:"Conditions"`
		Resources  map[string]struct {
			Type       string         `yaml:"Type"`
			Condition  string         `yaml:"Condition"`
			Properties map[string]any `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(data, &tpl); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"KafkaTopic", "MskClusterArn", "KafkaBootstrapServers"} {
		if d, ok := tpl.Parameters[p]; !ok || d["Default"] != "" {
			t.Errorf("parameter %s: %v", p, d)
		}
	}
	for name, cond := range map[string]string{"MskEvents": "UseMsk", "SelfManagedKafkaEvents": "UseSelfManagedKafka"} {
		r, ok := tpl.Resources[name]
		if !ok || r.Type != "AWS::Lambda::EventSourceMapping" || r.Condition != cond || tpl.Conditions[cond] == nil {
			t.Errorf("resource %s: %+v", name, r)
		}
		if r.Properties["StartingPosition"] != "TRIM_HORIZON" || r.Properties["Topics"] == nil {
			t.Errorf("resource %s: properties %v", name, r.Properties)
		}
	}
	if !strings.Contains(string(data), "ManagedPolicyArns: !If [UseMsk, [arn:aws:iam::aws:policy/service-role/AWSLambdaMSKExecutionRole], !Ref AWS::NoValue]") {
		t.Error("the role does not get MSK's managed policy under UseMsk")
	}

	path := filepath.Join(dir, "deploy/aws/main.tf")
	f, diags := hclparse.NewParser().ParseHCLFile(path)
	if diags.HasErrors() {
		t.Fatalf("%s: %v", path, diags)
	}
	counted := map[string]bool{}
	vars := map[string]bool{}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		switch b.Type {
		case "variable":
			vars[b.Labels[0]] = true
		case "resource":
			if _, ok := b.Body.Attributes["count"]; ok {
				counted[b.Labels[0]+"."+b.Labels[1]] = true
			}
		}
	}
	for _, v := range []string{"kafka_topic", "msk_cluster_arn", "kafka_bootstrap_servers"} {
		if !vars[v] {
			t.Errorf("main.tf has no variable %s", v)
		}
	}
	for _, r := range []string{"aws_lambda_event_source_mapping.msk", "aws_lambda_event_source_mapping.self_managed_kafka", "aws_iam_role_policy_attachment.msk"} {
		if !counted[r] {
			t.Errorf("main.tf has no %s with a count", r)
		}
	}
}
