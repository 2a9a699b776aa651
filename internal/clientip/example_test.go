package clientip_test

import (
	"fmt"
	"net/netip"

	"github.com/hookd/hookd/internal/clientip"
)

func ExampleResolve() {
	trusted, err := clientip.ParseTrusted("10.0.0.0/8")
	if err != nil {
		panic(err)
	}
	proxy := netip.MustParseAddr("10.0.0.2")
	// The client wrote the first entry itself; the proxy appended the
	// address it saw.
	fmt.Println(clientip.Resolve(proxy, []string{"203.0.113.7, 198.51.100.9"}, trusted))
	// The same header from a peer that is not a proxy is not believed.
	fmt.Println(clientip.Resolve(netip.MustParseAddr("192.0.2.1"), []string{"203.0.113.7"}, trusted))
	// Output:
	// 198.51.100.9
	// 192.0.2.1
}
