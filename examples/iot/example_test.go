package iot_test

import (
	"bytes"
	"fmt"

	"github.com/eddyhq/eddy/examples/iot"
)

// The generators are deterministic: the same seed gives the same dataset, byte for byte.
func ExampleGenerateMeters() {
	data := iot.GenerateMeters(iot.DefaultSeed)
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	fmt.Println(len(lines), "lines; the first:")
	fmt.Println(string(lines[0]))
	fmt.Println(bytes.Equal(data, iot.GenerateMeters(iot.DefaultSeed)))
	// Output:
	// 1602 lines; the first:
	// {"meter":"meter-001","ts":"2026-11-25T00:00:00Z","w":331,"wh":17}
	// true
}

func ExampleGenerateMachines() {
	data := iot.GenerateMachines(iot.DefaultSeed)
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	fmt.Println(len(lines), "lines; the first:")
	fmt.Println(string(lines[0]))
	// Output:
	// 2162 lines; the first:
	// {"machine":"press-01","ts":1795593600000,"temp":65,"vibration":1.5,"rpm":1486}
}
