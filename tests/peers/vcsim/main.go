// vcsim for rvirt's ESX tests: govmomi's vSphere simulator (the library Debian packages as
// golang-github-vmware-govmomi-dev 0.24) behind a small command line. Debian ships no vcsim
// binary, so build.sh compiles this file in GOPATH mode, offline.
//
// It prints one line, "vcsim URL PID", once the simulator answers, and runs until SIGTERM.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"path"
	"strings"
	"syscall"

	"github.com/vmware/govmomi/simulator"
)

func main() {
	listen := flag.String("l", "127.0.0.1:0", "listen address; tests keep it on loopback")
	esx := flag.Bool("esx", false, "a standalone ESX host instead of a vCenter")
	plain := flag.Bool("http", false, "serve plain HTTP instead of HTTPS")
	user := flag.String("username", "", "the only user accepted (empty: any)")
	password := flag.String("password", "", "that user's password")
	machines := flag.Int("vm", 2, "virtual machines per host or resource pool")
	flag.Parse()

	model := simulator.VPX()
	if *esx {
		model = simulator.ESX()
	}
	model.Machine = *machines
	if err := model.Create(); err != nil {
		log.Fatal(err)
	}
	endpoint := &url.URL{Host: *listen}
	if *user != "" {
		endpoint.User = url.UserPassword(*user, *password)
	}
	model.Service.Listen = endpoint
	if !*plain {
		model.Service.TLS = new(tls.Config)
	}
	server := model.Service.NewServer()
	// Set before the URL is printed, so before any client can send a request.
	server.Config.Handler = withHostFiles(server.Config.Handler)
	fmt.Printf("vcsim %s %d\n", server.URL, os.Getpid())
	os.Stdout.Sync()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	server.Close()
	model.Remove()
}

// withHostFiles plays the part of ESX's hostd that govmomi's simulator leaves out: a VMX file
// uploaded through the datastore's /folder URL gets the NVRAM file and vmware.log an ESX host
// keeps beside it. vcsim's RegisterVM_Task opens those two files and fails without them; a
// real host makes them itself.
func withHostFiles(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The datastore handler rewrites the request's path: keep it.
		uploaded := r.URL.Path
		sibling := r.Clone(r.Context())
		next.ServeHTTP(w, r)
		if (r.Method != http.MethodPut && r.Method != http.MethodPost) ||
			!strings.HasPrefix(uploaded, "/folder/") || path.Ext(uploaded) != ".vmx" {
			return
		}
		dir := path.Dir(uploaded)
		base := strings.TrimSuffix(path.Base(uploaded), ".vmx")
		for _, name := range []string{base + ".nvram", "vmware.log"} {
			sibling := sibling.Clone(r.Context())
			sibling.Method = http.MethodPut
			sibling.URL.Path = path.Join(dir, name)
			sibling.Body = http.NoBody
			next.ServeHTTP(httptest.NewRecorder(), sibling)
		}
	})
}
