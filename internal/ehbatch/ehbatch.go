// Package ehbatch sends events to an event hub in as few batches as fit, in order: what the Azure
// adapter's output and `eddy send` both do.
package ehbatch

import (
	"context"
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
)

// Producer is the part of azeventhubs.ProducerClient Send uses.
type Producer interface {
	NewEventDataBatch(ctx context.Context, opts *azeventhubs.EventDataBatchOptions) (*azeventhubs.EventDataBatch, error)
	SendEventDataBatch(ctx context.Context, batch *azeventhubs.EventDataBatch, opts *azeventhubs.SendEventDataBatchOptions) error
}

// Error says which events were not sent: evs[First:], First being the one that failed or the first
// of the batch whose sending failed.
type Error struct {
	First int
	// TooLarge is set when evs[First] alone exceeds the hub's message size limit.
	TooLarge bool
	Err      error
}

// Error describes the failure; callers prefix the events' names.
func (e *Error) Error() string {
	if e.TooLarge {
		return "larger than the hub's message size limit (1 MB on most tiers)"
	}
	return e.Err.Error()
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// Send sends evs in order, filling each batch (made with opts: a partition key or id, a size cap)
// until the next event does not fit. It returns how many were sent; on an error (an *Error) the
// events from Error.First on were not.
func Send(ctx context.Context, prod Producer, opts *azeventhubs.EventDataBatchOptions, evs []*azeventhubs.EventData) (sent int, err error) {
	var batch *azeventhubs.EventDataBatch
	first := 0 // the first event in batch
	flush := func(next int) error {
		if batch == nil || batch.NumEvents() == 0 {
			return nil
		}
		if err := prod.SendEventDataBatch(ctx, batch, nil); err != nil {
			return &Error{First: first, Err: fmt.Errorf("send %d events: %w", batch.NumEvents(), err)}
		}
		sent, batch, first = next, nil, next
		return nil
	}
	for i := 0; i < len(evs); {
		if batch == nil {
			b, err := prod.NewEventDataBatch(ctx, opts)
			if err != nil {
				return sent, &Error{First: first, Err: fmt.Errorf("new batch: %w", err)}
			}
			batch = b
		}
		err := batch.AddEventData(evs[i], nil)
		switch {
		case err == nil:
			i++
			continue
		case !errors.Is(err, azeventhubs.ErrEventDataTooLarge):
			return sent, &Error{First: first, Err: err}
		case batch.NumEvents() == 0:
			return sent, &Error{First: i, TooLarge: true, Err: err}
		}
		if err := flush(i); err != nil {
			return sent, err
		}
	}
	return sent, flush(len(evs))
}
