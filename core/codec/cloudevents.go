package codec

import (
	"encoding/base64"
	"strings"
	"time"

	"github.com/eddyhq/eddy/core"
)

// cePrefixes are the forms of a CloudEvents attribute in transport attributes, best first: HTTP
// headers, Kafka headers, AMQP application properties (and their underscore variant), bare names.
var cePrefixes = [...]string{"ce-", "ce_", "cloudEvents:", "cloudEvents_", ""}

// ceName splits a transport attribute name into its CloudEvents prefix rank and attribute name.
func ceName(k string) (int, string) {
	for rank, p := range cePrefixes[:len(cePrefixes)-1] {
		if len(k) > len(p) && strings.EqualFold(k[:len(p)], p) {
			return rank, k[len(p):]
		}
	}
	return len(cePrefixes) - 1, k
}

// ceHit is the best transport attribute found for a CloudEvents attribute: the best-ranked prefix,
// then the smallest name, so the choice does not depend on map order.
type ceHit struct {
	val, key string
	rank     int
	found    bool
}

func (h *ceHit) offer(rank int, k, v string) {
	if !h.found || rank < h.rank || (rank == h.rank && k < h.key) {
		*h = ceHit{val: v, key: k, rank: rank, found: true}
	}
}

// binaryAttrs collects, in one pass over attrs, the CloudEvents attributes the decoder needs: the
// four required ones, datacontenttype (or Content-Type) and those of $ce paths. It reports whether
// the record is a binary-mode CloudEvent (it has a specversion attribute).
func (d *Decoder) binaryAttrs(attrs map[string]string) bool {
	hits := d.ceHits[:0]
	for range len(ceRequired) + 2 + len(d.c.ce) {
		hits = append(hits, ceHit{})
	}
	d.ceHits = hits
	for k, v := range attrs {
		rank, n := ceName(k)
		for j, name := range ceRequired {
			if strings.EqualFold(n, name) {
				hits[j].offer(rank, k, v)
			}
		}
		if strings.EqualFold(n, "datacontenttype") {
			hits[len(ceRequired)].offer(rank, k, v)
		}
		if strings.EqualFold(k, "content-type") {
			hits[len(ceRequired)+1].offer(0, k, v)
		}
		for j, cs := range d.c.ce {
			if strings.EqualFold(n, cs.name) {
				hits[len(ceRequired)+2+j].offer(rank, k, v)
			}
		}
	}
	return hits[0].found
}

// jsonType tells whether a content type is JSON (application/json, text/json, anything+json).
func jsonType(ct string) bool {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	return strings.EqualFold(ct, "application/json") || strings.EqualFold(ct, "text/json") ||
		(len(ct) >= 5 && strings.EqualFold(ct[len(ct)-5:], "+json"))
}

var ceRequired = [...]string{"specversion", "id", "source", "type"}

func (d *Decoder) decodeCloudEvent(rec *core.Record) *core.Failure {
	if len(rec.Attrs) > 0 && d.binaryAttrs(rec.Attrs) {
		return d.decodeBinaryCE(rec)
	}
	return d.decodeStructuredCE(rec)
}

func (d *Decoder) decodeBinaryCE(rec *core.Record) *core.Failure {
	hits := d.ceHits
	for j, name := range ceRequired[1:] {
		if h := hits[j+1]; !h.found || h.val == "" {
			return &core.Failure{Record: *rec, Field: "$ce." + name, Reason: "missing CloudEvents attribute", Err: ErrMissing}
		}
	}
	ct := hits[len(ceRequired)]
	if !ct.found {
		ct = hits[len(ceRequired)+1]
	}
	for j, cs := range d.c.ce {
		h := hits[len(ceRequired)+2+j]
		if !h.found && cs.name == "datacontenttype" {
			h = ct
		}
		if h.found {
			d.set(cs.node, core.Value{Kind: core.String, Str: h.val})
		}
	}
	if d.c.root == nil || (ct.val != "" && !jsonType(ct.val)) {
		return nil
	}
	return d.scanData(rec, rec.Data, "payload")
}

// scanData decodes CloudEvent data (any JSON value; empty means no data).
func (d *Decoder) scanData(rec *core.Record, b []byte, what string) *core.Failure {
	i := skipWS(b, 0)
	if i == len(b) {
		return nil
	}
	if i = d.dataValue(b, i, 0); i >= 0 {
		if i = skipWS(b, i); i < len(b) {
			i = d.unexpected(b, i)
		}
	}
	if i < 0 {
		return d.scanFailure(rec, what)
	}
	return nil
}

func (d *Decoder) dataValue(b []byte, i, depth int) int {
	switch b[i] {
	case '{':
		return d.scanObject(b, i, d.c.root, depth)
	case '[':
		return d.scanArray(b, i, d.c.root, depth)
	}
	return d.skipValue(b, i, depth)
}

