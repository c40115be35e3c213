package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/goccy/go-yaml"
	"github.com/spf13/pflag"
)

// deployConfigPath is the project's saved deploy configuration, next to the infrastructure files
// and committed with them (as SAM's samconfig.toml is).
const deployConfigPath = "deploy/eddy-deploy.yaml"

// deployConfig is what eddy deploy saves and eddy deploy, logs and destroy read back: the flags
// given once, per cloud.
type deployConfig struct {
	// Cloud is the cloud last deployed to: the default --cloud.
	Cloud string `yaml:"cloud,omitempty"`
	// Dashboard tells that the stacks carry the dashboard (eddy new --dashboard): deploy builds and
	// ships it with the function.
	Dashboard bool         `yaml:"dashboard,omitempty"`
	AWS       *cloudConfig `yaml:"aws,omitempty"`
	GCP       *cloudConfig `yaml:"gcp,omitempty"`
	Azure     *cloudConfig `yaml:"azure,omitempty"`
}

// cloudConfig is one cloud's saved flags.
type cloudConfig struct {
	Tool          string `yaml:"tool,omitempty"`
	Region        string `yaml:"region,omitempty"`
	Project       string `yaml:"project,omitempty"`        // gcp
	Mode          string `yaml:"mode,omitempty"`           // gcp: push or pull
	ResourceGroup string `yaml:"resource_group,omitempty"` // azure
	Plan          string `yaml:"plan,omitempty"`           // azure: consumption or flex
}

func (c *deployConfig) get(cloud string) *cloudConfig {
	p := map[string]**cloudConfig{"aws": &c.AWS, "gcp": &c.GCP, "azure": &c.Azure}[cloud]
	if p == nil {
		return &cloudConfig{}
	}
	if *p == nil {
		*p = &cloudConfig{}
	}
	return *p
}

// loadDeployConfig reads root's saved configuration; a missing file is an empty one.
func loadDeployConfig(root string) (*deployConfig, error) {
	path := filepath.Join(root, filepath.FromSlash(deployConfigPath))
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &deployConfig{}, nil
	}
	if err != nil {
		return nil, err
	}
	var c deployConfig
	if err := yaml.UnmarshalWithOptions(data, &c, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("%s: %w", deployConfigPath, err)
	}
	return &c, nil
}

// save writes the configuration with a header saying what it is.
func (c *deployConfig) save(root string) error {
	data, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	head := "# eddy deploy's saved settings, per cloud: eddy deploy, logs and destroy use them when a flag is not\n" +
		"# given, and deploy updates them. Commit this file with the rest of deploy/.\n"
	path := filepath.Join(root, filepath.FromSlash(deployConfigPath))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(head), data...), 0o644)
}

// merge fills the options the command line left out from the saved configuration.
func (o *deployOpts) merge(fl *pflag.FlagSet, c *deployConfig) {
	if o.cloud == "" {
		o.cloud = c.Cloud
	}
	if o.cloud == "" {
		return
	}
	cc := c.get(o.cloud)
	pick := func(flag string, dst *string, saved string) {
		if f := fl.Lookup(flag); (f == nil || !f.Changed) && saved != "" {
			*dst = saved
		}
	}
	pick("tool", &o.tool, cc.Tool)
	pick("region", &o.region, cc.Region)
	pick("project", &o.project, cc.Project)
	pick("mode", &o.mode, cc.Mode)
	pick("resource-group", &o.resourceGroup, cc.ResourceGroup)
	pick("plan", &o.plan, cc.Plan)
}

// record saves o's resolved settings as the cloud's, and the cloud as the default.
func (c *deployConfig) record(o deployOpts) {
	c.Cloud = o.cloud
	cc := c.get(o.cloud)
	// Options a cloud does not use stay empty (settle leaves them so) and are not written.
	cc.Tool, cc.Region, cc.Project, cc.Mode, cc.ResourceGroup, cc.Plan = o.tool, o.region, o.project, o.mode, o.resourceGroup, o.plan
}
