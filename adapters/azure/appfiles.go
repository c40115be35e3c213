package azure

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// FunctionSpec describes the function.json of an Event Hubs–triggered custom-handler function.
type FunctionSpec struct {
	// EventHub is the hub to read; Connection names the app setting holding its connection
	// string; ConsumerGroup defaults to "$Default".
	EventHub, Connection, ConsumerGroup string
	// Binding is the trigger's binding name (default "events").
	Binding string
	// Outputs, if set, adds an eventHub output binding named "outputs" to this hub.
	Outputs string
	// MaxRetries and the backoff bounds set the retry policy (defaults 5, 5 s, 5 min). The host
	// retries a failed batch in memory and holds the checkpoint meanwhile; without a policy it
	// moves on at once.
	MaxRetries             int
	MinBackoff, MaxBackoff time.Duration
}

// FunctionJSON renders function.json: an eventHubTrigger with cardinality "many" and dataType
// "string" (without a dataType the host tries to parse each body as JSON and fails on others),
// and an exponential-backoff retry policy.
func FunctionJSON(s FunctionSpec) ([]byte, error) {
	if s.EventHub == "" || s.Connection == "" {
		return nil, errors.New("azure: FunctionSpec needs EventHub and Connection")
	}
	if s.ConsumerGroup == "" {
		s.ConsumerGroup = "$Default"
	}
	if s.Binding == "" {
		s.Binding = "events"
	}
	if s.MaxRetries == 0 {
		s.MaxRetries = 5
	}
	if s.MinBackoff == 0 {
		s.MinBackoff = 5 * time.Second
	}
	if s.MaxBackoff == 0 {
		s.MaxBackoff = 5 * time.Minute
	}
	if s.MaxRetries < -1 || s.MinBackoff > s.MaxBackoff {
		return nil, fmt.Errorf("azure: FunctionSpec: bad retry policy (%d retries, %v..%v)", s.MaxRetries, s.MinBackoff, s.MaxBackoff)
	}
	bindings := []map[string]any{{
		"type": "eventHubTrigger", "direction": "in", "name": s.Binding,
		"eventHubName": s.EventHub, "connection": s.Connection, "consumerGroup": s.ConsumerGroup,
		"cardinality": "many", "dataType": "string",
	}}
	if s.Outputs != "" {
		bindings = append(bindings, map[string]any{
			"type": "eventHub", "direction": "out", "name": "outputs",
			"eventHubName": s.Outputs, "connection": s.Connection,
		})
	}
	return json.MarshalIndent(map[string]any{
		"bindings": bindings,
		"retry": map[string]any{
			"strategy": "exponentialBackoff", "maxRetryCount": s.MaxRetries,
			"minimumInterval": timeSpan(s.MinBackoff), "maximumInterval": timeSpan(s.MaxBackoff),
		},
	}, "", "  ")
}

// HostJSON renders host.json for a custom handler at executable: the Event Hubs extension's batch
// size (default 100) and a checkpoint after every batch.
func HostJSON(executable string, maxBatch int) ([]byte, error) {
	if executable == "" {
		return nil, errors.New("azure: HostJSON needs the handler's executable path")
	}
	if maxBatch <= 0 {
		maxBatch = 100
	}
	return json.MarshalIndent(map[string]any{
		"version": "2.0",
		"customHandler": map[string]any{
			"description":                 map[string]any{"defaultExecutablePath": executable, "workingDirectory": "", "arguments": []string{}},
			"enableForwardingHttpRequest": false,
		},
		"extensionBundle": map[string]any{"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"},
		"extensions": map[string]any{"eventHubs": map[string]any{
			"maxEventBatchSize": maxBatch, "batchCheckpointFrequency": 1, "prefetchCount": 3 * maxBatch,
		}},
	}, "", "  ")
}

// timeSpan formats d as a .NET TimeSpan ("hh:mm:ss").
func timeSpan(d time.Duration) string {
	s := int64(d / time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}
