// Package fraud is a runnable example: login and payment fraud signals per account (see
// README.md). The function itself is eddy.yaml; this package holds the deterministic generator of
// its dataset, events.ndjson, with the scenarios the tests check.
package fraud

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/eddyhq/eddy/examples/internal/feed"
)

// Start is the beginning of the generated day (event time); events span ten hours from it.
var Start = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)

// Seed and Accounts are the parameters events.ndjson was generated with.
const (
	Seed     = 3
	Accounts = 60
)

// Planted accounts.
const (
	// BruteForced gets nine failed logins from five IPs in four minutes at 09:10, then a success:
	// brute-force and too-many-ips.
	BruteForced = "a-3"
	// Forgetful mistypes the password three times before logging in: nothing.
	Forgetful = "a-12"
	// Teleported logs in from Lisbon at 11:00 and from Singapore at 11:40: impossible-travel.
	Teleported = "a-7"
	// Traveller logs in from Berlin at 08:30 and from New York at 17:45, after a flight:
	// nothing.
	Traveller = "a-11"
	// CardTested gets twelve charges under 2.00 at eight merchants between 13:00 and 13:10:
	// card-testing.
	CardTested = "a-21"
	// Hopper logs in from four countries through a VPN within 20 minutes at 15:00:
	// too-many-countries (and impossible-travel: the exits are far apart in no time).
	Hopper = "a-30"
	// Offline's payment of 09:30 reaches the stream an hour late: the late output.
	Offline = "a-44"
)

type city struct {
	country  string
	lat, lon float64
}

var cities = map[string]city{
	"berlin":    {"DE", 52.52, 13.40},
	"munich":    {"DE", 48.14, 11.58},
	"paris":     {"FR", 48.86, 2.35},
	"lyon":      {"FR", 45.76, 4.84},
	"madrid":    {"ES", 40.42, -3.70},
	"lisbon":    {"PT", 38.72, -9.14},
	"amsterdam": {"NL", 52.37, 4.90},
	"brussels":  {"BE", 50.85, 4.35},
	"london":    {"GB", 51.51, -0.13},
	"newyork":   {"US", 40.71, -74.01},
	"chicago":   {"US", 41.88, -87.63},
	"singapore": {"SG", 1.35, 103.82},
}

var homes = []string{"berlin", "munich", "paris", "lyon", "madrid", "lisbon", "amsterdam", "london", "newyork", "chicago"}

type event struct {
	account  string
	ts       time.Time
	typ      string // login, payment
	failed   int
	ip       string
	city     string
	amount   float64
	merchant string
}

func (e *event) appendJSON(b []byte) []byte {
	b = fmt.Appendf(b, `{"account":%q,"ts":%d,"type":%q`, e.account, e.ts.Unix(), e.typ)
	switch e.typ {
	case "login":
		c := cities[e.city]
		b = fmt.Appendf(b, `,"failed":%d,"ip":%q,"country":%q,"lat":%s,"lon":%s`, e.failed, e.ip, c.country,
			strconv.FormatFloat(c.lat, 'f', 2, 64), strconv.FormatFloat(c.lon, 'f', 2, 64))
	case "payment":
		b = fmt.Appendf(b, `,"amount":%s,"merchant":%q`, strconv.FormatFloat(e.amount, 'f', 2, 64), e.merchant)
	}
	return append(b, '}')
}

type gen struct {
	r      *rand.Rand
	events []event
}

func (g *gen) login(acct string, t time.Time, failed int, ip, city string) {
	g.events = append(g.events, event{account: acct, ts: t, typ: "login", failed: failed, ip: ip, city: city})
}

func (g *gen) pay(acct string, t time.Time, amount float64, merchant string) {
	g.events = append(g.events, event{account: acct, ts: t, typ: "payment", amount: amount, merchant: merchant})
}

func (g *gen) ip(prefix int) string {
	return fmt.Sprintf("%d.%d.%d.%d", prefix, g.r.IntN(256), g.r.IntN(256), 1+g.r.IntN(254))
}

// background writes an ordinary account's day: a few logins from a home and a mobile IP in its home
// city, now and then a mistyped password, and ordinary payments.
func (g *gen) background(acct string) {
	home := homes[g.r.IntN(len(homes))]
	ips := []string{g.ip(80 + g.r.IntN(10)), g.ip(100 + g.r.IntN(10))}
	t := Start.Add(time.Duration(g.r.IntN(120)) * time.Minute)
	for n := 2 + g.r.IntN(4); n > 0 && t.Before(Start.Add(10*time.Hour)); n-- {
		ip := ips[g.r.IntN(len(ips))]
		if g.r.IntN(6) == 0 {
			g.login(acct, t, 1, ip, home)
			t = t.Add(time.Duration(10+g.r.IntN(30)) * time.Second)
		}
		g.login(acct, t, 0, ip, home)
		for p := g.r.IntN(3); p > 0; p-- {
			t = t.Add(time.Duration(1+g.r.IntN(20)) * time.Minute)
			g.pay(acct, t, float64(500+g.r.IntN(25000))/100, fmt.Sprintf("m-%03d", g.r.IntN(200)))
		}
		t = t.Add(time.Duration(60+g.r.IntN(120)) * time.Minute)
	}
}

