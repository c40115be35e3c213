package ehbatch_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/eddyhq/eddy/internal/ehbatch"
	"github.com/eddyhq/eddy/internal/ehfake"
	"github.com/eddyhq/eddy/internal/send/sendtest"
)

// Events go out in order in several batches when one cannot hold them all; an event too large for
// any batch stops the send there, after what came before it was sent, and is named by its index.
func TestSend(t *testing.T) {
	conn := ehfake.Start(t, "hub:1")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prod, err := azeventhubs.NewProducerClientFromConnectionString(conn, "hub", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close(ctx)
	var evs []*azeventhubs.EventData
	for i := range 40 {
		evs = append(evs, &azeventhubs.EventData{Body: fmt.Appendf(nil, "%04d%s", i, make([]byte, 4<<10))})
	}
	pid := "0"
	sent, err := ehbatch.Send(ctx, prod, &azeventhubs.EventDataBatchOptions{PartitionID: &pid, MaxBytes: 32 << 10}, evs)
	if err != nil || sent != 40 {
		t.Fatalf("sent %d, error %v", sent, err)
	}
	back := sendtest.ReadEventHub(ctx, t, conn, "hub", "0")
	if len(back) != 40 {
		t.Fatalf("read back %d events, want 40", len(back))
	}
	for i, r := range back {
		if want := fmt.Sprintf("%04d", i); string(r.Data[:4]) != want {
			t.Fatalf("event %d is %q, want %s", i, r.Data[:4], want)
		}
	}
	big := []*azeventhubs.EventData{{Body: []byte("a")}, {Body: []byte("b")}, {Body: make([]byte, 2<<20)}, {Body: []byte("c")}}
	sent, err = ehbatch.Send(ctx, prod, &azeventhubs.EventDataBatchOptions{PartitionID: &pid}, big)
	var be *ehbatch.Error
	if !errors.As(err, &be) || !be.TooLarge || be.First != 2 || sent != 2 {
		t.Fatalf("sent %d, error %#v", sent, err)
	}
}
