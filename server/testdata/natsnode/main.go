// Command natsnode is one NATS server with JetStream for the cluster tests,
// run as its own process so that a test can kill it as a machine dies
// (SIGKILL: no goodbye to its cluster, no leadership handed over).
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

func main() {
	name := flag.String("name", "", "server name")
	port := flag.Int("port", 0, "client port on 127.0.0.1")
	clusterPort := flag.Int("cluster-port", 0, "route port on 127.0.0.1")
	routes := flag.String("routes", "", "comma-separated route URLs")
	dir := flag.String("store", "", "JetStream store directory")
	flag.Parse()
	ns, err := natsserver.NewServer(&natsserver.Options{
		ServerName: *name, Host: "127.0.0.1", Port: *port,
		JetStream: true, StoreDir: *dir, NoSigs: true, NoLog: true,
		Cluster: natsserver.ClusterOpts{Name: "talkrelay-test", Host: "127.0.0.1", Port: *clusterPort},
		Routes:  natsserver.RoutesFromStr(strings.Join(strings.Split(*routes, ","), ",")),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "natsnode:", err)
		os.Exit(1)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		fmt.Fprintln(os.Stderr, "natsnode: not ready")
		os.Exit(1)
	}
	select {} // until killed
}
