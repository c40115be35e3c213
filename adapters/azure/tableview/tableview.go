// Package tableview is a view store driver on Azure Table storage. Importing it registers the
// scheme "azuretable" with view.DefaultURLMux:
//
//	azuretable://TABLE                  credentials from the environment (below)
//	azuretable://TABLE?create=true      create the table if it is missing
//
// With AZURE_STORAGE_CONNECTION_STRING set (as Functions apps have it, or Azurite's development
// string) the driver uses it; otherwise it uses AZURE_STORAGE_ACCOUNT with the default Azure
// credential chain (managed identity, az login) against https://ACCOUNT.table.core.windows.net/.
//
// A view is one partition (PartitionKey "function|view|"), a row one entity (RowKey "k" and the
// escaped key). Writes are conditional on the entity's ETag (If-Match), creates fail on an existing
// entity. Azure Table has no batched read, and its batch transactions are all-or-nothing, so a
// batch's reads and writes go out as one request per row, concurrently (at most 32 at a time):
// one round trip of latency, O(keys touched) requests. The row's JSON is split over string
// properties d0, d1, ... of 30,000 bytes (a property holds at most 64 KiB; an entity 1 MiB).
package tableview

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"

	"github.com/eddyhq/eddy/core/view"
	"github.com/eddyhq/eddy/core/view/driver"
)

func init() {
	view.DefaultURLMux().Register("azuretable", view.URLOpenerFunc(func(ctx context.Context, u *url.URL) (driver.Store, error) {
		table := u.Host
		if table == "" {
			return nil, errors.New("azuretable URL names no table: want azuretable://TABLE")
		}
		var (
			svc *aztables.ServiceClient
			err error
		)
		if cs := os.Getenv("AZURE_STORAGE_CONNECTION_STRING"); cs != "" {
			svc, err = aztables.NewServiceClientFromConnectionString(cs, nil)
		} else if acct := os.Getenv("AZURE_STORAGE_ACCOUNT"); acct != "" {
			cred, cerr := azidentity.NewDefaultAzureCredential(nil)
			if cerr != nil {
				return nil, cerr
			}
			svc, err = aztables.NewServiceClient("https://"+acct+".table.core.windows.net/", cred, nil)
		} else {
			return nil, errors.New("azuretable: set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT with an Azure identity")
		}
		if err != nil {
			return nil, err
		}
		c := svc.NewClient(table)
		if u.Query().Get("create") == "true" {
			if err := CreateTable(ctx, c); err != nil {
				return nil, err
			}
		}
		return New(c), nil
	}))
}

// CreateTable creates the client's table unless it exists.
func CreateTable(ctx context.Context, c *aztables.Client) error {
	_, err := c.CreateTable(ctx, nil)
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusConflict {
		return nil
	}
	return err
}

// Driver stores view rows as table entities.
type Driver struct {
	c *aztables.Client
}

// New returns a driver on the table client c.
func New(c *aztables.Client) *Driver { return &Driver{c: c} }

const (
	chunk       = 30000
	parallelism = 32
)

func partitionKey(prefix string) string { return strings.ReplaceAll(prefix, "/", "|") }

// keys splits a row id into the entity's keys. A row id is the prefix (up to the second '/')
// and a path-escaped key, which holds no character Azure refuses in keys.
func keys(id string) (pk, rk, prefix string) {
	n := 0
	for i := 0; i < len(id); i++ {
		if id[i] == '/' {
			if n++; n == 2 {
				return partitionKey(id[:i+1]), "k" + id[i+1:], id[:i+1]
			}
		}
	}
	return partitionKey(id), "k", id
}

func status(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// each runs fn for 0..n-1 with bounded concurrency and returns the first error.
func each(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, parallelism)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(ctx, i); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	return first
}

