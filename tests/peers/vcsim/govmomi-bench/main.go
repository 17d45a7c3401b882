// The govc side of `./x.sh bench esx`: what govc does for `govc find -type m` (one
// property collector call over a container view: names, UUIDs, power states) and for
// `govc vm.info NAME` (govmomi's finder: the default datacenter, the machine by its
// inventory name; then the machine's config, summary and runtime), timed with govmomi, the
// library govc is built on. Debian packages the library but not govc itself, so these are
// the same calls through the same code, without govc's process start and session restore
// around them (which a govc invocation adds).
//
// Usage: govmomi-bench -u https://user:pass@127.0.0.1:PORT/sdk -n ROUNDS -vm NAME
// Prints one line per operation: "NAME median_ms".
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/url"
	"sort"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
)

func median(samples []time.Duration) float64 {
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	return float64(samples[len(samples)/2].Microseconds()) / 1000
}

func main() {
	endpoint := flag.String("u", "", "the SDK URL with user and password")
	rounds := flag.Int("n", 200, "rounds per operation")
	machine := flag.String("vm", "", "the machine vm.info reads")
	flag.Parse()
	ctx := context.Background()
	u, err := url.Parse(*endpoint)
	if err != nil {
		log.Fatal(err)
	}
	client, err := govmomi.NewClient(ctx, u, true)
	if err != nil {
		log.Fatal(err)
	}
	manager := view.NewManager(client.Client)
	machines, err := manager.CreateContainerView(ctx, client.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		log.Fatal(err)
	}

	list := make([]time.Duration, 0, *rounds)
	var found []mo.VirtualMachine
	for i := 0; i < *rounds; i++ {
		start := time.Now()
		found = nil
		if err := machines.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name", "config.uuid", "runtime.powerState"}, &found); err != nil {
			log.Fatal(err)
		}
		list = append(list, time.Since(start))
	}
	fmt.Printf("list-all %.3f\n", median(list))

	info := make([]time.Duration, 0, *rounds)
	for i := 0; i < *rounds; i++ {
		start := time.Now()
		// vm.info: govc's finder finds the machine by name, then its properties are read.
		finder := find.NewFinder(client.Client, true)
		datacenter, err := finder.DefaultDatacenter(ctx)
		if err != nil {
			log.Fatal(err)
		}
		finder.SetDatacenter(datacenter)
		found, err := finder.VirtualMachine(ctx, *machine)
		if err != nil {
			log.Fatal(err)
		}
		var vm mo.VirtualMachine
		if err := client.RetrieveOne(ctx, found.Reference(), []string{"config", "summary", "runtime"}, &vm); err != nil {
			log.Fatal(err)
		}
		info = append(info, time.Since(start))
	}
	fmt.Printf("dumpxml %.3f\n", median(info))
}