func (d *Decoder) decodeStructuredCE(rec *core.Record) *core.Failure {
	b := rec.Data
	i := skipWS(b, 0)
	if i >= len(b) {
		return d.payloadFailure(rec, "payload: empty")
	}
	if b[i] != '{' {
		return d.payloadFailure(rec, "payload: not a CloudEvent (no specversion attribute, and not a JSON object)")
	}
	var (
		seen          [len(ceRequired)]bool
		hasData       bool
		hasB64, hasCT bool
	)
	var (
		b64 = d.b64[:0]
		ct  = d.ct[:0]
	)
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			if i >= len(b) || b[i] != '"' {
				i = d.unexpected(b, i)
				break
			}
			end, fl := d.scanString(b, i)
			if end < 0 {
				i = -1
				break
			}
			name := text(b[i+1:end-1], fl, &d.name)
			i = skipWS(b, end)
			if i >= len(b) || b[i] != ':' {
				i = d.unexpected(b, i)
				break
			}
			i = skipWS(b, i+1)
			if i >= len(b) {
				i = d.unexpected(b, i)
				break
			}
			switch string(name) {
			case "data":
				if d.c.root != nil {
					if hasData {
						for _, k := range d.c.root.sub {
							d.fields[k] = core.Value{}
						}
					}
					i = d.dataValue(b, i, 1)
				} else {
					i = d.skipValue(b, i, 1)
				}
				hasData = true
			case "data_base64":
				if b[i] != '"' {
					if i = d.skipValue(b, i, 1); i >= 0 {
						return &core.Failure{Record: *rec, Field: "data_base64", Reason: "not a string", Err: ErrType}
					}
					break
				}
				var sfl uint8
				if end, sfl = d.scanString(b, i); end >= 0 {
					b64 = append(b64[:0], text(b[i+1:end-1], sfl, &d.str)...)
					hasB64 = true
				}
				i = end
			default:
				isCT := false
				switch string(name) {
				case "specversion":
					seen[0] = true
				case "id":
					seen[1] = true
				case "source":
					seen[2] = true
				case "type":
					seen[3] = true
				case "datacontenttype":
					isCT = true
				}
				var cs *node
				for _, s := range d.c.ce {
					if string(name) == s.name {
						cs = s.node
						break
					}
				}
				start := i
				if cs != nil {
					i = d.leaf(b, i, cs, 1)
				} else {
					i = d.skipValue(b, i, 1)
				}
				if isCT && i >= 0 && b[start] == '"' {
					var cfl uint8
					_, cfl = d.scanString(b, start)
					ct = append(ct[:0], text(b[start+1:i-1], cfl, &d.str)...)
					hasCT = true
				}
			}
			if i < 0 {
				break
			}
			i = skipWS(b, i)
			if i < len(b) && b[i] == ',' {
				i = skipWS(b, i+1)
				continue
			}
			if i < len(b) && b[i] == '}' {
				i++
				break
			}
			i = d.unexpected(b, i)
			break
		}
	}
	if i >= 0 {
		if i = skipWS(b, i); i < len(b) {
			i = d.unexpected(b, i)
		}
	}
	d.b64, d.ct = b64, ct
	if i < 0 {
		return d.scanFailure(rec, "payload")
	}
	if !seen[0] {
		return d.payloadFailure(rec, `payload: not a CloudEvent (no "specversion")`)
	}
	for k, name := range ceRequired[1:] {
		if !seen[k+1] {
			return &core.Failure{Record: *rec, Field: "$ce." + name, Reason: "missing CloudEvents attribute", Err: ErrMissing}
		}
	}
	if hasData && hasB64 {
		return d.payloadFailure(rec, `payload: CloudEvent has both "data" and "data_base64"`)
	}
	if !hasB64 || d.c.root == nil || (hasCT && len(ct) > 0 && !jsonType(string(ct))) {
		return nil
	}
	// The decoded data gets its own buffer: Object values in Fields point into it after Decode.
	enc := base64.StdEncoding
	if len(b64)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	data := make([]byte, enc.DecodedLen(len(b64)))
	n, err := enc.Decode(data, b64)
	if err != nil {
		return &core.Failure{Record: *rec, Field: "data_base64", Reason: "invalid base64: " + err.Error(), Err: ErrType}
	}
	return d.scanData(rec, data[:n], "data_base64")
}

// AppendCloudEvent appends out as a structured-mode CloudEvent (JSON format, specversion 1.0):
// type "dev.eddy.<out.Type()>", the given source, subject = the output's key, time = the decision
// time, the window end or the late event's time, data = out's JSON. The id is core.OutputID(out), the
// output's deterministic id, so a replay writes the same ids.
func AppendCloudEvent(b []byte, out core.Output, source string) []byte {
	data := out.AppendJSON(nil)
	id := core.OutputID(out)
	var subject string
	var t time.Time
	switch o := out.(type) {
	case *core.Decision:
		subject, t = o.Key, o.Time
	case *core.WindowResult:
		subject, t = o.Key, o.End
	case *core.Late:
		subject, t = o.Key, o.Time
	}
	b = append(b, `{"specversion":"1.0","id":`...)
	b = core.AppendString(b, id)
	b = append(b, `,"source":`...)
	b = core.AppendString(b, source)
	b = append(b, `,"type":`...)
	b = core.AppendString(b, "dev.eddy."+out.Type())
	if subject != "" {
		b = append(b, `,"subject":`...)
		b = core.AppendString(b, subject)
	}
	if !t.IsZero() {
		b = append(b, `,"time":`...)
		b = core.AppendTime(b, t)
	}
	b = append(b, `,"datacontenttype":"application/json","data":`...)
	b = append(b, data...)
	return append(b, '}')
}
