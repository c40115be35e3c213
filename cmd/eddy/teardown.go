package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newLogsCmd(e *env) *cobra.Command {
	var o deployOpts
	var dry bool
	cmd := &cobra.Command{
		Use:   "logs [--cloud aws|gcp|azure]",
		Short: "Tail the logs of a project's deployed function, through the cloud's own CLI",
		Long: `logs prints, then runs, the cloud CLI command that tails the deployed function's logs:

  aws    aws logs tail /aws/lambda/NAME --follow
  gcp    gcloud beta run services logs tail NAME (NAME-pull in pull mode)
  azure  az webapp log tail, on the function app Terraform created

The cloud, region, project and mode are those eddy deploy saved in ` + deployConfigPath + `, unless
given. --print only prints the command.`,
		Example: `  eddy logs
  eddy logs --cloud gcp --project my-project`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cloudCommand(cmd.Context(), e, &o, cmd.Flags(), "logs", dry)
		},
	}
	addDeployFlags(cmd.Flags(), &o)
	cmd.Flags().StringVar(&o.mode, "mode", "", "gcp: push or pull (default: the saved one)")
	cmd.Flags().BoolVar(&dry, "print", false, "print the command, do not run it")
	return cmd
}

func newDestroyCmd(e *env) *cobra.Command {
	var o deployOpts
	var dry bool
	cmd := &cobra.Command{
		Use:   "destroy [--cloud aws|gcp|azure]",
		Short: "Delete what eddy deploy created for a project in a cloud",
		Long: `destroy prints, then runs, the commands that delete a project's deployment: sam delete (aws),
terraform destroy (aws --tool terraform, gcp, azure; Terraform asks before it deletes anything),
or the gcloud delete commands of what deploy/gcp/gcloud.sh made (gcp --tool gcloud; the topics,
bucket and service accounts stay). The cloud and its settings are those eddy deploy saved in
` + deployConfigPath + `, unless given. --dry-run only prints the commands.`,
		Example: `  eddy destroy --dry-run
  eddy destroy --cloud aws`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cloudCommand(cmd.Context(), e, &o, cmd.Flags(), "destroy", dry)
		},
	}
	addDeployFlags(cmd.Flags(), &o)
	cmd.Flags().StringVar(&o.mode, "mode", "", "gcp: push or pull (default: the saved one)")
	cmd.Flags().StringVar(&o.plan, "plan", "", "azure: consumption or flex (default: the saved one)")
	cmd.Flags().BoolVar(&dry, "dry-run", false, "print the commands, do not run them")
	return cmd
}

// cloudCommand runs eddy logs or eddy destroy: the cloud's commands with the saved settings.
func cloudCommand(ctx context.Context, e *env, o *deployOpts, fl *pflag.FlagSet, verb string, dry bool) error {
	c, p, _, err := resolve(e, o, fl, verb)
	if err != nil {
		return err
	}
	var steps []step
	if verb == "logs" {
		steps = []step{c.logs(p, *o)}
	} else {
		steps = c.destroy(p, *o, filepath.Join(p.root, ".eddy", "build", o.cloud))
	}
	fmt.Fprintf(e.stdout, "eddy %s: %s (%s, region %s), from %s:\n", verb, p.name, o.cloud, o.region, p.root)
	for _, s := range steps {
		fmt.Fprintf(e.stdout, "  %s\n", s)
	}
	if dry {
		return nil
	}
	if missing := missingTools(steps); len(missing) > 0 {
		return missingError(p.root, verb, missing, steps)
	}
	return runSteps(ctx, e, p.root, verb, steps)
}
