// Package view keeps materialized views of a function's outputs in a store, for dashboards and
// APIs: the latest window result per key, the last N windows per key, the decisions firing now
// (like Prometheus' ALERTS) and a decision history.
//
// A Writer is a runner.Sink: it receives all outputs of one partition batch at once and turns
// them into one batched read and one batched conditional write of the rows they touch, O(keys
// touched), whatever the number of outputs. Every write is an upsert per (function, view, key)
// that keeps the newest window and the highest revision, conditional on the row's revision, so a
// redelivered or reordered batch never moves a view backwards and concurrent writers never lose
// each other's updates.
//
// Stores open by URL like state stores, through a URLMux drivers register with at init:
//
//	mem://NAME                                  memview: in-process (eddy dev)
//	file:///DIR                                 fileview: one JSON file per view (eddy dev)
//	dynamodb://TABLE?partition_key=id           docview: DynamoDB through gocloud.dev/docstore
//	firestore://projects/P/databases/(default)/documents/C?name_field=id
//	docstore+mem://collection/id                docview: gocloud's memdocstore
//	azuretable://TABLE                          adapters/azure/tableview: Azure Table storage
package view

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Kind is what a view keeps.
type Kind string

// The view kinds.
const (
	// Latest keeps each key's newest window result (newest window end, then highest revision).
	Latest Kind = "latest"
	// History keeps each key's last N windows (by window end), each at its highest revision.
	History Kind = "history"
	// Firing keeps each (rule, key)'s newest rule transition: pending, firing or resolved, like
	// Prometheus' ALERTS series. Resolved rows stay until their TTL passes.
	Firing Kind = "firing"
	// Decisions keeps every decision, one row per decision id, for the view's TTL (its retention).
	Decisions Kind = "decisions"
)

// DefaultHistory is the number of windows a history view keeps when Def.Windows is zero.
const DefaultHistory = 60

// Def declares one view.
type Def struct {
	// Name identifies the view within its function: letters, digits, '_' and '-', starting with a
	// letter.
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Aggregates limits latest and history views to these aggregates' values (nil: all).
	Aggregates []string `json:"aggregates,omitempty"`
	// Rules limits firing and decisions views to decisions of these rules, anomalies, crossovers
	// or patterns (nil: all).
	Rules []string `json:"rules,omitempty"`
	// Windows is the length of a history view (default DefaultHistory).
	Windows int `json:"windows,omitempty"`
	// TTL drops a row that has not changed for this long (wall-clock time): keys gone quiet, long
	// resolved alerts, old decisions. Zero keeps rows forever.
	TTL time.Duration `json:"ttl,omitempty"`
}

// nameRE is a view name's form; at most 64 characters. A bounded repetition ({m,n}) compiles to n copies of its class, a few hundred kilobytes held
// from init for the life of every process that links the package; the length is checked apart.
var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// Check reports what is wrong with d, naming the view and the field.
func (d *Def) Check() error {
	if len(d.Name) > 64 || !nameRE.MatchString(d.Name) {
		return fmt.Errorf("view %q: name: want a letter then letters, digits, '_' or '-' (at most 64)", d.Name)
	}
	switch d.Kind {
	case Latest, History:
		if len(d.Rules) > 0 {
			return fmt.Errorf("view %q: rules: a %s view keeps window results; rules are for firing and decisions views", d.Name, d.Kind)
		}
	case Firing, Decisions:
		if len(d.Aggregates) > 0 {
			return fmt.Errorf("view %q: aggregates: a %s view keeps decisions; aggregates are for latest and history views", d.Name, d.Kind)
		}
	case "":
		return fmt.Errorf("view %q: kind is missing: want latest, history, firing or decisions", d.Name)
	default:
		return fmt.Errorf("view %q: kind %q: want latest, history, firing or decisions", d.Name, d.Kind)
	}
	if d.Windows < 0 || d.Windows > 10000 {
		return fmt.Errorf("view %q: windows %d: want 1..10000", d.Name, d.Windows)
	}
	if d.Windows > 0 && d.Kind != History {
		return fmt.Errorf("view %q: windows: only history views keep a number of windows", d.Name)
	}
	if d.TTL < 0 {
		return fmt.Errorf("view %q: ttl %s is negative", d.Name, d.TTL)
	}
	return nil
}

func (d *Def) history() int {
	if d.Windows > 0 {
		return d.Windows
	}
	return DefaultHistory
}

// CheckDefs checks each view and that names are unique.
func CheckDefs(defs []Def) error {
	seen := map[string]bool{}
	var errs []error
	for i := range defs {
		if err := defs[i].Check(); err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[defs[i].Name] {
			errs = append(errs, fmt.Errorf("view %q: declared twice", defs[i].Name))
		}
		seen[defs[i].Name] = true
	}
	return errors.Join(errs...)
}

// RowPrefix is the id prefix of a view's rows: "function/view/".
func RowPrefix(function, view string) string { return function + "/" + view + "/" }

// RowID is the id of a view's row for key. The key is path-escaped so ids hold no '/' beyond the
// two separators and no characters Azure Table keys refuse.
func RowID(function, view, key string) string {
	return RowPrefix(function, view) + url.PathEscape(key)
}

// KeyOf returns the key of a row id under prefix.
func KeyOf(prefix, id string) string {
	k, err := url.PathUnescape(strings.TrimPrefix(id, prefix))
	if err != nil {
		return strings.TrimPrefix(id, prefix)
	}
	return k
}

// CatalogPrefix is the id prefix of the catalog rows, one per function, that list its views; a
// function name never starts with '_', so it cannot collide with a view's rows.
const CatalogPrefix = "_eddy/catalog/"

// Catalog describes a function's views, so a dashboard opened on a store finds what it holds.
type Catalog struct {
	Function string `json:"function"`
	Views    []Def  `json:"views"`
	// Aggregates are the function's aggregate names, in spec order.
	Aggregates []string `json:"aggregates,omitempty"`
	// Rules are the function's rules (and anomalies, crossovers, patterns) with their severities.
	Rules []RuleInfo `json:"rules,omitempty"`
}

// RuleInfo names a decision source and its severity.
type RuleInfo struct {
	Name     string `json:"name"`
	Severity string `json:"severity,omitempty"`
}

// View returns the named view's definition.
func (c *Catalog) View(name string) (Def, bool) {
	for _, d := range c.Views {
		if d.Name == name {
			return d, true
		}
	}
	return Def{}, false
}
