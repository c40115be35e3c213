package view

import (
	"bytes"
	"encoding/json"
	"slices"
	"time"

	"github.com/eddyhq/eddy/core"
)

// Window is one window result as a view keeps it.
type Window struct {
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Revision int       `json:"revision"`
	// Values is a JSON object of the aggregates' values, in spec order (null for an empty min...).
	Values json.RawMessage `json:"values"`
}

// newer reports whether w supersedes o: a later window end, then a later start, then a higher
// revision. Equal windows at equal revisions are the same result.
func (w *Window) newer(o *Window) bool {
	if c := w.End.Compare(o.End); c != 0 {
		return c > 0
	}
	if c := w.Start.Compare(o.Start); c != 0 {
		return c > 0
	}
	return w.Revision > o.Revision
}

// LatestRow is a latest view's row: the key's newest window result.
type LatestRow struct {
	Key string `json:"key"`
	Window
}

// HistoryRow is a history view's row: the key's last windows, oldest first.
type HistoryRow struct {
	Key     string   `json:"key"`
	Windows []Window `json:"windows"`
}

// DecisionRow is a firing view's row (the newest transition of a rule for a key) or a decisions
// view's row (one decision).
type DecisionRow struct {
	ID       string    `json:"id"`
	Rule     string    `json:"rule"`
	Key      string    `json:"key"`
	State    string    `json:"state"`
	Severity string    `json:"severity,omitempty"`
	Time     time.Time `json:"time"`
	// Since is when the row's state began: the time of the transition into it.
	Since  time.Time       `json:"since"`
	Start  time.Time       `json:"window_start"`
	End    time.Time       `json:"window_end"`
	Values json.RawMessage `json:"values"`
}

// after orders transitions of one (rule, key): by event time, then window end, then id so that
// any two writers agree.
func (d *DecisionRow) after(o *DecisionRow) bool {
	if c := d.Time.Compare(o.Time); c != 0 {
		return c > 0
	}
	if c := d.End.Compare(o.End); c != 0 {
		return c > 0
	}
	return d.ID > o.ID
}

// isTransition reports whether a decision state is a rule's alert state, kept by firing views.
func isTransition(state string) bool {
	return state == "pending" || state == "firing" || state == "resolved"
}

// values appends r's values, limited to names when names is not empty.
func values(vs []core.NamedValue, names []string) json.RawMessage {
	if len(names) == 0 {
		return core.AppendValues(nil, vs)
	}
	kept := make([]core.NamedValue, 0, len(names))
	for _, v := range vs {
		if slices.Contains(names, v.Name) {
			kept = append(kept, v)
		}
	}
	return core.AppendValues(nil, kept)
}

func windowOf(r *core.WindowResult, names []string) Window {
	return Window{Start: r.Start.UTC(), End: r.End.UTC(), Revision: r.Revision, Values: values(r.Values, names)}
}

func decisionOf(d *core.Decision) DecisionRow {
	return DecisionRow{ID: d.ID, Rule: d.Rule, Key: d.Key, State: d.State, Severity: d.Severity,
		Time: d.Time.UTC(), Since: d.Time.UTC(), Start: d.Window.Start.UTC(), End: d.Window.End.UTC(), Values: core.AppendValues(nil, d.Values)}
}

// update is what one batch brings to one row: the outputs that touch it.
type update struct {
	def  *Def
	key  string
	wins []*core.WindowResult
	decs []*core.Decision
}

// merge folds u into the stored row data (nil when absent) and returns the new data and whether
// it differs. Merging is idempotent and order-insensitive: applying the same outputs again, or
// an older batch after a newer one, leaves the row as it is.
func (u *update) merge(old []byte) ([]byte, bool, error) {
	var (
		out []byte
		err error
	)
	switch u.def.Kind {
	case Latest:
		var best *core.WindowResult
		var bw Window
		for _, r := range u.wins {
			w := windowOf(r, u.def.Aggregates)
			if best == nil || w.newer(&bw) {
				best, bw = r, w
			}
		}
		if best == nil {
			return old, false, nil
		}
		if old != nil {
			var cur LatestRow
			if err := json.Unmarshal(old, &cur); err != nil {
				return nil, false, err
			}
			if !bw.newer(&cur.Window) {
				return old, false, nil
			}
		}
		out, err = json.Marshal(&LatestRow{Key: u.key, Window: bw})
	case History:
		var cur HistoryRow
		if old != nil {
			if err := json.Unmarshal(old, &cur); err != nil {
				return nil, false, err
			}
		}
		cur.Key = u.key
		for _, r := range u.wins {
			w := windowOf(r, u.def.Aggregates)
			i := slices.IndexFunc(cur.Windows, func(o Window) bool { return o.Start.Equal(w.Start) && o.End.Equal(w.End) })
			switch {
			case i < 0:
				cur.Windows = append(cur.Windows, w)
			case w.Revision > cur.Windows[i].Revision:
				cur.Windows[i] = w
			}
		}
		slices.SortFunc(cur.Windows, func(a, b Window) int {
			if c := a.End.Compare(b.End); c != 0 {
				return c
			}
			return a.Start.Compare(b.Start)
		})
		if n := u.def.history(); len(cur.Windows) > n {
			cur.Windows = cur.Windows[len(cur.Windows)-n:]
		}
		out, err = json.Marshal(&cur)
	case Firing:
		var best DecisionRow
		found := false
		for _, d := range u.decs {
			r := decisionOf(d)
			if !found || r.after(&best) {
				best, found = r, true
			}
		}
		if !found {
			return old, false, nil
		}
		if old != nil {
			var cur DecisionRow
			if err := json.Unmarshal(old, &cur); err != nil {
				return nil, false, err
			}
			if !best.after(&cur) {
				return old, false, nil
			}
		}
		out, err = json.Marshal(&best)
	case Decisions:
		if old != nil || len(u.decs) == 0 {
			// A decision id stands for one content: a stored one is final.
			return old, false, nil
		}
		r := decisionOf(u.decs[0])
		out, err = json.Marshal(&r)
	}
	if err != nil {
		return nil, false, err
	}
	return out, !bytes.Equal(out, old), nil
}
