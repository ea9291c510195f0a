package api

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

const clientAddrKey = "clavis.client"

// parseProxies reads TrustedProxies: addresses or CIDR prefixes.
func parseProxies(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, p := range list {
		p = strings.TrimSpace(p)
		if pfx, err := netip.ParsePrefix(p); err == nil {
			out = append(out, pfx.Masked())
			continue
		}
		a, err := netip.ParseAddr(p)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: want an IP address or a CIDR prefix", p)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddress works out the client's address once per request. Each
// trusted proxy appends the address it received from to X-Forwarded-For,
// so only the right end of the list is vouched for: walk it from the right
// past our own proxies and take the first address that is not one of them.
// Entries further left were written by the client and prove nothing.
func (s *Server) clientAddress(c *fiber.Ctx) error {
	addr, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	addr = addr.Unmap()
	if len(s.proxies) > 0 && s.trusted(addr) {
		var hops []string
		for _, h := range c.Request().Header.PeekAll(fiber.HeaderXForwardedFor) {
			hops = append(hops, strings.Split(string(h), ",")...)
		}
		for i := len(hops) - 1; i >= 0; i-- {
			hop, err := parseHop(hops[i])
			if err != nil {
				break // unreadable: the last proxy we trust is all we know
			}
			addr = hop
			if !s.trusted(hop) {
				break
			}
		}
	}
	c.Locals(clientAddrKey, addr.String())
	return c.Next()
}

// parseHop reads one X-Forwarded-For entry: an address, perhaps with a port.
func parseHop(h string) (netip.Addr, error) {
	h = strings.TrimSpace(h)
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().Unmap(), nil
	}
	a, err := netip.ParseAddr(strings.Trim(h, "[]"))
	return a.Unmap(), err
}

// ClientIP is the request's client address: the peer, or behind trusted
// proxies the address the nearest untrusted hop connected from. Use it, not
// c.IP(), for per-address limits.
func ClientIP(c *fiber.Ctx) string {
	if a, ok := c.Locals(clientAddrKey).(string); ok {
		return a
	}
	return c.IP()
}
