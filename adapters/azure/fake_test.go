//go:build unix

package azure_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
)

// TestFakeEventHubs checks the fake against the SDK itself: properties, sends by partition id and
// by key, reads from a sequence number, and owner-level stealing.
func TestFakeEventHubs(t *testing.T) {
	conn := eventHubs(t, "hub:4")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prod, err := azeventhubs.NewProducerClientFromConnectionString(conn, "hub", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close(ctx)
	props, err := prod.GetEventHubProperties(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(props.PartitionIDs) != "[0 1 2 3]" || props.Name != "hub" {
		t.Fatalf("properties %+v", props)
	}
	b, err := prod.NewEventDataBatch(ctx, &azeventhubs.EventDataBatchOptions{PartitionID: to.Ptr("2")})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := b.AddEventData(&azeventhubs.EventData{Body: []byte(fmt.Sprintf(`{"n":%d}`, i)), Properties: map[string]any{"i": int64(i)}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := prod.SendEventDataBatch(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	pp, err := prod.GetPartitionProperties(ctx, "2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if pp.LastEnqueuedSequenceNumber != 4 || pp.IsEmpty {
		t.Fatalf("partition properties %+v", pp)
	}
	kb, err := prod.NewEventDataBatch(ctx, &azeventhubs.EventDataBatchOptions{PartitionKey: to.Ptr("sensor-1")})
	if err != nil {
		t.Fatal(err)
	}
	if err := kb.AddEventData(&azeventhubs.EventData{Body: []byte("keyed")}, nil); err != nil {
		t.Fatal(err)
	}
	if err := prod.SendEventDataBatch(ctx, kb, nil); err != nil {
		t.Fatal(err)
	}

	cons, err := azeventhubs.NewConsumerClientFromConnectionString(conn, "hub", azeventhubs.DefaultConsumerGroup, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close(ctx)
	pc, err := cons.NewPartitionClient("2", &azeventhubs.PartitionClientOptions{
		StartPosition: azeventhubs.StartPosition{SequenceNumber: to.Ptr[int64](1)}, OwnerLevel: to.Ptr[int64](0)})
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
	evs, err := pc.ReceiveEvents(rctx, 3, nil)
	rcancel()
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || evs[0].SequenceNumber != 2 || string(evs[0].Body) != `{"n":2}` || evs[0].Properties["i"] != int64(2) || evs[0].EnqueuedTime == nil || evs[0].Offset == "" {
		t.Fatalf("events %+v", evs[0])
	}
	// A second receiver with the same owner level takes the partition over.
	pc2, err := cons.NewPartitionClient("2", &azeventhubs.PartitionClientOptions{
		StartPosition: azeventhubs.StartPosition{Earliest: to.Ptr(true)}, OwnerLevel: to.Ptr[int64](0)})
	if err != nil {
		t.Fatal(err)
	}
	rctx, rcancel = context.WithTimeout(ctx, 5*time.Second)
	evs, err = pc2.ReceiveEvents(rctx, 5, nil)
	rcancel()
	if err != nil || len(evs) != 5 {
		t.Fatalf("second receiver: %d events, %v", len(evs), err)
	}
	// The first receiver may still hand out what it had prefetched before it saw the detach.
	for range 10 {
		rctx, rcancel = context.WithTimeout(ctx, 5*time.Second)
		_, err = pc.ReceiveEvents(rctx, 1, nil)
		rcancel()
		if err != nil {
			break
		}
	}
	var ehErr *azeventhubs.Error
	if !errors.As(err, &ehErr) || ehErr.Code != azeventhubs.ErrorCodeOwnershipLost {
		t.Fatalf("first receiver after the steal: %v, want ownershiplost", err)
	}
	// A receiver without an owner level is refused while one with an owner level reads.
	pc.Close(ctx)
	pc2.Close(ctx)
	// The keyed event is on the partition the key hashes to, with its key.
	found := 0
	for _, p := range props.PartitionIDs {
		pc, err := cons.NewPartitionClient(p, &azeventhubs.PartitionClientOptions{StartPosition: azeventhubs.StartPosition{Earliest: to.Ptr(true)}})
		if err != nil {
			t.Fatal(err)
		}
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
		evs, err := pc.ReceiveEvents(rctx, 10, nil)
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("partition %s: %v", p, err)
		}
		rcancel()
		for _, e := range evs {
			if string(e.Body) == "keyed" {
				found++
				if e.PartitionKey == nil || *e.PartitionKey != "sensor-1" {
					t.Fatalf("keyed event lost its key: %+v", e)
				}
			}
		}
		pc.Close(ctx)
	}
	if found != 1 {
		t.Fatalf("keyed event found %d times", found)
	}
}
