// Command blobserve serves a file of JSON lines as a Firehose archive from the blob stand-ins, each
// in a process of its own (so that the CPU a replay from them costs is eddy's alone, and the
// stand-in's is measured apart): S3 through gofakes3 and fake-gcs-server in this process, Azurite
// (tools/standins, started by it) in another. It writes the objects (PER lines each, under
// w/YYYY/MM/DD/HH/, gzip or plain), prints the environment and the --input URLs, one a line, and
// serves until interrupted:
//
//	go run ./examples/bench/blobserve -in /tmp/w1-2m.ndjson -per 20000 -gzip=true > /tmp/blob.env
//	. /tmp/blob.env   # AWS_*, STORAGE_EMULATOR_HOST, AZURE_STORAGE_CONNECTION_STRING, S3=, GCS=, AZ=
//	eddy replay --spec examples/bench/w1.yaml --input "$S3" --output /dev/null
//
// The pids line names the processes serving each, for reading their CPU time from /proc.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/s3blob"

	"github.com/eddyhq/eddy/examples/bench"
)

const (
	azAccount = "devstoreaccount1"
	azKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

func main() {
	in := flag.String("in", "", "JSON lines to serve")
	per := flag.Int("per", 20000, "lines per object")
	gz := flag.Bool("gzip", true, "gzip the objects")
	azurite := flag.String("azurite", "tools/standins/node_modules/.bin/azurite-blob", "Azurite's blob service (empty: no Azurite)")
	flag.Parse()
	if err := run(*in, *per, *gz, *azurite); err != nil {
		log.Fatal(err)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func run(in string, per int, gz bool, azurite string) error {
	ctx := context.Background()
	data, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	objs := objects(data, per, gz)
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "us-east-1"}
	urls := map[string]string{}

	backend := s3mem.New()
	if err := backend.CreateBucket("archive"); err != nil {
		return err
	}
	s3port, err := freePort()
	if err != nil {
		return err
	}
	s3l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", s3port))
	if err != nil {
		return err
	}
	go http.Serve(s3l, gofakes3.New(backend).Server())
	urls["S3"] = fmt.Sprintf("s3://archive/w/?endpoint=http://127.0.0.1:%d&use_path_style=true&disable_https=true&region=us-east-1", s3port)

	port, err := freePort()
	if err != nil {
		return err
	}
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1", Port: uint16(port),
		PublicHost: fmt.Sprintf("127.0.0.1:%d", port)})
	if err != nil {
		return err
	}
	defer gcs.Stop()
	gcs.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "archive"})
	env["STORAGE_EMULATOR_HOST"] = fmt.Sprintf("127.0.0.1:%d", port)
	urls["GCS"] = "gs://archive/w/"

	azPid := 0
	if azurite != "" {
		port, err := freePort()
		if err != nil {
			return err
		}
		bin, err := filepath.Abs(azurite)
		if err != nil {
			return err
		}
		cmd := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port),
			"--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck")
		cmd.Dir, _ = os.MkdirTemp("", "blobserve")
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("azurite: %w", err)
		}
		defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		azPid = cmd.Process.Pid
		ep := fmt.Sprintf("http://127.0.0.1:%d/%s", port, azAccount)
		for i := 0; ; i++ {
			if resp, err := http.Get(ep + "?comp=list"); err == nil {
				resp.Body.Close()
				break
			}
			if i > 600 {
				return fmt.Errorf("azurite not ready at %s", ep)
			}
			time.Sleep(100 * time.Millisecond)
		}
		conn := "DefaultEndpointsProtocol=http;AccountName=" + azAccount + ";AccountKey=" + azKey + ";BlobEndpoint=" + ep + ";"
		c, err := azblob.NewClientFromConnectionString(conn, nil)
		if err != nil {
			return err
		}
		if _, err := c.CreateContainer(ctx, "archive", nil); err != nil {
			return err
		}
		env["AZURE_STORAGE_CONNECTION_STRING"] = conn
		urls["AZ"] = "azblob://archive/w/?localemu=true"
	}
	for k, v := range env {
		os.Setenv(k, v)
	}
	for name, u := range urls {
		b, err := blob.OpenBucket(ctx, u)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for _, o := range objs {
			if err := b.WriteAll(ctx, o.key, o.data, nil); err != nil {
				return fmt.Errorf("%s: put %s: %w", name, o.key, err)
			}
		}
		b.Close()
	}
	w := bufio.NewWriter(os.Stdout)
	for k, v := range env {
		fmt.Fprintf(w, "export %s=%q\n", k, v)
	}
	for k, v := range urls {
		fmt.Fprintf(w, "%s=%q\n", k, v)
	}
	fmt.Fprintf(w, "BLOBSERVE_PID=%d\nAZURITE_PID=%d\n", os.Getpid(), azPid)
	w.Flush()
	fmt.Fprintf(os.Stderr, "blobserve: %d objects from %s, serving until interrupted\n", len(objs), filepath.Base(in))
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	return nil
}

type object struct {
	key  string
	data []byte
}

// objects lays lines out as Firehose does: under YYYY/MM/DD/HH/, named
// <stream>-<version>-<time>-<uuid>, PER lines each.
func objects(data []byte, per int, gz bool) []object {
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	start := time.UnixMilli(bench.Start).UTC()
	var objs []object
	for i := 0; i*per < len(lines); i++ {
		part := bytes.Join(lines[i*per:min((i+1)*per, len(lines))], nil)
		at := start.Add(time.Duration(i) * time.Minute)
		key := fmt.Sprintf("w/%s/eddy-w-1-%s-%08x-0000-4000-8000-000000000000", at.Format("2006/01/02/15"), at.Format("2006-01-02-15-04-05"), i)
		if gz {
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			zw.Write(part)
			zw.Close()
			part, key = z.Bytes(), key+".gz"
		}
		objs = append(objs, object{key, part})
	}
	return objs
}