// decode reads a row from an entity's JSON.
func decode(id, prefix string, raw []byte, etag string) (driver.Row, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return driver.Row{}, fmt.Errorf("tableview: entity %s: %w", id, err)
	}
	if etag == "" {
		etag, _ = m["odata.etag"].(string)
	}
	r := driver.Row{ID: id, Prefix: prefix, Rev: etag}
	n, _ := m["n"].(float64)
	var b strings.Builder
	for i := range int(n) {
		s, _ := m["d"+strconv.Itoa(i)].(string)
		b.WriteString(s)
	}
	r.Data = []byte(b.String())
	if s, ok := m["expires"].(string); ok { // Edm.Int64 travels as a string
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			r.Expires = time.Unix(v, 0)
		}
	}
	return r, nil
}

func encode(r *driver.Row) ([]byte, error) {
	pk, rk, _ := keys(r.ID)
	m := map[string]any{"PartitionKey": pk, "RowKey": rk}
	data := string(r.Data)
	n := 0
	for ; len(data) > 0; n++ {
		end := min(chunk, len(data))
		// Keep UTF-8 sequences whole: back up to a rune start.
		for end < len(data) && end > 0 && data[end]&0xC0 == 0x80 {
			end--
		}
		m["d"+strconv.Itoa(n)] = data[:end]
		data = data[end:]
	}
	m["n"] = n
	if !r.Expires.IsZero() {
		m["expires"] = strconv.FormatInt(r.Expires.Unix(), 10)
		m["expires@odata.type"] = "Edm.Int64"
	}
	return json.Marshal(m)
}

// GetMany implements driver.Store.
func (d *Driver) GetMany(ctx context.Context, ids []string) ([]driver.Row, error) {
	out := make([]driver.Row, len(ids))
	err := each(ctx, len(ids), func(ctx context.Context, i int) error {
		pk, rk, prefix := keys(ids[i])
		resp, err := d.c.GetEntity(ctx, pk, rk, nil)
		if status(err) == http.StatusNotFound {
			out[i] = driver.Row{ID: ids[i], Prefix: prefix}
			return nil
		}
		if err != nil {
			return err
		}
		out[i], err = decode(ids[i], prefix, resp.Value, string(resp.ETag))
		return err
	})
	return out, err
}

// PutMany implements driver.Store: AddEntity for new rows, a replacing UpdateEntity with If-Match
// for stored ones.
func (d *Driver) PutMany(ctx context.Context, rows []driver.Row) ([]int, error) {
	lost := make([]bool, len(rows))
	err := each(ctx, len(rows), func(ctx context.Context, i int) error {
		body, err := encode(&rows[i])
		if err != nil {
			return err
		}
		var rev azcore.ETag
		if rows[i].Rev == "" {
			var resp aztables.AddEntityResponse
			resp, err = d.c.AddEntity(ctx, body, nil)
			rev = resp.ETag
		} else {
			etag := azcore.ETag(rows[i].Rev)
			var resp aztables.UpdateEntityResponse
			resp, err = d.c.UpdateEntity(ctx, body, &aztables.UpdateEntityOptions{IfMatch: &etag, UpdateMode: aztables.UpdateModeReplace})
			rev = resp.ETag
		}
		if err == nil {
			rows[i].Rev = string(rev)
			return nil
		}
		switch status(err) {
		case http.StatusConflict, http.StatusPreconditionFailed, http.StatusNotFound:
			lost[i] = true
			return nil
		}
		if err != nil {
			return fmt.Errorf("tableview: write %s: %w", rows[i].ID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []int
	for i, l := range lost {
		if l {
			out = append(out, i)
		}
	}
	return out, nil
}

// Scan implements driver.Store with a query on the view's partition.
func (d *Driver) Scan(ctx context.Context, prefix string, fn func(driver.Row) error) error {
	filter := "PartitionKey eq '" + strings.ReplaceAll(partitionKey(prefix), "'", "''") + "'"
	p := d.c.NewListEntitiesPager(&aztables.ListEntitiesOptions{Filter: &filter})
	for p.More() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, e := range page.Entities {
			var k struct{ RowKey string }
			if err := json.Unmarshal(e, &k); err != nil {
				return err
			}
			r, err := decode(prefix+strings.TrimPrefix(k.RowKey, "k"), prefix, e, "")
			if err != nil {
				return err
			}
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close implements driver.Store.
func (d *Driver) Close() error { return nil }
