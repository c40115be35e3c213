// Package clickstream is a runnable example: clickstream sessions that trigger a product
// recommendation (see README.md). The function itself is eddy.yaml; this package holds the
// deterministic generator of its dataset, events.ndjson, with the scenarios the tests check.
package clickstream

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/eddyhq/eddy/examples/internal/feed"
)

// Start is the event time of the first generated event.
var Start = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// Planted users: each one's story is written by hand so that the tests can assert its decisions.
const (
	// Abandoner browses four pairs of shoes, adds one to the cart and leaves: "recommend" fires for
	// the session and "cart-abandoned" matches. An hour later the same user comes back, browses
	// shoes again and abandons a second cart: a second "recommend" (each session is judged on its
	// own) and a second "cart-abandoned". At 11:40 the user comes back and buys: no decision.
	Abandoner = "u-17"
	// QuickBuyer views, adds to the cart and checks out within four minutes: no decision.
	QuickBuyer = "u-08"
	// SlowBuyer checks out 15 minutes after the cart add: "cart-abandoned" matches (no checkout
	// within 10 minutes), but the session ends in a purchase, so no "recommend".
	SlowBuyer = "u-23"
	// Crawler views a page every two minutes for four hours: its sessions are capped at two hours.
	Crawler = "u-42"
	// Offline is a mobile user whose app replays one view three hours late: the late output.
	Offline = "u-05"
)

var categories = []string{"shoes", "jackets", "electronics", "books", "kitchen", "toys"}

type event struct {
	user     string
	ts       time.Time
	typ      string // view, add_to_cart, checkout
	product  string
	category string
	price    float64
	dwellMS  int
	total    float64
	items    int
}

