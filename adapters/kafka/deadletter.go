package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/eddyhq/eddy/core"
	"github.com/eddyhq/eddy/core/sink"
)

// fitDeadLetters sends dead letters through s, and when one is over the output's size limit (a
// record near Kafka's own limit, whose envelope carries its bytes twice) sends it without the
// record's bytes and with a reason that names where to read them: a partition must never stop on
// a record it cannot even dead-letter.
type fitDeadLetters struct{ s *sink.Sink }

func (f fitDeadLetters) EmitFailures(ctx context.Context, fs []*core.Failure) error {
	err := f.s.EmitFailures(ctx, fs)
	var tl *sink.TooLargeError
	if !errors.As(err, &tl) {
		return err
	}
	for _, fl := range fs {
		err := f.s.EmitFailures(ctx, []*core.Failure{fl})
		if !errors.As(err, &tl) {
			if err != nil {
				return err
			}
			continue
		}
		c := *fl
		c.Record.Data = nil
		c.Reason = fmt.Sprintf("%s; the record's %d bytes are left out: its dead letter is %d bytes, over the output's limit of %d (read it from partition %s at offset %s)",
			fl.Reason, len(fl.Record.Data), tl.Size, tl.Limit, fl.Partition, fl.Record.Offset)
		if err := f.s.EmitFailures(ctx, []*core.Failure{&c}); err != nil {
			return fmt.Errorf("dead-letter record %s of partition %s without its bytes: %w", fl.Record.ID, fl.Partition, err)
		}
	}
	return nil
}
