// Package rule is eddy's decision logic over window results: CEL threshold rules with Prometheus
// style for: and keep_firing_for:, hysteresis, per-key anomaly detectors, moving-average
// crossovers, and custom Go handlers.
//
// A Config compiles into a Set (immutable, shared); each partition runs its own Engine from
// Set.NewEngine, feeding it the partition's window results and receiving core.Decisions. An Engine's
// per-key state serializes with MarshalBinary/AppendBinary and restores with UnmarshalBinary, so it
// can live in a state store between invocations: snapshot, restore and continue gives the same
// decisions as an uninterrupted run.
//
// # Conditions
//
// Conditions are CEL expressions of type bool, type-checked at compile time. They see:
//
//   - each declared aggregate by name: numbers as double (avg > 80.0), top-k lists as
//     list(map(string, dyn)) of {"value": string, "count": int} (top.exists(i, i.count > 100));
//   - key (string), revision (int), window.start and window.end (timestamps), attrs
//     (map(string, string), empty unless given to DecideAttrs);
//   - ref.<table>, each reference table of Config.Reference, as a map from key to row (a map from
//     column to value): ref.limits[key].max_temp. A lookup by key compiles to one variable resolved
//     natively; decisions of a rule that reads a table carry its version (Decision.Ref), which is
//     part of their ids;
//   - prev, the values of the key's previous window (the latest revision of the window before the
//     one being evaluated) as a map(string, dyn), and first, which is true when there is none. With
//     no previous window prev is an empty map: has(prev.avg) is false and prev.avg is an error, so
//     write `!first && avg > 2.0 * prev.avg` (CEL's && ignores an error on one side when the other
//     is false).
//
// Integer literals order against doubles (count >= 10), but equality and arithmetic need matching
// types (count == 10.0, avg * 2.0): CEL's checker has no mixed overloads for them.
// Every evaluation has a cost limit (Config.CostLimit); exceeding it is an error wrapping
// ErrCostLimit, never a hang. The CEL math and strings extensions are available.
//
// # Threshold state machine
//
// Per rule and key the machine is inactive, pending or firing, and advances once per window:
//
//   - inactive/pending: if the condition holds the streak grows, and once it covers For (a count
//     of windows, or event time from the first window's start to the current window's end) the
//     rule fires; until then it is pending. If the condition does not hold the rule is inactive.
//   - firing: the resolve signal is Clear when set (hysteresis: fire above 80, clear below 70),
//     else "the condition does not hold". The rule resolves once the signal has held for more than
//     KeepFiringFor (windows, or event time from the first window of the resolve streak); any
//     window without the signal restarts that count. Resolving returns the machine to inactive.
//
// Each transition is emitted once, as a decision with state "firing" or "resolved" (and "pending",
// plus "resolved" for a pending rule that lapses, when EmitPending is set). The decision's time is
// the window end, its window the window, its values the window's values, and its id
// core.DecisionID(function, rule, key, window, state, revision).
//
// # Revisions
//
// A result whose window ends where the key's latest window ended is a revision of it (Revision >
// 0, after a late event). Every rule re-evaluates that window from the state it had before the
// window, and then emits only what changed for the outside world: nothing is taken back, so a
// firing contradicted by a revision is followed by "resolved" (and a revision that makes a rule
// fire emits "firing"). Such decisions carry the revision in the id's sequence, so they are
// distinct and still deterministic. A revision older than one already seen, or of a window older
// than the key's latest, is ignored by thresholds, anomaly detectors and crossovers (their state
// has moved on), though custom handlers still see it.
//
// # Anomaly detection
//
// Detectors watch one numeric aggregate per key. A window missing the value, or with NaN or an
// infinity, is skipped (it neither scores nor enters the history).
//
//   - ZScore: z = (x − mean) / stddev over the previous Window values (population standard
//     deviation); flags when |z| ≥ Threshold. A zero stddev gives z = 0 for x = mean and ±Inf
//     otherwise.
//   - EWMA: with the running average m and average absolute deviation d, the score is
//     (x − m) / d and flags when |score| ≥ Threshold; then m ← m + α(x − m) and
//     d ← (1 − α)d + α|x − m|. The first value initializes m (d = 0). For normally distributed
//     data d ≈ 0.8σ, so Threshold 3.75 behaves like a 3σ z-score.
//
// Neither flags before Warmup previous values were seen. A flagged window emits a decision with
// state "anomaly" whose values are the window's values followed by ValueScore and the baseline. A
// window is flagged at most once, whatever its revisions say.
//
// # Moving-average crossovers
//
// A Crossover keeps, per key, a fast and a slow moving average of one numeric aggregate over the
// key's window results (the trading crossover: SMA 5 against SMA 20 of the closing price, or EMA
// 12 against EMA 26). Lengths count window results that carry a finite value: a window without
// the value, or with NaN or an infinity, is skipped, and a key's quiet stretches are not filled.
//
//   - SMA: the mean of the last Fast (Slow) values, from a history of the last Slow values per
//     key. The sum is compensated and divided as a pair, so the mean is exact when the exact sum
//     is representable (prices that are binary fractions: it is then sum/n), and a constant series
//     averages to exactly that constant.
//   - EMA: α = 2/(N+1), seeded with the SMA of the key's first N values and then updated as
//     ema + α(x − ema); its state is two numbers per average.
//
// No average exists before the key's Slow-th value (the warm-up). From then on, with spread =
// fast − slow and band = MinSpread·|slow|, the fast average is above when spread > band, below
// when spread < −band, and otherwise keeps the side it was on. A decision is emitted when the side
// changes: state "golden" when it becomes above, "death" when it becomes below. The side the
// averages are on when the warm-up ends is not a crossing (a trend already established is not
// reported); a key whose averages start within the band reports the first side they leave it to.
// A crossover decision's values are the window's values followed by ValueFast, ValueSlow and
// ValueSpread ((fast − slow)/|slow|; ±Inf, written null, when slow is 0); its id is
// core.DecisionID(function, rule, key, window, state, revision), its time the window end.
//
// Revisions are handled as for thresholds: the window is re-evaluated from the state before it
// (its value replaces the previous revision's in the history, or in the EMA) and only what
// changed for the outside world is emitted. If a revision makes a crossing appear, it is emitted.
// If it makes a crossing announced for that window disappear, the crossing back to the side the
// averages are on is emitted: a crossing is never silently taken back (and if the revision removed
// the window's value, that decision carries no averages). If the averages are then within the band
// and no earlier crossing was announced for the key, the announced side stands.
//
// Snapshots keep each key's history and side. A crossover whose parameters changed keeps the side
// and what still applies: the newest values of an SMA's history, an EMA's averages only if its
// lengths are unchanged (otherwise it warms up again, and the side it then finds is compared with
// the kept one).
//
// # Custom logic
//
// A Handler (or HandlerFunc) sees every window result and emits decisions, typically built with
// NewDecision. Config.Handlers run after the built-in rules, and an Engine is itself a Handler.
//
// # Expiry
//
// Engine.Expire drops keys idle for Config.IdleTTL, emitting "resolved" for their open alarms.
//
// # Determinism
//
// The same results in the same order give the same decisions byte for byte: rules run in config
// order, per-key state is encoded in sorted key order, and no map is iterated when emitting.
package rule