// Generate returns the example's dataset as newline-delimited JSON: accounts accounts (at least
// 45, so that the planted ones exist) over ten hours from Start, in arrival order. Events arrive
// up to 8 seconds out of order (within the spec's out_of_order of 10 seconds), one arrives an hour
// late (the late output), and two lines are malformed (the dead-letter output). The same seed gives
// the same bytes.
func Generate(seed uint64, accounts int) []byte {
	accounts = max(accounts, 45)
	g := &gen{r: rand.New(rand.NewPCG(seed, 0x6672617564))}
	for i := 1; i <= accounts; i++ {
		a := fmt.Sprintf("a-%d", i)
		switch a {
		case BruteForced, Forgetful, Teleported, Traveller, CardTested, Hopper:
			continue
		}
		g.background(a)
	}

	// a-3: the owner logs in at 08:40; at 09:10 a botnet tries nine wrong passwords from five IPs,
	// and the tenth attempt gets in.
	g.login(BruteForced, Start.Add(40*time.Minute), 0, "81.12.40.7", "berlin")
	bots := []string{"185.220.101.4", "185.220.101.9", "45.155.205.17", "193.35.18.44", "91.240.118.2"}
	t := Start.Add(70 * time.Minute)
	for i := 0; i < 9; i++ {
		g.login(BruteForced, t, 1, bots[i%len(bots)], "amsterdam")
		t = t.Add(25 * time.Second)
	}
	g.login(BruteForced, t, 0, bots[2], "amsterdam")

	// a-12: three typos, then in.
	t = Start.Add(2 * time.Hour)
	for i := 0; i < 3; i++ {
		g.login(Forgetful, t, 1, "88.4.1.20", "madrid")
		t = t.Add(20 * time.Second)
	}
	g.login(Forgetful, t, 0, "88.4.1.20", "madrid")
	g.pay(Forgetful, t.Add(5*time.Minute), 42.5, "m-017")

	// a-7: Lisbon at 11:00, Singapore at 11:40 (11,900 km in 40 minutes).
	g.login(Teleported, Start.Add(3*time.Hour), 0, "85.240.3.9", "lisbon")
	g.pay(Teleported, Start.Add(3*time.Hour+10*time.Minute), 18.9, "m-042")
	g.login(Teleported, Start.Add(3*time.Hour+40*time.Minute), 0, "103.252.1.77", "singapore")

	// a-11: Berlin in the morning, New York in the afternoon (6,400 km in 9 h 15 min: a flight).
	g.login(Traveller, Start.Add(30*time.Minute), 0, "91.64.2.18", "berlin")
	g.pay(Traveller, Start.Add(55*time.Minute), 12.4, "m-101")
	g.login(Traveller, Start.Add(9*time.Hour+45*time.Minute), 0, "72.229.8.30", "newyork")

	// a-21: twelve test charges at eight merchants, then the card is drained.
	t = Start.Add(5 * time.Hour)
	g.login(CardTested, t.Add(-20*time.Minute), 0, "82.1.9.14", "london")
	for i := 0; i < 12; i++ {
		g.pay(CardTested, t, float64(50+g.r.IntN(149))/100, fmt.Sprintf("m-9%02d", i%8))
		t = t.Add(time.Duration(30+g.r.IntN(30)) * time.Second)
	}
	g.pay(CardTested, t.Add(2*time.Minute), 1899.0, "m-500")

	// a-30: four VPN exits in 20 minutes.
	t = Start.Add(7 * time.Hour)
	for _, c := range []string{"paris", "brussels", "amsterdam", "munich"} {
		g.login(Hopper, t, 0, g.ip(154), c)
		t = t.Add(6*time.Minute + 40*time.Second)
	}

	// Arrival order: event time plus up to 8 s of delivery jitter.
	arr := make([]feed.Arrival[event], len(g.events))
	for i, e := range g.events {
		arr[i] = feed.Arrival[event]{At: e.ts.Add(time.Duration(g.r.IntN(8000)) * time.Millisecond), Item: e}
	}
	feed.Sort(arr)

	var b bytes.Buffer
	lateAt := Start.Add(90 * time.Minute)
	late := event{account: Offline, ts: lateAt, typ: "payment", amount: 61.2, merchant: "m-077"}
	written := false
	for i, a := range arr {
		if !written && a.At.After(lateAt.Add(time.Hour)) {
			// Offline's payment of 09:30, stuck in a terminal's queue for an hour.
			b.Write(late.appendJSON(nil))
			b.WriteByte('\n')
			written = true
		}
		b.Write(a.Item.appendJSON(nil))
		b.WriteByte('\n')
		switch i {
		case len(arr) / 3:
			// A truncated line.
			b.WriteString(`{"account":"a-40","ts":` + strconv.FormatInt(a.Item.ts.Unix(), 10) + `,"type":"login","fai` + "\n")
		case 2 * len(arr) / 3:
			// A time that is not a number of seconds.
			b.WriteString(`{"account":"a-41","ts":"yesterday","type":"payment","amount":20.00,"merchant":"m-003"}` + "\n")
		}
	}
	return b.Bytes()
}