func (e *event) appendJSON(b []byte) []byte {
	b = fmt.Appendf(b, `{"user":%q,"ts":%d,"type":%q`, e.user, e.ts.UnixMilli(), e.typ)
	switch e.typ {
	case "view":
		b = fmt.Appendf(b, `,"product":%q,"category":%q,"price":%s,"dwell_ms":%d`, e.product, e.category, num(e.price), e.dwellMS)
	case "add_to_cart":
		b = fmt.Appendf(b, `,"product":%q,"category":%q,"price":%s,"qty":1,"cart_price":%s`, e.product, e.category, num(e.price), num(e.price))
	case "checkout":
		b = fmt.Appendf(b, `,"items":%d,"order_total":%s`, e.items, num(e.total))
	}
	return append(b, '}')
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

// gen builds one user's story step by step.
type gen struct {
	r      *rand.Rand
	events []event
}

func (g *gen) product(cat string) (string, float64) {
	n := g.r.IntN(20)
	return fmt.Sprintf("p-%s-%02d", cat, n), float64(10+g.r.IntN(190)) - 0.01
}

func (g *gen) view(user string, t time.Time, cat, product string, price float64) {
	g.events = append(g.events, event{user: user, ts: t, typ: "view", product: product, category: cat, price: price, dwellMS: 2000 + g.r.IntN(60000)})
}

func (g *gen) cart(user string, t time.Time, cat, product string, price float64) {
	g.events = append(g.events, event{user: user, ts: t, typ: "add_to_cart", product: product, category: cat, price: price})
}

func (g *gen) checkout(user string, t time.Time, items int, total float64) {
	g.events = append(g.events, event{user: user, ts: t, typ: "checkout", items: items, total: total})
}

// background writes an ordinary visitor: one to three sessions of random browsing, some with a
// purchase, separated by more than the session gap.
func (g *gen) background(user string, end time.Time) {
	t := Start.Add(time.Duration(g.r.IntN(90)) * time.Minute)
	for s := 0; s < 1+g.r.IntN(3) && t.Before(end); s++ {
		cat := categories[g.r.IntN(len(categories))]
		n := 2 + g.r.IntN(6)
		var inCart []float64
		for i := 0; i < n; i++ {
			if g.r.IntN(4) == 0 { // a glance at another category
				c := categories[g.r.IntN(len(categories))]
				p, price := g.product(c)
				g.view(user, t, c, p, price)
			} else {
				p, price := g.product(cat)
				g.view(user, t, cat, p, price)
				if g.r.IntN(7) == 0 {
					t = t.Add(time.Duration(5+g.r.IntN(40)) * time.Second)
					g.cart(user, t, cat, p, price)
					inCart = append(inCart, price)
				}
			}
			t = t.Add(time.Duration(15+g.r.IntN(200)) * time.Second)
		}
		if len(inCart) > 0 && g.r.IntN(4) > 0 {
			var total float64
			for _, p := range inCart {
				total += p
			}
			g.checkout(user, t, len(inCart), total)
		}
		t = t.Add(time.Duration(40+g.r.IntN(80)) * time.Minute)
	}
}

// Generate returns the example's dataset as newline-delimited JSON: users visitors (at least 45,
// so that the planted ones exist) browsing for four hours from Start, in arrival order. Events
// arrive up to 40 seconds out of order (within the spec's out_of_order of 1 minute), one arrives
// three hours late, and two lines are malformed (they go to the dead-letter output). The same seed
// gives the same bytes.
func Generate(seed uint64, users int) []byte {
	users = max(users, 45)
	g := &gen{r: rand.New(rand.NewPCG(seed, 0x636c69636b))}
	end := Start.Add(4 * time.Hour)
	for i := 1; i <= users; i++ {
		u := fmt.Sprintf("u-%02d", i)
		switch u {
		case Abandoner, QuickBuyer, SlowBuyer, Crawler:
			continue
		}
		g.background(u, end)
	}

	// u-17: four pairs of shoes, twice the first, a glance at jackets, a cart add, gone.
	t := Start.Add(20 * time.Minute)
	for i, p := range []string{"p-shoes-03", "p-shoes-11", "p-shoes-03", "p-jackets-07", "p-shoes-14", "p-shoes-19"} {
		cat := "shoes"
		if i == 3 {
			cat = "jackets"
		}
		g.view(Abandoner, t, cat, p, 89.99)
		t = t.Add(70 * time.Second)
	}
	g.cart(Abandoner, t, "shoes", "p-shoes-14", 119.99)
	// (The second abandoned session, at 10:30, is written after the crawler's events below.)
	// ...and back at 11:40 to buy them.
	t = Start.Add(2*time.Hour + 40*time.Minute)
	g.view(Abandoner, t, "shoes", "p-shoes-14", 119.99)
	g.checkout(Abandoner, t.Add(90*time.Second), 1, 119.99)

	// u-08: decided buyer.
	t = Start.Add(35 * time.Minute)
	g.view(QuickBuyer, t, "books", "p-books-02", 24.5)
	g.view(QuickBuyer, t.Add(50*time.Second), "books", "p-books-05", 31.0)
	g.cart(QuickBuyer, t.Add(80*time.Second), "books", "p-books-05", 31.0)
	g.checkout(QuickBuyer, t.Add(4*time.Minute), 1, 31.0)

	// u-23: hesitates 15 minutes, then buys.
	t = Start.Add(50 * time.Minute)
	for i, p := range []string{"p-electronics-01", "p-electronics-04", "p-electronics-09", "p-electronics-04"} {
		g.view(SlowBuyer, t.Add(time.Duration(i)*time.Minute), "electronics", p, 499.0)
	}
	g.cart(SlowBuyer, t.Add(5*time.Minute), "electronics", "p-electronics-04", 499.0)
	g.checkout(SlowBuyer, t.Add(20*time.Minute), 1, 499.0)

	// u-42: a view every two minutes from 9:00 to 13:00, never buying.
	for t := Start; t.Before(end); t = t.Add(2 * time.Minute) {
		p, price := g.product("kitchen")
		g.view(Crawler, t, "kitchen", p, price)
	}

	// u-17's second visit, from 10:30: shoes again, a cart add, gone again. It is written last and
	// with fixed dwell times so that it takes no random draws before the other visitors' (their
	// events are the same with or without it).
	t = Start.Add(90 * time.Minute)
	for i, p := range []string{"p-shoes-14", "p-shoes-19", "p-shoes-07", "p-shoes-14"} {
		g.events = append(g.events, event{user: Abandoner, ts: t, typ: "view", product: p, category: "shoes",
			price: 119.99, dwellMS: 24000 + 3000*i})
		t = t.Add(2 * time.Minute)
	}
	g.cart(Abandoner, t, "shoes", "p-shoes-19", 119.99)

	// Arrival order: event time plus up to 40 s of delivery jitter.
	arr := make([]feed.Arrival[event], len(g.events))
	for i, e := range g.events {
		arr[i] = feed.Arrival[event]{At: e.ts.Add(time.Duration(g.r.IntN(40_000)) * time.Millisecond), Item: e}
	}
	feed.Sort(arr)

	var b bytes.Buffer
	late := event{user: Offline, ts: Start.Add(25 * time.Minute), typ: "view", product: "p-toys-08", category: "toys", price: 19.99, dwellMS: 4100}
	for i, a := range arr {
		b.Write(a.Item.appendJSON(nil))
		b.WriteByte('\n')
		switch i {
		case len(arr) / 3:
			// A client bug: a truncated line.
			fmt.Fprintf(&b, `{"user":"u-31","ts":%d,"type":"view","product":"p-book`+"\n", a.Item.ts.UnixMilli())
		case 2 * len(arr) / 3:
			// An event without its time.
			b.WriteString(`{"user":"u-12","type":"view","product":"p-toys-01","category":"toys","price":9.99,"dwell_ms":1200}` + "\n")
		case 3 * len(arr) / 4:
			// Offline's view from 9:25, replayed by its app hours later.
			b.Write(late.appendJSON(nil))
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// Seed and Users are the parameters events.ndjson was generated with.
const (
	Seed  = 17
	Users = 60
)
