package azure_test

import (
	"fmt"

	"github.com/eddyhq/eddy/adapters/azure"
)

// The Functions host sends an Event Hubs batch with its arrays encoded as JSON strings;
// DecodeInvocation turns it into one partition's records, offsets being sequence numbers.
func ExampleDecodeInvocation() {
	body := []byte(`{"Data":{"events":"[\"{\\\"key\\\":\\\"s1\\\",\\\"value\\\":2}\"]"},
	  "Metadata":{"PartitionContext":{"PartitionId":"3"},"SequenceNumberArray":"[41]",
	  "PartitionKeyArray":"[\"s1\"]","EnqueuedTimeUtcArray":"[\"2025-11-25T16:00:02.25\"]"}}`)
	inv, err := azure.DecodeInvocation(body, azure.DecodeOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := inv.Records[0]
	fmt.Println(inv.Partition.PartitionID, r.Offset, r.Key, string(r.Data), r.Time)
	// Output: 3 41 s1 {"key":"s1","value":2} 2025-11-25 16:00:02.25 +0000 UTC
}
