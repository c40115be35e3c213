package view

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
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

// appendTime appends t as core.AppendTime does ("2006-01-02T15:04:05.000Z", quoted), several
// times faster than formatting with a layout: views write two per window.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return core.AppendTime(b, t)
	}
	h, mi, s := t.Clock()
	ms := t.Nanosecond() / 1e6
	return append(b, '"', byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+int(mo)/10), byte('0'+int(mo)%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':', byte('0'+s/10), byte('0'+s%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z', '"')
}

func (w *Window) appendFields(b []byte) []byte {
	b = append(b, `"start":`...)
	b = appendTime(b, w.Start)
	b = append(b, `,"end":`...)
	b = appendTime(b, w.End)
	b = append(b, `,"revision":`...)
	b = strconv.AppendInt(b, int64(w.Revision), 10)
	b = append(b, `,"values":`...)
	if len(w.Values) == 0 {
		return append(b, "{}"...)
	}
	return append(b, w.Values...)
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
	ID       string     `json:"id"`
	Rule     string     `json:"rule"`
	Key      string     `json:"key"`
	State    core.State `json:"state"`
	Severity string     `json:"severity,omitempty"`
	Time     time.Time  `json:"time"`
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

func (d *DecisionRow) appendJSON(b []byte) []byte {
	for i, kv := range [...][2]string{{"id", d.ID}, {"rule", d.Rule}, {"key", d.Key}, {"state", string(d.State)}, {"severity", d.Severity}} {
		if kv[0] == "severity" && kv[1] == "" {
			continue
		}
		if i == 0 {
			b = append(b, '{')
		} else {
			b = append(b, ',')
		}
		b = core.AppendString(b, kv[0])
		b = append(b, ':')
		b = core.AppendString(b, kv[1])
	}
	for _, kv := range [...]struct {
		k string
		t time.Time
	}{{"time", d.Time}, {"since", d.Since}, {"window_start", d.Start}, {"window_end", d.End}} {
		b = append(b, ',', '"')
		b = append(b, kv.k...)
		b = append(b, '"', ':')
		b = appendTime(b, kv.t)
	}
	b = append(b, `,"values":`...)
	if len(d.Values) == 0 {
		b = append(b, "{}"...)
	} else {
		b = append(b, d.Values...)
	}
	return append(b, '}')
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

func decisionOf(d *core.Decision) DecisionRow {
	return DecisionRow{ID: d.ID, Rule: d.Rule, Key: d.Key, State: d.State, Severity: d.Severity,
		Time: d.Time.UTC(), Since: d.Time.UTC(), Start: d.Window.Start.UTC(), End: d.Window.End.UTC(), Values: core.AppendValues(nil, d.Values)}
}

// update is what one batch brings to one row: the window results or decisions that touch it,
// copied out of the batch's outputs.
type update struct {
	id, prefix string
	def        *Def
	// di is def's index in the Writer's views.
	di   int
	key  string
	wins []Window
	decs []DecisionRow
	// have is the row as read or cached, while an apply merges into it.
	have *cached
}

// row is a row's content decoded, as merges change it and the Writer's cache keeps it. A history
// row keeps each window's encoding, so writing a row again costs a copy of the unchanged windows.
type row struct {
	present bool
	latest  Window
	// latestEnc is latest's fields, encoded.
	latestEnc []byte
	windows   []Window
	encs      [][]byte
	dec       DecisionRow
}

// decodeRow decodes stored data (nil: absent) of a view of kind k.
func decodeRow(k Kind, data []byte) (*row, error) {
	r := &row{}
	if data == nil {
		return r, nil
	}
	r.present = true
	switch k {
	case Latest:
		var l LatestRow
		if err := json.Unmarshal(data, &l); err != nil {
			return nil, err
		}
		r.latest = l.Window
		r.latestEnc = l.Window.appendFields(nil)
		r.latest.Values = nil
	case History:
		var h HistoryRow
		if err := json.Unmarshal(data, &h); err != nil {
			return nil, err
		}
		// Merges keep windows sorted; a row written otherwise is sorted first.
		slices.SortStableFunc(h.Windows, func(a, b Window) int {
			if c := a.End.Compare(b.End); c != 0 {
				return c
			}
			return a.Start.Compare(b.Start)
		})
		r.windows = h.Windows
		r.encs = make([][]byte, len(h.Windows))
		for i := range h.Windows {
			r.encs[i] = h.Windows[i].appendFields(nil)
			h.Windows[i].Values = nil
		}
	case Firing, Decisions:
		if err := json.Unmarshal(data, &r.dec); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown view kind %q", k)
	}
	return r, nil
}

// encode writes the row's JSON (the form LatestRow, HistoryRow and DecisionRow decode from).
func (r *row) encode(k Kind, key string) []byte {
	switch k {
	case Latest:
		b := make([]byte, 0, 16+len(key)+len(r.latestEnc))
		b = append(b, `{"key":`...)
		b = core.AppendString(b, key)
		b = append(b, ',')
		b = append(b, r.latestEnc...)
		return append(b, '}')
	case History:
		n := 32 + len(key)
		for _, e := range r.encs {
			n += len(e) + 3
		}
		b := make([]byte, 0, n)
		b = append(b, `{"key":`...)
		b = core.AppendString(b, key)
		b = append(b, `,"windows":[`...)
		for i, e := range r.encs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			b = append(b, e...)
			b = append(b, '}')
		}
		return append(b, ']', '}')
	default:
		return r.dec.appendJSON(make([]byte, 0, 256))
	}
}

// merge folds u into r and reports whether r changed. Merging is idempotent and
// order-insensitive: applying the same outputs again, or an older batch after a newer one, leaves
// the row as it is.
func (r *row) merge(u *update) bool {
	changed := false
	switch u.def.Kind {
	case Latest:
		for i := range u.wins {
			w := &u.wins[i]
			if r.present && !w.newer(&r.latest) {
				continue
			}
			r.latest, r.present, changed = *w, true, true
			r.latestEnc = w.appendFields(r.latestEnc[:0])
			r.latest.Values = nil // kept encoded: the row does not hold on to the batch's bytes
		}
	case History:
		n := u.def.history()
		if len(r.windows) == 0 {
			k := min(len(u.wins), n)
			r.windows, r.encs = make([]Window, 0, k), make([][]byte, 0, k)
		}
		// The windows' encodings share one buffer per merge: one allocation, not one a window.
		var encBuf []byte
		left := min(len(u.wins), n)
		enc := func(w *Window) []byte {
			if cap(encBuf)-len(encBuf) < 96+len(w.Values) {
				encBuf = make([]byte, 0, (96+len(w.Values))*max(left, 1))
			}
			left--
			a := len(encBuf)
			encBuf = w.appendFields(encBuf)
			return encBuf[a:len(encBuf):len(encBuf)]
		}
		for _, w := range u.wins {
			// Windows are kept sorted by (end, start); find w's place.
			i, found := slices.BinarySearchFunc(r.windows, w, func(a, b Window) int {
				if c := a.End.Compare(b.End); c != 0 {
					return c
				}
				return a.Start.Compare(b.Start)
			})
			switch {
			case found && w.Revision <= r.windows[i].Revision:
				continue
			case found:
				r.windows[i], r.encs[i] = w, enc(&w)
				r.windows[i].Values = nil // kept encoded
			case i == 0 && len(r.windows) >= n:
				continue // older than every window kept
			default:
				r.encs = slices.Insert(r.encs, i, enc(&w))
				w.Values = nil // kept encoded
				r.windows = slices.Insert(r.windows, i, w)
				if d := len(r.windows) - n; d > 0 {
					// Reslice rather than shift: the next growth copies only the kept windows.
					clear(r.encs[:d])
					r.windows, r.encs = r.windows[d:], r.encs[d:]
				}
			}
			r.present, changed = true, true
		}
	case Firing:
		for i := range u.decs {
			if r.present && !u.decs[i].after(&r.dec) {
				continue
			}
			r.dec, r.present, changed = u.decs[i], true, true
		}
	case Decisions:
		// A decision id stands for one content: a stored one is final.
		if !r.present && len(u.decs) > 0 {
			r.dec, r.present, changed = u.decs[0], true, true
		}
	}
	return changed
}
