package archive

import (
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// partialDate is the date a path's "directories" spell so far: year, then month, day, hour,
// minute, second, as Firehose (YYYY/MM/DD/HH/) and Event Hubs Capture ({Y}/{M}/{D}/{h}/{m}/{s})
// lay their objects out. n is how many parts are known.
type partialDate struct {
	parts [6]int
	n     int
	// before is the directory before the year: a Capture file's {PartitionId}.
	before string
}

// with returns d extended by one path part: a year (four digits) when no part is known yet, the
// next part when it is a number in range; anything else leaves d as it is (namespace, hub,
// partition directories before the date; other directories after it).
func (d partialDate) with(name string) partialDate {
	if d.n == 6 || name == "" {
		return d
	}
	v, err := strconv.Atoi(name)
	if err != nil || v < 0 || len(name) > 4 {
		if d.n == 0 {
			d.before = name
		}
		return d
	}
	if d.n == 0 {
		if len(name) != 4 || v < 1970 || v > 2200 {
			d.before = name
			return d
		}
	} else if len(name) > 2 || !inRange(d.n, v) {
		return d
	}
	d.parts[d.n] = v
	d.n++
	return d
}

func inRange(part, v int) bool {
	switch part {
	case 1:
		return v >= 1 && v <= 12
	case 2:
		return v >= 1 && v <= 31
	case 3:
		return v <= 23
	default:
		return v <= 59
	}
}

// span returns the times the known parts cover, [lo, hi); zero times when no part is known.
func (d partialDate) span() (lo, hi time.Time) {
	if d.n == 0 {
		return time.Time{}, time.Time{}
	}
	p := d.parts
	for i := d.n; i < 6; i++ {
		p[i] = 0
		if i == 1 || i == 2 {
			p[i] = 1
		}
	}
	lo = time.Date(p[0], time.Month(p[1]), p[2], p[3], p[4], p[5], 0, time.UTC)
	switch d.n {
	case 1:
		hi = lo.AddDate(1, 0, 0)
	case 2:
		hi = lo.AddDate(0, 1, 0)
	case 3:
		hi = lo.AddDate(0, 0, 1)
	case 4:
		hi = lo.Add(time.Hour)
	case 5:
		hi = lo.Add(time.Minute)
	default:
		hi = lo.Add(time.Second)
	}
	return lo, hi
}

// firehoseName matches the time in a Firehose object's name:
// <stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>.
var firehoseName = regexp.MustCompile(`-(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-`)

// isoName matches an ISO 8601 date-time in a name, as Pub/Sub Cloud Storage subscriptions write
// by default (YYYY-MM-DDThh:mm:ssZ, maybe with fractions or an offset).
var isoName = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?`)

// objectTime returns the time an object's key gives: the date-time in its name (Firehose,
// Pub/Sub), or the date of its directories completed by its name (Capture's {s}.avro).
func objectTime(key string, d partialDate) (time.Time, bool) {
	base := path.Base(key)
	if m := firehoseName.FindStringSubmatch(base); m != nil {
		var p [6]int
		for i := range p {
			p[i], _ = strconv.Atoi(m[i+1])
		}
		return time.Date(p[0], time.Month(p[1]), p[2], p[3], p[4], p[5], 0, time.UTC), true
	}
	if m := isoName.FindString(base); m != "" {
		if !strings.ContainsAny(m[19:], "Z+-") {
			m += "Z"
		}
		if t, err := time.Parse(time.RFC3339Nano, m); err == nil {
			return t.UTC(), true
		}
	}
	if d.n == 0 {
		return time.Time{}, false
	}
	d = d.with(strings.TrimSuffix(base, path.Ext(base)))
	lo, _ := d.span()
	return lo, true
}
